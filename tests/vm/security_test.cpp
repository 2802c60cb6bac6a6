// Security properties of the device: who may open it and change its state,
// that no byte reaches a reader unless a writer put it there and no call
// writes past what it returns, that counts near SSIZE_MAX and iovec totals
// past it neither overflow nor lose data, and that out-of-range module
// parameters are refused.
#include "vm_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <liburing.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufAccess : public CircbufTest {};
class CircbufPrivacy : public CircbufTest {};
class CircbufHugeCount : public CircbufTest {};

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// The effective capability set of this process (CapEff in /proc), or ~0 if
// it cannot be read.
uint64_t effective_caps()
{
	std::ifstream status("/proc/self/status");
	std::string line;
	while (std::getline(status, line))
		if (line.starts_with("CapEff:"))
			return std::stoull(line.substr(7), nullptr, 16);
	return ~uint64_t{0};
}

// Runs @fn in a child process that has dropped to nobody:nogroup with no
// supplementary groups and no capabilities. @fn returns "" on success or
// what went wrong; so does this, adding how the child ended if it did not
// report. The suite is single-threaded between tests, so the child may
// allocate.
std::string as_nobody(const std::function<std::string()> &fn)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return std::string("pipe2: ") + std::strerror(errno);
	Fd rd(p[0]), wr(p[1]);
	pid_t pid = fork();
	if (pid < 0)
		return std::string("fork: ") + std::strerror(errno);
	if (pid == 0) {
		std::string msg;
		if (setgroups(0, nullptr) != 0 || setgid(kNogroup) != 0 || setuid(kNobody) != 0)
			msg = std::string("dropping privileges: ") + std::strerror(errno);
		else if (geteuid() != kNobody || getegid() != kNogroup)
			msg = "still privileged after setuid";
		else if (effective_caps() != 0)
			msg = "capabilities left after setuid";
		else
			msg = fn();
		msg = "R" + msg; // "R": the child reported
		(void)!write(wr.get(), msg.data(), msg.size());
		_exit(0);
	}
	wr.reset();
	std::string out;
	char buf[512];
	for (;;) {
		ssize_t n = read(rd.get(), buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out.append(buf, n);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (out.empty() || out[0] != 'R')
		return "the unprivileged child died without reporting (status " + std::to_string(status) + ")";
	return out.substr(1);
}

// open(2) of the device, the errno or 0; closes what it opened.
int open_errno(int flags)
{
	Fd fd = open_device(flags);
	return fd.ok() ? 0 : errno;
}

std::string errstr(int e)
{
	return e ? strerrorname_np(e) : "success";
}

// ---------------------------------------------------------------------------
// Access control.

// The default node mode (0600, root-owned) shuts out every other user, for
// every access mode.
// CIRCBUF_SET_CAPACITY needs CAP_SYS_ADMIN, even on a file opened by root:
// a file passed to an unprivileged process must not let it resize.
TEST_F(CircbufAccess, SetCapacityWithoutCapSysAdminIsEperm)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	EXPECT_EQ(as_nobody([&]() -> std::string {
			  uint64_t cap = 2 * capacity_;
			  if (ioctl(rw.get(), CIRCBUF_SET_CAPACITY, &cap) == 0)
				  return "an unprivileged resize succeeded";
			  return errno == EPERM ? "" : std::string("errno ") + strerrorname_np(errno);
		  }),
		  "");
	EXPECT_EQ(get_stats(rw.get()).capacity, capacity_);
}

// The control node's ioctls need CAP_SYS_ADMIN, even on a file opened by
// root: without it nothing is added or removed.
TEST_F(CircbufAccess, ControlWithoutCapSysAdminIsEperm)
{
	Fd ctl(open("/dev/" CIRCBUF_CONTROL_NAME, O_RDWR | O_CLOEXEC));
	ASSERT_TRUE(ctl.ok()) << std::strerror(errno);
	EXPECT_EQ(as_nobody([&]() -> std::string {
			  // Not its ioctl: ENOTTY for everyone, as for root.
			  circbuf_stats st;
			  if (ioctl(ctl.get(), CIRCBUF_GET_STATS, &st) == 0 || errno != ENOTTY)
				  return std::string("GET_STATS on the control node: errno ") + strerrorname_np(errno);
			  circbuf_ctl_add req{};
			  if (ioctl(ctl.get(), CIRCBUF_CTL_ADD, &req) >= 0)
				  return "an unprivileged add succeeded";
			  if (errno != EPERM)
				  return std::string("add: errno ") + strerrorname_np(errno);
			  if (ioctl(ctl.get(), CIRCBUF_CTL_REMOVE, 0ul) == 0)
				  return "an unprivileged remove succeeded";
			  return errno == EPERM ? "" : std::string("remove: errno ") + strerrorname_np(errno);
		  }),
		  "");
	EXPECT_EQ(access("/dev/circbuf1", F_OK), -1) << "a ring was added";
	EXPECT_EQ(access(kDevice, F_OK), 0) << "ring 0 was removed";
}

TEST_F(CircbufAccess, DefaultModeRefusesUnprivilegedOpenWithEacces)
{
	if (!default_mode())
		return;
	EXPECT_EQ(as_nobody([] {
			  std::string msg;
			  for (int flags : {O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_NONBLOCK})
				  if (int e = open_errno(flags); e != EACCES)
					  msg += "open(" + std::to_string(flags) + ") as nobody: " + errstr(e) +
						 ", expected EACCES; ";
			  return msg;
		  }),
		  "");
}

// mode=0666 lets anyone in: write, read back, and read the stats.
TEST_F(CircbufAccess, Mode0666LetsUnprivilegedWriteReadAndGetStats)
{
	if (!need_capacity(3) || !reload({{"mode", "0666"}}))
		return;
	EXPECT_EQ(as_nobody([] {
			  Fd fd = open_device(O_RDWR | O_NONBLOCK);
			  if (!fd.ok())
				  return "open O_RDWR as nobody: " + errstr(errno);
			  if (sys_write(fd.get(), "abc", 3) != ok(3))
				  return std::string("write as nobody failed");
			  circbuf_stats st{};
			  if (ioctl(fd.get(), CIRCBUF_GET_STATS, &st) != 0)
				  return "CIRCBUF_GET_STATS as nobody: " + errstr(errno);
			  if (st.used != 3)
				  return "stats used " + std::to_string(st.used) + ", expected 3";
			  int n = -1;
			  if (ioctl(fd.get(), FIONREAD, &n) != 0 || n != 3)
				  return "FIONREAD as nobody: " + errstr(errno) + ", " + std::to_string(n);
			  char back[3];
			  if (sys_read(fd.get(), back, 3) != ok(3) || std::memcmp(back, "abc", 3) != 0)
				  return std::string("read back as nobody failed");
			  return std::string();
		  }),
		  "");
}

// The mode's bits apply as for any file: 0644 lets others read only.
TEST_F(CircbufAccess, Mode0644LetsUnprivilegedOpenForReadingOnly)
{
	if (!reload({{"mode", "0644"}}))
		return;
	EXPECT_EQ(as_nobody([] {
			  std::string msg;
			  if (int e = open_errno(O_RDONLY | O_NONBLOCK); e != 0)
				  msg += "O_RDONLY: " + errstr(e) + ", expected success; ";
			  if (int e = open_errno(O_WRONLY); e != EACCES)
				  msg += "O_WRONLY: " + errstr(e) + ", expected EACCES; ";
			  if (int e = open_errno(O_RDWR); e != EACCES)
				  msg += "O_RDWR: " + errstr(e) + ", expected EACCES; ";
			  return msg;
		  }),
		  "");
}

// The device has no privileged ioctl: nothing an opener can ask changes
// state. Everything but the two read-only commands is ENOTTY, for an
// unprivileged opener too.
TEST_F(CircbufAccess, UnprivilegedUnknownIoctlsFailWithEnotty)
{
	if (!reload({{"mode", "0666"}}))
		return;
	EXPECT_EQ(as_nobody([] {
			  Fd fd = open_device(O_RDONLY | O_NONBLOCK);
			  if (!fd.ok())
				  return "open as nobody: " + errstr(errno);
			  std::string msg;
			  const unsigned long cmds[] = {
				  _IO(CIRCBUF_IOC_MAGIC, 0), _IOW(CIRCBUF_IOC_MAGIC, 1, circbuf_stats),
				  // SET_CAPACITY's number with the wrong size, and the next free one.
				  _IOW(CIRCBUF_IOC_MAGIC, 2, __u32), _IOW(CIRCBUF_IOC_MAGIC, 4, __u64),
				  _IOWR(CIRCBUF_IOC_MAGIC, 3, circbuf_stats),
				  _IO(CIRCBUF_IOC_MAGIC, 0xff), 0xdeadbeefUL,
			  };
			  std::vector<uint8_t> arg(1 << 14);
			  for (unsigned long c : cmds) {
				  errno = 0;
				  long r = syscall(SYS_ioctl, fd.get(), c, arg.data());
				  if (r != -1 || errno != ENOTTY)
					  msg += "ioctl " + std::to_string(c) + ": " + (r ? errstr(errno) : "success") +
						 ", expected ENOTTY; ";
			  }
			  return msg;
		  }),
		  "");
}

// Every setting that can change after load (the writable module parameters,
// any writable attribute of the device) is root's alone: no file under the
// module's or the device's sysfs directory is writable by group or others,
// and an unprivileged process cannot open the writable ones for writing.
TEST_F(CircbufAccess, WritableSettingsAreRootOnly)
{
	std::vector<std::string> writable;
	std::string loose;
	std::function<void(const std::string &, int)> walk = [&](const std::string &dir, int depth) {
		DIR *d = opendir(dir.c_str());
		if (!d)
			return;
		while (dirent *e = readdir(d)) {
			std::string name = e->d_name;
			if (name == "." || name == "..")
				continue;
			std::string path = dir + "/" + name;
			struct stat st;
			if (lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode))
				continue;
			if (S_ISDIR(st.st_mode)) {
				if (depth < 3)
					walk(path, depth + 1);
				continue;
			}
			if (st.st_mode & 0022)
				loose += path + " (mode " + std::to_string(st.st_mode & 07777) + "); ";
			if (st.st_mode & 0200)
				writable.push_back(path);
		}
		closedir(d);
	};
	walk(kSysModule, 0);
	walk("/sys/class/misc/circbuf", 0);
	EXPECT_EQ(loose, "") << "files writable by group or others";
	ASSERT_FALSE(writable.empty()) << "expected the writable parameters (dma_threshold, dma_timeout_ms)";
	EXPECT_EQ(as_nobody([&] {
			  std::string msg;
			  for (const auto &p : writable) {
				  Fd fd(open(p.c_str(), O_WRONLY | O_CLOEXEC));
				  if (fd.ok() || (errno != EACCES && errno != EPERM))
					  msg += p + ": " + (fd.ok() ? "opened" : errstr(errno)) + " for writing; ";
			  }
			  return msg;
		  }),
		  "");
}

// ---------------------------------------------------------------------------
// No byte is read that was not written, and no call writes past its result.

// Fills a buffer with 0xAA, reads into it, and checks the result: exactly
// @want, then 0xAA to the end.
void expect_read_exactly(int fd, const std::vector<uint8_t> &want, size_t bufsize)
{
	std::vector<uint8_t> buf(bufsize, 0xAA);
	Io r = sys_read(fd, buf.data(), buf.size());
	ASSERT_EQ(r, ok(want.size()));
	EXPECT_TRUE(same_bytes(std::vector<uint8_t>(buf.begin(), buf.begin() + want.size()), want));
	auto stray = std::find_if(buf.begin() + want.size(), buf.end(), [](uint8_t b) { return b != 0xAA; });
	EXPECT_EQ(stray, buf.end()) << "byte " << (stray - buf.begin()) << " past the " << want.size()
				    << " bytes read was overwritten";
}

// A freshly allocated ring hands out only what was written into it.
TEST_F(CircbufPrivacy, FreshRingReadsBackOnlyTheWrittenBytes)
{
	if (!reload({}))
		return;
	if (!need_capacity(5))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "hello", 5), ok(5));
	expect_read_exactly(rw.get(), {'h', 'e', 'l', 'l', 'o'}, std::min<uint64_t>(capacity_, 1 << 20) + 4096);
}

// Once data has gone round the ring, the stale bytes behind the new ones
// stay hidden: a large read returns only the new bytes.
TEST_F(CircbufPrivacy, OldDataIsNeverReadAgain)
{
	if (!need_capacity(8))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const uint64_t n = std::min<uint64_t>(capacity_, 1 << 20);
	const std::vector<uint8_t> old = pattern(0, n, 11);
	ASSERT_EQ(sys_write(rw.get(), old.data(), n), ok(n));
	std::vector<uint8_t> sink(n);
	ASSERT_EQ(sys_read(rw.get(), sink.data(), n), ok(n));
	const std::vector<uint8_t> fresh = pattern(0, 7, 12);
	ASSERT_EQ(sys_write(rw.get(), fresh.data(), fresh.size()), ok(7));
	expect_read_exactly(rw.get(), fresh, n + 4096);
}

// readv fills its buffers in order and leaves everything after the data.
TEST_F(CircbufPrivacy, ReadvLeavesBuffersPastTheDataUntouched)
{
	if (!need_capacity(10))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "0123456789", 10), ok(10));
	std::vector<uint8_t> a(4, 0xAA), b(8, 0xAA), c(64, 0xAA);
	iovec v[] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
	ASSERT_EQ(readv(rw.get(), v, 3), 10);
	EXPECT_EQ(std::string(a.begin(), a.end()), "0123");
	EXPECT_EQ(std::string(b.begin(), b.begin() + 6), "456789");
	EXPECT_EQ(std::count(b.begin() + 6, b.end(), 0xAA), 2);
	EXPECT_EQ(std::count(c.begin(), c.end(), 0xAA), 64);
}

// CIRCBUF_GET_STATS writes sizeof(struct circbuf_stats) bytes, with no
// stale kernel bytes in them (no padding), and nothing beyond.
TEST_F(CircbufPrivacy, StatsIoctlWritesExactlyTheStructureWithNoStaleBytes)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	std::vector<uint8_t> buf(2 * sizeof(circbuf_stats), 0xAA);
	ASSERT_EQ(ioctl(r.get(), CIRCBUF_GET_STATS, buf.data()), 0) << std::strerror(errno);
	EXPECT_EQ(std::count(buf.begin() + sizeof(circbuf_stats), buf.end(), 0xAA), long(sizeof(circbuf_stats)))
		<< "the ioctl wrote past the structure";
	circbuf_stats st;
	std::memcpy(&st, buf.data(), sizeof(st));
	EXPECT_EQ(st.flags & ~CIRCBUF_STATS_NO_DMA, 0u);
	EXPECT_EQ(st.capacity, capacity_);
	// No field kept the fill pattern: every byte was written.
	const uint64_t aa = 0xAAAAAAAAAAAAAAAAull;
	const uint64_t *words = reinterpret_cast<const uint64_t *>(buf.data());
	for (size_t i = 0; i < sizeof(circbuf_stats) / 8; i++)
		EXPECT_NE(words[i], aa) << "8-byte word " << i << " was not written";
}

// FIONREAD stores an int and nothing more.
TEST_F(CircbufPrivacy, FionreadWritesExactlyAnInt)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	uint8_t buf[16];
	std::memset(buf, 0xAA, sizeof(buf));
	ASSERT_EQ(ioctl(r.get(), FIONREAD, buf), 0) << std::strerror(errno);
	EXPECT_EQ(std::count(buf + sizeof(int), buf + sizeof(buf), 0xAA), long(sizeof(buf) - sizeof(int)));
	int n;
	std::memcpy(&n, buf, sizeof(n));
	EXPECT_EQ(n, 0);
}

// IORING_OP_URING_CMD's stats: the same size, nothing beyond, no stale bytes.
TEST_F(CircbufPrivacy, UringCmdStatsWriteExactlyTheStructure)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	io_uring ring;
	ASSERT_EQ(io_uring_queue_init(4, &ring, 0), 0);
	std::vector<uint8_t> buf(2 * sizeof(circbuf_stats), 0xAA);
	io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, r.get(), nullptr, 0, 0);
	sqe->cmd_op = CIRCBUF_GET_STATS;
	const circbuf_uring_cmd cmd = {reinterpret_cast<uintptr_t>(buf.data()), 0};
	std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
	ASSERT_EQ(io_uring_submit(&ring), 1);
	io_uring_cqe *cqe = nullptr;
	ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
	EXPECT_EQ(cqe->res, 0) << std::strerror(-cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	EXPECT_EQ(std::count(buf.begin() + sizeof(circbuf_stats), buf.end(), 0xAA), long(sizeof(circbuf_stats)));
	circbuf_stats st;
	std::memcpy(&st, buf.data(), sizeof(st));
	EXPECT_EQ(st.flags & ~CIRCBUF_STATS_NO_DMA, 0u);
	EXPECT_EQ(st.capacity, capacity_);
}

// ---------------------------------------------------------------------------
// Huge counts: the VFS clamps to MAX_RW_COUNT (INT_MAX rounded down to a
// page) or refuses, and the device never overflows or loses data.

// A readable and writable mapping of @n bytes followed by a PROT_NONE page.
class Guarded {
public:
	explicit Guarded(size_t n) : page_(sysconf(_SC_PAGESIZE))
	{
		size_ = (n + page_ - 1) / page_ * page_;
		void *p = mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		base_ = static_cast<uint8_t *>(p);
		if (mprotect(base_ + size_, page_, PROT_NONE) != 0) {
			munmap(base_, size_ + page_);
			base_ = nullptr;
		}
	}
	Guarded(const Guarded &) = delete;
	Guarded &operator=(const Guarded &) = delete;
	~Guarded()
	{
		if (base_)
			munmap(base_, size_ + page_);
	}
	bool ok() const { return base_ != nullptr; }
	// The @n bytes that end exactly at the guard page.
	uint8_t *last(size_t n) const { return base_ + size_ - n; }

private:
	size_t page_, size_ = 0;
	uint8_t *base_ = nullptr;
};

constexpr size_t kTwoGib = size_t{1} << 31;  // above MAX_RW_COUNT

class CircbufHugeCountData : public CircbufHugeCount {
protected:
	// An O_RDWR | O_NONBLOCK file holding the 10 bytes "0123456789".
	bool setup()
	{
		if (!need_capacity(64))
			return false;
		rw_ = open_device(O_RDWR | O_NONBLOCK);
		EXPECT_TRUE(rw_.ok()) << std::strerror(errno);
		if (!rw_.ok())
			return false;
		EXPECT_EQ(sys_write(rw_.get(), "0123456789", 10), ok(10));
		return !HasFailure();
	}
	void expect_data_kept()
	{
		EXPECT_EQ(get_stats(rw_.get()).used, 10u) << "the failed call consumed or stored bytes";
		char back[16];
		EXPECT_EQ(sys_read(rw_.get(), back, sizeof(back)), ok(10));
		EXPECT_EQ(std::string(back, 10), "0123456789");
	}
	void TearDown() override
	{
		rw_.reset();
		CircbufHugeCount::TearDown();
	}
	Fd rw_;
};

TEST_F(CircbufHugeCountData, ReadWithCountSsizeMaxFailsAndKeepsData)
{
	if (!setup())
		return;
	char buf[64];
	Io r = sys_read(rw_.get(), buf, SSIZE_MAX);
	EXPECT_TRUE(r == err(EFAULT) || r == err(EINVAL)) << testing::PrintToString(r);
	expect_data_kept();
}

TEST_F(CircbufHugeCountData, WriteWithCountAboveSsizeMaxFailsAndStoresNothing)
{
	if (!setup())
		return;
	char buf[64] = {};
	for (size_t n : {size_t{SSIZE_MAX}, size_t{SSIZE_MAX} + 1, SIZE_MAX}) {
		Io r = sys_write(rw_.get(), buf, n);
		EXPECT_TRUE(r == err(EFAULT) || r == err(EINVAL)) << n << ": " << testing::PrintToString(r);
	}
	expect_data_kept();
}

// 2 GiB passes access_ok and is clamped to MAX_RW_COUNT: the read returns
// what is buffered, into a buffer that ends in a guard page.
TEST_F(CircbufHugeCountData, ReadOfTwoGibIntoAGuardedBufferReturnsWhatIsBuffered)
{
	if (!setup())
		return;
	Guarded g(4096);
	ASSERT_TRUE(g.ok());
	EXPECT_EQ(sys_read(rw_.get(), g.last(16), kTwoGib), ok(10));
	EXPECT_EQ(std::string(reinterpret_cast<char *>(g.last(16)), 10), "0123456789");
	EXPECT_EQ(get_stats(rw_.get()).used, 0u);
}

// A 2 GiB write from a buffer whose last readable byte is N bytes on
// stores exactly those N bytes (the ring has room for more) and says so.
TEST_F(CircbufHugeCount, WriteOfTwoGibFromAGuardedBufferStoresTheReadableBytes)
{
	if (!need_capacity(64))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	Guarded g(4096);
	ASSERT_TRUE(g.ok());
	const std::vector<uint8_t> data = pattern(0, 40, 5);
	std::memcpy(g.last(40), data.data(), 40);
	EXPECT_EQ(sys_write(rw.get(), g.last(40), kTwoGib), ok(40));
	EXPECT_EQ(get_stats(rw.get()).used, 40u);
	std::vector<uint8_t> back(64);
	ASSERT_EQ(sys_read(rw.get(), back.data(), back.size()), ok(40));
	back.resize(40);
	EXPECT_TRUE(same_bytes(back, data));
}

// An iovec length above SSIZE_MAX is EINVAL, and no byte moves.
TEST_F(CircbufHugeCountData, ReadvWithALengthAboveSsizeMaxFailsWithEinvalAndKeepsData)
{
	if (!setup())
		return;
	char a[8], b[8];
	iovec v[] = {{a, sizeof(a)}, {b, size_t{SSIZE_MAX} + 1}};
	errno = 0;
	EXPECT_EQ(readv(rw_.get(), v, 2), -1);
	EXPECT_EQ(errno, EINVAL) << std::strerror(errno);
	expect_data_kept();
}

TEST_F(CircbufHugeCountData, WritevWithALengthAboveSsizeMaxFailsWithEinvalAndStoresNothing)
{
	if (!setup())
		return;
	char a[8] = {}, b[8] = {};
	iovec v[] = {{a, sizeof(a)}, {b, SIZE_MAX}};
	errno = 0;
	EXPECT_EQ(writev(rw_.get(), v, 2), -1);
	EXPECT_EQ(errno, EINVAL) << std::strerror(errno);
	expect_data_kept();
}

// Two lengths of SSIZE_MAX: a total past SSIZE_MAX is refused (EFAULT from
// access_ok, or EINVAL) and no byte moves.
TEST_F(CircbufHugeCountData, ReadvWhoseTotalExceedsSsizeMaxFailsAndKeepsData)
{
	if (!setup())
		return;
	char a[8], b[8];
	iovec v[] = {{a, SSIZE_MAX}, {b, SSIZE_MAX}};
	errno = 0;
	EXPECT_EQ(readv(rw_.get(), v, 2), -1);
	EXPECT_TRUE(errno == EFAULT || errno == EINVAL) << std::strerror(errno);
	expect_data_kept();
}

// 3 GiB of iovecs that access_ok accepts: clamped to MAX_RW_COUNT, and the
// read returns exactly what is buffered, into the first buffer.
TEST_F(CircbufHugeCountData, ReadvOfThreeGibIsClampedAndReturnsWhatIsBuffered)
{
	if (!setup())
		return;
	Guarded g(4096);
	ASSERT_TRUE(g.ok());
	uint8_t *first = g.last(4096);
	const size_t gib = size_t{1} << 30;
	// Only the first 10 bytes are touched; the rest needs only to be user
	// address space for access_ok().
	iovec v[] = {{first, gib}, {first, gib}, {first, gib}};
	EXPECT_EQ(readv(rw_.get(), v, 3), 10) << std::strerror(errno);
	EXPECT_EQ(std::string(reinterpret_cast<char *>(first), 10), "0123456789");
	EXPECT_EQ(get_stats(rw_.get()).used, 0u);
}

// ---------------------------------------------------------------------------
// Module parameters out of range: the load fails, nothing is left behind.

struct BadParam {
	const char *name;
	const char *value;
	std::vector<int> errnos;  // acceptable load errors
};

void PrintTo(const BadParam &p, std::ostream *os)
{
	*os << p.name << "=" << p.value;
}

class CircbufParamRefused : public CircbufTest, public testing::WithParamInterface<BadParam> {};

TEST_P(CircbufParamRefused, LoadFailsAndLeavesNoDevice)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	if (module_loaded()) {
		ASSERT_EQ(unload_module(), 0);
	}
	const BadParam &p = GetParam();
	int e = load_module(format_params(harness_params_with({{p.name, p.value}})));
	EXPECT_NE(std::find(p.errnos.begin(), p.errnos.end(), e), p.errnos.end())
		<< p.name << "=" << p.value << ": " << (e ? strerrorname_np(e) : "loaded");
	if (e == 0)
		unload_module();
	EXPECT_FALSE(module_loaded());
	EXPECT_FALSE(wait_for_path(kDevice, true, 100ms));
}

// Values the module's checks refuse (EINVAL), and values the parameter
// parser refuses (not a number, or not fitting the type: EINVAL or ERANGE).
INSTANTIATE_TEST_SUITE_P(
	Bounds, CircbufParamRefused,
	testing::Values(BadParam{"mode", "01000", {EINVAL}}, BadParam{"mode", "04666", {EINVAL}},
			BadParam{"mode", "0177777", {EINVAL}}, BadParam{"mode", "65536", {EINVAL, ERANGE}},
			BadParam{"mode", "-1", {EINVAL, ERANGE}}, BadParam{"mode", "rw", {EINVAL}},
			BadParam{"buffer_size", "4294967296", {EINVAL, ERANGE}},
			BadParam{"buffer_size", "-1", {EINVAL, ERANGE}},
			BadParam{"segment_size", "2048", {EINVAL}}, BadParam{"segment_size", "12288", {EINVAL}},
			BadParam{"segment_size", "8388608", {EINVAL}}, BadParam{"segment_size", "0", {EINVAL}},
			BadParam{"dma_timeout_ms", "0", {EINVAL}},
			BadParam{"dma_timeout_ms", "600001", {EINVAL}}),
	[](const testing::TestParamInfo<BadParam> &i) {
		std::string s = std::string(i.param.name) + "_" + i.param.value;
		std::replace_if(s.begin(), s.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
		return s;
	});

// The run-time writable dma_timeout_ms keeps its bounds after load too.
TEST_F(CircbufAccess, DmaTimeoutCannotBeSetOutOfRangeAtRunTime)
{
	const char *path = "/sys/module/circbuf/parameters/dma_timeout_ms";
	auto before = read_text_file(path);
	ASSERT_TRUE(before) << path;
	for (const char *v : {"0", "600001", "-5", "junk"}) {
		Fd fd(open(path, O_WRONLY | O_CLOEXEC));
		ASSERT_TRUE(fd.ok()) << path << ": " << std::strerror(errno);
		errno = 0;
		EXPECT_EQ(write(fd.get(), v, std::strlen(v)), -1) << "dma_timeout_ms accepted " << v;
		EXPECT_EQ(errno, EINVAL) << v << ": " << std::strerror(errno);
	}
	EXPECT_EQ(read_text_file(path), before);
}

}  // namespace
}  // namespace circbuf_vm
