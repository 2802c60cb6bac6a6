// circbuf-fuzz: many threads throw random, often invalid, operations at the
// device for a bounded time, check every result for sanity, then check that
// the device still works exactly.
//
// Operations: open/close with every access mode and odd flags, read, write,
// readv, writev, pread, lseek, mmap, splice, ioctl (CIRCBUF_GET_STATS,
// FIONREAD, mis-sized and mis-directed encodings of CIRCBUF_GET_STATS, the
// generic FIO* ioctls, random numbers), poll, ppoll, fcntl (O_NONBLOCK
// toggling), and io_uring READ/WRITE/READV/WRITEV/READ_FIXED/WRITE_FIXED,
// URING_CMD, POLL_ADD, ASYNC_CANCEL and ring teardown with requests in
// flight. Sizes: 0, 1, PIPE_BUF-1..PIPE_BUF+1, capacity-1..capacity+1,
// random, and huge ones (2 GiB, SSIZE_MAX, SIZE_MAX), and iovec arrays up to
// and past IOV_MAX with lengths past SSIZE_MAX. Buffers: valid, unaligned,
// ending in a PROT_NONE guard page, NULL, kernel and non-canonical
// addresses, unmapped low memory, PROT_NONE and PROT_READ pages. A signal
// thread interrupts the workers all the time (handler without SA_RESTART).
//
// Every buffer the kernel may write to lies in the worker's own arena, which
// ends in a guard page, so no count, however large, lets the kernel write
// over the tool's memory: a read stops at the guard. Arenas are never
// unmapped while the process lives (io_uring requests may complete late).
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asm/ioctls.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/pattern.h"
#include "circbuf/record.h"
#include "circbuf/report.h"
#include "circbuf/stats.h"

using namespace circbuf;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char *kTool = "circbuf-fuzz";
constexpr size_t kPipeBuf = 4096;
constexpr size_t kMaxRwCount = INT_MAX & ~size_t{4095}; // the kernel's MAX_RW_COUNT
constexpr int kSignal = SIGUSR1;
constexpr size_t kPrivateFds = 6;	// per worker
constexpr unsigned kRingEntries = 32;
constexpr unsigned kMaxPending = 24;	// io_uring requests per worker
constexpr int kErrSlots = 135;		// 0: success, 1..133: errno, 134: other
// More files than the fuzzer could ever have open (io_uring requests keep
// closed files alive too): readers or writers above it mean an underflow.
constexpr unsigned kMaxFiles = 100000;

// ---------------------------------------------------------------------------
// Operation kinds and what they count.

enum Kind : unsigned {
	kOpen, kClose, kRead, kWrite, kReadv, kWritev, kPread, kLseek, kMmap,
	kSplice, kIoctlStats, kIoctlFionread, kIoctlMisencoded, kIoctlGeneric,
	kIoctlRandom, kPoll, kPpoll, kFcntl, kUringRead, kUringWrite,
	kUringReadv, kUringWritev, kUringReadFixed, kUringWriteFixed, kUringCmd,
	kUringPoll, kUringCancel, kUringTeardown, kKinds
};

constexpr const char *kKindNames[kKinds] = {
	"open", "close", "read", "write", "readv", "writev", "pread", "lseek",
	"mmap", "splice", "ioctl-stats", "ioctl-fionread", "ioctl-misencoded",
	"ioctl-generic", "ioctl-random", "poll", "ppoll", "fcntl", "uring-read",
	"uring-write", "uring-readv", "uring-writev", "uring-read-fixed",
	"uring-write-fixed", "uring-cmd", "uring-poll", "uring-cancel",
	"uring-teardown",
};

// Relative frequencies of the kinds.
constexpr unsigned kWeights[kKinds] = {
	/* open */ 4, /* close */ 3, /* read */ 14, /* write */ 14, /* readv */ 5,
	/* writev */ 5, /* pread */ 1, /* lseek */ 1, /* mmap */ 1, /* splice */ 2,
	/* ioctl-stats */ 4, /* fionread */ 2, /* misencoded */ 2, /* generic */ 2,
	/* random */ 2, /* poll */ 4, /* ppoll */ 2, /* fcntl */ 3,
	/* uring-read */ 5, /* uring-write */ 5, /* uring-readv */ 2,
	/* uring-writev */ 2, /* read-fixed */ 2, /* write-fixed */ 2,
	/* uring-cmd */ 3, /* uring-poll */ 1, /* cancel */ 2, /* teardown */ 1,
};

using Hist = std::array<std::array<std::uint64_t, kErrSlots>, kKinds>;

int err_slot(int e)
{
	return e >= 0 && e < kErrSlots - 1 ? e : kErrSlots - 1;
}

std::string errname(int e)
{
	if (!e)
		return "ok";
	const char *n = strerrorname_np(e);
	return n ? n : strprintf("errno%d", e);
}

// ---------------------------------------------------------------------------
// Options and shared state.

struct Options {
	std::string device = "/dev/circbuf";
	double duration = 10;
	std::uint64_t threads = 4;
	std::string seed_text;
	std::uint64_t max_ops = 0;
	bool no_uring = false;
	bool no_signals = false;
	std::uint64_t signal_us = 2000;
	std::uint64_t max_failures = 20;
};

struct Shared {
	Options opt;
	std::uint64_t seed = 0;
	size_t capacity = 0;
	size_t atomic_max = 0;
	size_t page = 4096;
	// Fixed bad memory: a PROT_NONE page and a PROT_READ page.
	void *prot_none = nullptr;
	void *prot_read = nullptr;
	// Files every worker may use (never closed while workers run).
	struct SharedFd {
		int fd;
		int acc;
	};
	std::vector<SharedFd> shared_fds;
	std::atomic<bool> stop{false};
	std::atomic<std::uint64_t> ops{0};
	std::atomic<std::uint64_t> signals_sent{0};
	std::mutex fail_mu;
	std::atomic<std::uint64_t> nfailures{0};
};

std::atomic<std::uint64_t> g_signals_delivered{0};

void on_signal(int)
{
	g_signals_delivered.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// The worker.

// A file descriptor an operation is aimed at.
struct FdRef {
	int fd = -1;
	int acc = O_RDWR;	// O_RDONLY, O_WRONLY, O_RDWR or 3 (neither)
	bool open = false;	// false: a number that is not an open file
	bool path = false;	// an O_PATH descriptor: no I/O at all
	bool priv = false;	// the worker's own: O_NONBLOCK state known
	bool nonblock = false;
	size_t slot = 0;	// index in the private table

	bool can_read() const { return open && !path && (acc == O_RDONLY || acc == O_RDWR); }
	bool can_write() const { return open && !path && (acc == O_WRONLY || acc == O_RDWR); }
	bool is_device() const { return open && !path; }
};

struct PrivateFd {
	unique_fd fd;
	int acc = O_RDWR;
	bool path = false;
	bool nonblock = false;
};

// A buffer handed to the kernel: how many bytes from p it may write (read
// into it) and read (write from it).
struct Buf {
	void *p = nullptr;
	size_t rw_room = 0;
	size_t ro_room = 0;
	const char *what = "";
};

// An io_uring request in flight.
struct Pending {
	Kind kind;
	FdRef f;
	size_t len = 0;		// bytes asked for (iovec total, clamped)
	size_t room = 0;	// bytes the kernel can reach in the buffer(s)
	bool nowait = false;	// RWF_NOWAIT
	bool odd_flags = false; // rw_flags with unsupported bits
	bool odd_offset = false;
	bool bad_vec = false;	// iovec array itself unreadable or invalid
	bool cancel_aimed = false; // a cancel request may have matched it
	bool nonblock_toggled = false; // its private file's O_NONBLOCK changed since
	bool fd_closed = false;	// its private fd was closed while in flight
	int expect = 0;		// uring-cmd: the one right result
	std::unique_ptr<circbuf_stats> st;
	std::vector<iovec> iov;
};

class Worker {
public:
	Worker(Shared &sh, unsigned id, std::byte *arena, size_t arena_size)
		: sh_(sh), id_(id), arena_(arena), arena_size_(arena_size)
	{
		rng_.state = sh.seed ^ (std::uint64_t(id + 1) * 0x9e3779b97f4a7c15ULL);
		rng_.next();
	}

	void run();
	pid_t tid() const { return tid_.load(); }
	bool done() const { return done_.load(); }
	const Hist &hist() const { return hist_; }
	std::uint64_t ops() const { return ops_; }

private:
	// Helpers.
	std::uint64_t rnd(std::uint64_t n) { return n ? rng_.next() % n : 0; }
	bool chance(unsigned percent) { return rnd(100) < percent; }
	void fail(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	void count(Kind k, int e) { hist_[k][err_slot(e)]++; }
	// Record the outcome of a system call that returns -1/errno.
	bool expect_errno(Kind k, long r, int e, std::initializer_list<int> allowed,
			  const char *what);

	size_t pick_count();
	Buf pick_buf(size_t n);
	FdRef pick_fd();
	FdRef pick_device_fd();
	FdRef pick_fd_for(bool is_read);
	// @monotonic: compare with the worker's previous snapshot (only for
	// snapshots taken in program order: io_uring's complete out of order).
	void check_stats(const circbuf_stats &s, const FdRef &f, const char *via,
			 bool monotonic);

	// Operations.
	void op_open();
	void op_close();
	void op_rw(bool is_read);
	void op_rwv(bool is_read);
	void op_pread();
	void op_lseek();
	void op_mmap();
	void op_splice();
	void op_ioctl_stats();
	void op_ioctl_fionread();
	void op_ioctl_misencoded();
	void op_ioctl_generic();
	void op_ioctl_random();
	void op_poll(bool ppoll_variant);
	void op_fcntl();
	void op_uring(Kind k);
	void op_uring_cmd();
	void op_uring_poll();
	void op_uring_cancel();
	void op_uring_teardown();

	// io_uring plumbing.
	bool ring_up();
	void ring_down(bool cancel_first);
	io_uring_sqe *get_sqe();
	void submit(io_uring_sqe *sqe, Pending p);
	void reap(bool wait);
	void check_cqe(std::uint64_t id, int res);
	// A request in flight meets its file's O_NONBLOCK as it is when the
	// request runs, not as it was at submission: mark those on @fd.
	void nonblock_toggled(int fd)
	{
		for (auto &[id, q] : pending_)
			q.nonblock_toggled |= q.f.priv && q.f.fd == fd;
	}
	std::vector<iovec> make_iov(size_t &total, size_t &room, bool &bad, bool &efault,
				    bool is_read);
	size_t accessible(const void *p, bool is_read) const;

	void check_rw_result(Kind k, const FdRef &f, bool is_read, size_t n, size_t room,
			     long r, int e, bool efault_ok, bool einval_ok, bool enomem_ok,
			     const char *what);

	Shared &sh_;
	unsigned id_;
	std::byte *arena_;
	size_t arena_size_;
	Rng rng_{0};
	std::atomic<pid_t> tid_{0};
	std::atomic<bool> done_{false};
	Hist hist_{};
	std::uint64_t ops_ = 0;
	std::vector<PrivateFd> fds_;
	circbuf_stats last_{}; // this worker's newest stats snapshot
	bool have_last_ = false;

	bool ring_ok_ = false;
	io_uring ring_{};
	std::map<std::uint64_t, Pending> pending_;
	std::vector<Pending> graveyard_;
	std::uint64_t next_id_ = 1;
	int pipe_[2] = {-1, -1};
};

void Worker::fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	std::vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	// Printed at once: a kernel that hangs later must not swallow them.
	std::uint64_t n = sh_.nfailures.fetch_add(1) + 1;
	if (n <= sh_.opt.max_failures) {
		std::lock_guard lock(sh_.fail_mu);
		std::printf("FAILURE: worker %u, op %llu: %s\n", id_, (unsigned long long)ops_, msg);
		std::fflush(stdout);
	}
}

bool Worker::expect_errno(Kind k, long r, int e, std::initializer_list<int> allowed,
			  const char *what)
{
	count(k, r < 0 ? e : 0);
	if (r >= 0)
		return true;
	if (std::find(allowed.begin(), allowed.end(), e) == allowed.end()) {
		fail("%s: %s failed with unexpected %s", kKindNames[k], what, errname(e).c_str());
		return false;
	}
	return true;
}

// A transfer size: edge cases around PIPE_BUF and the capacity, random
// ones, and some no kernel may take at face value.
size_t Worker::pick_count()
{
	const size_t cap = sh_.capacity;
	switch (rnd(20)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return kPipeBuf - 1 + rnd(3);
	case 3:
		return cap - 1 + rnd(3);
	case 4: {
		static constexpr size_t huge[] = {
			size_t{1} << 31, kMaxRwCount + 1, SSIZE_MAX, SSIZE_MAX - 1,
			size_t{SSIZE_MAX} + 1, SIZE_MAX, size_t{1} << 40,
		};
		return huge[rnd(std::size(huge))];
	}
	case 5:
	case 6:
	case 7:
		return 1 + rnd(std::min<size_t>(2 * cap + 2, 4 * arena_size_));
	default: {
		// log-uniform up to 2x capacity
		size_t max = std::max<size_t>(2 * cap, 2);
		unsigned bits = 1 + unsigned(rnd(std::bit_width(max)));
		return 1 + rnd(std::min<std::uint64_t>(max, (std::uint64_t{1} << bits) - 1));
	}
	}
}

// Where the kernel is told to read or write n bytes.
Buf Worker::pick_buf(size_t n)
{
	std::byte *end = arena_ + arena_size_;
	unsigned r = unsigned(rnd(100));
	if (r < 70) {
		size_t off;
		if (n <= arena_size_) {
			off = rnd(arena_size_ - n + 1);
			if (chance(50))
				off &= ~size_t{63};
		} else {
			off = rnd(arena_size_);
		}
		return {arena_ + off, arena_size_ - off, arena_size_ - off, "arena"};
	}
	if (r < 80) {
		size_t k = rnd(std::min(n, arena_size_) + 1);
		return {end - k, k, k, "before-guard"};
	}
	if (r < 84)
		return {nullptr, 0, 0, "NULL"};
	if (r < 87)
		return {sh_.prot_none, 0, 0, "PROT_NONE"};
	if (r < 90)
		return {sh_.prot_read, 0, sh_.page, "PROT_READ"};
	if (r < 94) {
		static constexpr std::uintptr_t kernel[] = {
			0xffff888000000000UL, 0xffffffff81000000UL,
			0xffffc90000000000UL, 0xfffffffffffff000UL,
			0xffffea0000000000UL,
		};
		return {reinterpret_cast<void *>(kernel[rnd(std::size(kernel))]), 0, 0, "kernel"};
	}
	if (r < 97) {
		static constexpr std::uintptr_t odd[] = {
			0x0000800000000000UL, 0x8000000000000000UL,
			0x00007ffffffff000UL, 0x00007fffffffffffUL,
		};
		return {reinterpret_cast<void *>(odd[rnd(std::size(odd))]), 0, 0, "non-user"};
	}
	// Below vm.mmap_min_addr: never mapped.
	static constexpr std::uintptr_t low[] = {0x8, 0x1000, 0xfff0};
	return {reinterpret_cast<void *>(low[rnd(std::size(low))]), 0, 0, "unmapped"};
}

FdRef Worker::pick_fd()
{
	unsigned r = unsigned(rnd(100));
	if (r < 4) {
		static constexpr int bad[] = {-1, 1 << 20, INT_MAX};
		FdRef f;
		f.fd = bad[rnd(std::size(bad))];
		return f;
	}
	if (r < 55 && !fds_.empty()) {
		size_t i = rnd(fds_.size());
		FdRef f;
		f.fd = fds_[i].fd.get();
		f.acc = fds_[i].acc;
		f.open = true;
		f.path = fds_[i].path;
		f.priv = true;
		f.nonblock = fds_[i].nonblock;
		f.slot = i;
		return f;
	}
	const auto &s = sh_.shared_fds[rnd(sh_.shared_fds.size())];
	FdRef f;
	f.fd = s.fd;
	f.acc = s.acc;
	f.open = true;
	return f;
}

// A file of the device, never a bad number.
FdRef Worker::pick_device_fd()
{
	for (int i = 0; i < 8; i++) {
		FdRef f = pick_fd();
		if (f.is_device())
			return f;
	}
	const auto &s = sh_.shared_fds[rnd(sh_.shared_fds.size())];
	FdRef f;
	f.fd = s.fd;
	f.acc = s.acc;
	f.open = true;
	return f;
}

// Mostly a file open for the transfer's direction, sometimes not.
FdRef Worker::pick_fd_for(bool is_read)
{
	FdRef f = pick_fd();
	for (int i = 0; i < 3 && f.open && !(is_read ? f.can_read() : f.can_write()) && chance(80); i++)
		f = pick_fd();
	return f;
}

// A snapshot must be self-consistent, and no later than the worker's last.
void Worker::check_stats(const circbuf_stats &s, const FdRef &f, const char *via,
			 bool monotonic)
{
	if (s.capacity != sh_.capacity)
		fail("%s: capacity %llu, expected %zu", via, (unsigned long long)s.capacity,
		     sh_.capacity);
	if (s.used + s.available != s.capacity)
		fail("%s: used %llu + available %llu != capacity %llu", via,
		     (unsigned long long)s.used, (unsigned long long)s.available,
		     (unsigned long long)s.capacity);
	if (s.used != s.bytes_written - s.bytes_read)
		fail("%s: used %llu != bytes_written %llu - bytes_read %llu", via,
		     (unsigned long long)s.used, (unsigned long long)s.bytes_written,
		     (unsigned long long)s.bytes_read);
	if (s.dma_bytes + s.cpu_bytes != s.bytes_read + s.bytes_written)
		fail("%s: dma_bytes %llu + cpu_bytes %llu != bytes moved %llu", via,
		     (unsigned long long)s.dma_bytes, (unsigned long long)s.cpu_bytes,
		     (unsigned long long)(s.bytes_read + s.bytes_written));
	if (s.dma_completed + s.dma_failed != s.dma_submitted)
		fail("%s: dma_completed %llu + dma_failed %llu != dma_submitted %llu", via,
		     (unsigned long long)s.dma_completed, (unsigned long long)s.dma_failed,
		     (unsigned long long)s.dma_submitted);
	if (s.reads > s.bytes_read || s.writes > s.bytes_written)
		fail("%s: more calls than bytes (reads %llu/%llu bytes, writes %llu/%llu bytes)",
		     via, (unsigned long long)s.reads, (unsigned long long)s.bytes_read,
		     (unsigned long long)s.writes, (unsigned long long)s.bytes_written);
	if (s.readers > kMaxFiles || s.writers > kMaxFiles)
		fail("%s: readers %u, writers %u: more than could ever be open (underflow?)",
		     via, s.readers, s.writers);
	if (f.can_read() && s.readers == 0)
		fail("%s: readers 0 while this readable file is open", via);
	if (f.can_write() && s.writers == 0)
		fail("%s: writers 0 while this writable file is open", via);
	if (s.reserved)
		fail("%s: reserved field is %llu, not 0", via, (unsigned long long)s.reserved);
	if (s.flags & ~CIRCBUF_STATS_NO_DMA)
		fail("%s: unknown flags %#llx", via, (unsigned long long)s.flags);
	if (!monotonic)
		return;
	if (have_last_) {
		const circbuf_stats &o = last_;
#define MONOTONIC(field)                                                        \
	if (s.field < o.field)                                                  \
		fail("%s: " #field " went back from %llu to %llu", via,          \
		     (unsigned long long)o.field, (unsigned long long)s.field)
		MONOTONIC(reads);
		MONOTONIC(writes);
		MONOTONIC(bytes_read);
		MONOTONIC(bytes_written);
		MONOTONIC(dma_submitted);
		MONOTONIC(dma_completed);
		MONOTONIC(dma_failed);
		MONOTONIC(dma_timeouts);
		MONOTONIC(dma_bytes);
		MONOTONIC(cpu_bytes);
#undef MONOTONIC
	}
	last_ = s;
	have_last_ = true;
}

// The common verdict on a read or write: -1/errno or a count.
// @room: the bytes of the buffer the kernel can reach, in order; @efault_ok:
// some address is bad (even one the kernel need not touch).
void Worker::check_rw_result(Kind k, const FdRef &f, bool is_read, size_t n, size_t room,
			     long r, int e, bool efault_ok, bool einval_ok, bool enomem_ok,
			     const char *what)
{
	count(k, r < 0 ? e : 0);
	const bool mode_ok = is_read ? f.can_read() : f.can_write();
	if (!f.open) {
		if (r >= 0 || e != EBADF)
			fail("%s on fd %d, not open: %s, expected EBADF", kKindNames[k], f.fd,
			     r >= 0 ? strprintf("returned %ld", r).c_str() : errname(e).c_str());
		return;
	}
	if (r >= 0) {
		if (!mode_ok)
			fail("%s of %zu bytes on a file not open for %s returned %ld",
			     kKindNames[k], n, is_read ? "reading" : "writing", r);
		if (size_t(r) > std::min(n, kMaxRwCount))
			fail("%s of %zu bytes (%s) returned %ld: more than asked", kKindNames[k],
			     n, what, r);
		if (size_t(r) > room)
			fail("%s of %zu bytes (%s) returned %ld, but only %zu bytes of the "
			     "buffer are accessible", kKindNames[k], n, what, r, room);
		if (is_read && size_t(r) > sh_.capacity)
			fail("%s returned %ld bytes, more than the capacity %zu", kKindNames[k],
			     r, sh_.capacity);
		if (!is_read && r == 0 && n > 0)
			fail("%s of %zu bytes (%s) returned 0", kKindNames[k], n, what);
		// Atomic writes: whole or not at all, when the buffer is good.
		if (!is_read && n > 0 && n <= sh_.atomic_max && room >= n &&
		    size_t(r) != n)
			fail("%s of %zu bytes (atomic, %s) was torn: returned %ld",
			     kKindNames[k], n, what, r);
		return;
	}
	std::vector<int> ok = {EINTR};
	if (!mode_ok)
		ok.push_back(EBADF);
	if (!f.priv || f.nonblock)
		ok.push_back(EAGAIN);
	if (efault_ok || room < n || n > kMaxRwCount)
		ok.push_back(EFAULT);
	if (einval_ok || n > SSIZE_MAX)
		ok.push_back(EINVAL);
	if (enomem_ok)
		ok.push_back(ENOMEM);
	if (f.path)
		ok = {EBADF};
	if (std::find(ok.begin(), ok.end(), e) == ok.end())
		fail("%s of %zu bytes (%s, fd %s%s%s) failed with unexpected %s", kKindNames[k],
		     n, what,
		     f.acc == O_RDONLY ? "O_RDONLY" : f.acc == O_WRONLY ? "O_WRONLY"
			 : f.acc == O_RDWR ? "O_RDWR" : "O_ACCMODE",
		     f.priv ? (f.nonblock ? " O_NONBLOCK" : " blocking") : " shared",
		     f.path ? " O_PATH" : "", errname(e).c_str());
}

void Worker::op_open()
{
	if (fds_.size() >= kPrivateFds)
		op_close();
	static constexpr int accs[] = {O_RDONLY, O_WRONLY, O_RDWR, 3};
	int acc = accs[rnd(std::size(accs))];
	int flags = acc | O_CLOEXEC;
	if (chance(60))
		flags |= O_NONBLOCK;
	int expect = 0; // the errno this open must fail with, or 0
	switch (rnd(30)) {
	case 0:
		flags |= O_CREAT | O_EXCL;
		expect = EEXIST;
		break;
	case 1:
		flags |= O_DIRECTORY;
		expect = ENOTDIR;
		break;
	case 2:
		flags |= O_DIRECT;
		expect = EINVAL;
		break;
	case 3:
		flags = O_PATH | O_CLOEXEC | (flags & O_NONBLOCK);
		break;
	case 4:
		flags |= O_APPEND | O_NOCTTY | O_NOATIME;
		break;
	case 5:
		flags |= O_TRUNC;
		break;
	}
	int fd = ::open(sh_.opt.device.c_str(), flags);
	int e = errno;
	count(kOpen, fd < 0 ? e : 0);
	if (fd < 0) {
		if (e != expect && !(e == EINTR))
			fail("open(flags %#x) failed with %s, expected %s", flags,
			     errname(e).c_str(), errname(expect).c_str());
		return;
	}
	PrivateFd p;
	p.fd.reset(fd);
	if (expect) {
		fail("open(flags %#x) succeeded, expected %s", flags, errname(expect).c_str());
		return;
	}
	p.path = flags & O_PATH;
	p.acc = p.path ? 3 : acc;
	p.nonblock = flags & O_NONBLOCK;
	fds_.push_back(std::move(p));
}

void Worker::op_close()
{
	if (fds_.empty() || chance(5)) {
		long r = ::close(-1);
		count(kClose, r < 0 ? errno : 0);
		if (r == 0 || errno != EBADF)
			fail("close(-1): expected EBADF");
		return;
	}
	size_t i = rnd(fds_.size());
	int fd = fds_[i].fd.release();
	fds_.erase(fds_.begin() + i);
	// An IOSQE_ASYNC request looks its fd up only when an io-wq worker
	// runs it: by then the number may name another file of ours (a new
	// ring, a pipe, another open), and any result is io_uring's right.
	for (auto &[id, q] : pending_)
		q.fd_closed |= q.f.priv && q.f.fd == fd;
	long r = ::close(fd);
	int e = errno;
	count(kClose, r < 0 ? e : 0);
	if (r < 0)
		fail("close of an open file failed with %s", errname(e).c_str());
}

void Worker::op_rw(bool is_read)
{
	FdRef f = pick_fd_for(is_read);
	size_t n = pick_count();
	Buf b = pick_buf(n);
	errno = 0;
	long r = syscall(is_read ? SYS_read : SYS_write, f.fd, b.p, n);
	int e = errno;
	const size_t room = is_read ? b.rw_room : b.ro_room;
	// access_ok() refuses a kernel address even for 0 bytes.
	check_rw_result(is_read ? kRead : kWrite, f, is_read, n, room, r, e, room == 0,
			false, false, b.what);
}

// An iovec array: up to 8 segments usually, sometimes IOV_MAX or more, with
// lengths from pick_count() (so some past SSIZE_MAX). @total is the sum of
// the lengths clamped as the kernel does, @room the accessible prefix.
// Bytes from @p the kernel can write (@is_read) or read: what the arena has
// left before its guard, a page for the PROT_READ page, else nothing.
size_t Worker::accessible(const void *p, bool is_read) const
{
	auto *b = static_cast<const std::byte *>(p);
	if (b >= arena_ && b <= arena_ + arena_size_)
		return size_t(arena_ + arena_size_ - b);
	if (!is_read && p == sh_.prot_read)
		return sh_.page;
	return 0;
}

std::vector<iovec> Worker::make_iov(size_t &total, size_t &room, bool &bad, bool &efault,
				    bool is_read)
{
	size_t nseg;
	switch (rnd(20)) {
	case 0:
		nseg = 0;
		break;
	case 1:
		nseg = IOV_MAX - rnd(2);
		break;
	case 2:
		nseg = IOV_MAX + 1;
		break;
	default:
		nseg = 1 + rnd(8);
	}
	std::vector<iovec> iov(nseg);
	total = 0;
	room = 0;
	bad = nseg > IOV_MAX;
	efault = false;
	bool prefix_ok = true;
	for (auto &v : iov) {
		size_t len = nseg > 16 ? rnd(64) : pick_count();
		Buf b = pick_buf(len);
		v.iov_base = b.p;
		v.iov_len = len;
		if (len > SSIZE_MAX)
			bad = true;
		size_t acc = is_read ? b.rw_room : b.ro_room;
		// access_ok() refuses a kernel address even for 0 bytes.
		if (acc < len || acc == 0)
			efault = true;
		if (prefix_ok) {
			room += std::min(acc, len);
			prefix_ok = acc >= len;
		}
		total = total + std::min(len, kMaxRwCount - std::min(total, kMaxRwCount));
	}
	return iov;
}

void Worker::op_rwv(bool is_read)
{
	FdRef f = pick_fd_for(is_read);
	size_t total, room;
	bool bad, efault;
	std::vector<iovec> iov = make_iov(total, room, bad, efault, is_read);
	const void *vec = iov.data();
	long cnt = long(iov.size());
	const char *what = "iovecs";
	switch (rnd(40)) {
	case 0:
		vec = nullptr;
		what = "NULL iovec array";
		bad = cnt > 0;
		room = 0;
		break;
	case 1:
		vec = sh_.prot_none;
		what = "PROT_NONE iovec array";
		bad = cnt > 0;
		room = 0;
		break;
	case 2:
		cnt = -1;
		what = "iovcnt -1";
		bad = true;
		break;
	}
	errno = 0;
	long r = syscall(is_read ? SYS_readv : SYS_writev, f.fd, vec, cnt);
	int e = errno;
	if (bad && r >= 0 && f.open) {
		count(is_read ? kReadv : kWritev, 0);
		fail("%s with %s (%ld segments) returned %ld, expected EINVAL or EFAULT",
		     kKindNames[is_read ? kReadv : kWritev], what, cnt, r);
		return;
	}
	// A bad array is EINVAL or EFAULT whatever the file's mode.
	FdRef g = f;
	if (bad && f.open && !f.path && r < 0 && (e == EINVAL || e == EFAULT))
		g.acc = O_RDWR;
	check_rw_result(is_read ? kReadv : kWritev, g, is_read, total, room, r, e,
			efault || bad, bad, cnt > 8, what);
}

void Worker::op_pread()
{
	FdRef f = pick_fd();
	size_t n = 1 + rnd(64);
	Buf b = pick_buf(n);
	loff_t off = chance(20) ? -1 : loff_t(rnd(1 << 20));
	bool is_read = chance(50);
	errno = 0;
	long r = syscall(is_read ? SYS_pread64 : SYS_pwrite64, f.fd, b.p, n, off);
	int e = errno;
	if (r >= 0) {
		count(kPread, 0);
		fail("%s on the device returned %ld, expected ESPIPE", is_read ? "pread" : "pwrite", r);
		return;
	}
	if (off < 0) // checked before the fd
		expect_errno(kPread, r, e, {EINVAL}, "negative offset");
	else if (!f.open)
		expect_errno(kPread, r, e, {EBADF}, "bad fd");
	else if (f.path)
		expect_errno(kPread, r, e, {EBADF}, "O_PATH file");
	else
		expect_errno(kPread, r, e, {ESPIPE}, "pread/pwrite");
}

void Worker::op_lseek()
{
	FdRef f = pick_fd();
	int whence = int(rnd(6));
	errno = 0;
	off_t r = ::lseek(f.fd, off_t(rnd(1000)), whence);
	int e = errno;
	if (r >= 0) {
		count(kLseek, 0);
		fail("lseek on the device returned %lld, expected ESPIPE", (long long)r);
		return;
	}
	if (!f.open || f.path)
		expect_errno(kLseek, r, e, {EBADF}, "bad or O_PATH fd");
	else
		expect_errno(kLseek, r, e, {ESPIPE, EINVAL}, "lseek");
}

void Worker::op_mmap()
{
	FdRef f = pick_fd();
	int prot = chance(50) ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = chance(50) ? MAP_SHARED : MAP_PRIVATE;
	errno = 0;
	void *m = ::mmap(nullptr, sh_.page, prot, flags, f.fd, 0);
	int e = errno;
	if (m != MAP_FAILED) {
		count(kMmap, 0);
		::munmap(m, sh_.page);
		fail("mmap of the device succeeded, expected ENODEV");
		return;
	}
	expect_errno(kMmap, -1, e, {ENODEV, EACCES, EBADF}, "mmap");
}

void Worker::op_splice()
{
	if (pipe_[0] < 0 && ::pipe2(pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
		fail("pipe2: %s", std::strerror(errno));
		return;
	}
	FdRef f = pick_fd();
	size_t n = chance(10) ? pick_count() : 1 + rnd(3 * kPipeBuf);
	unsigned flags = chance(70) ? SPLICE_F_NONBLOCK : 0;
	bool to_device = chance(50);
	long r;
	if (to_device) {
		// Something in the pipe first.
		std::byte tmp[512];
		rng_.fill(tmp);
		if (::write(pipe_[1], tmp, 1 + rnd(sizeof(tmp))) < 0 && errno != EAGAIN)
			fail("write to the splice pipe: %s", std::strerror(errno));
		r = ::splice(pipe_[0], nullptr, f.fd, nullptr, n, flags | SPLICE_F_NONBLOCK);
	} else {
		r = ::splice(f.fd, nullptr, pipe_[1], nullptr, n, flags);
	}
	int e = errno;
	// Keep the pipe from filling up.
	std::byte sink[16384];
	while (::read(pipe_[0], sink, sizeof(sink)) > 0) {
	}
	count(kSplice, r < 0 ? e : 0);
	if (r >= 0) {
		if (size_t(r) > n)
			fail("splice of %zu bytes returned %ld", n, r);
		if (!(to_device ? f.can_write() : f.can_read()) && r > 0)
			fail("splice %s a file not open for it moved %ld bytes",
			     to_device ? "into" : "out of", r);
		return;
	}
	std::initializer_list<int> ok = {EAGAIN, EINTR, EBADF, EINVAL};
	if (std::find(ok.begin(), ok.end(), e) == ok.end())
		fail("splice %s the device failed with unexpected %s",
		     to_device ? "into" : "out of", errname(e).c_str());
}

void Worker::op_ioctl_stats()
{
	FdRef f = pick_fd();
	circbuf_stats local;
	std::memset(&local, 0xa5, sizeof(local));
	Buf b = chance(75) ? Buf{&local, sizeof(local), sizeof(local), "stack"}
			   : pick_buf(sizeof(circbuf_stats));
	errno = 0;
	long r = ::ioctl(f.fd, CIRCBUF_GET_STATS, b.p);
	int e = errno;
	count(kIoctlStats, r < 0 ? e : 0);
	if (!f.open || f.path) {
		if (r >= 0 || e != EBADF)
			fail("CIRCBUF_GET_STATS on a bad fd: expected EBADF, got %s",
			     r >= 0 ? "success" : errname(e).c_str());
		return;
	}
	if (r < 0) {
		if (e == EINTR || (e == EFAULT && b.rw_room < sizeof(circbuf_stats)))
			return;
		fail("CIRCBUF_GET_STATS into %s failed with unexpected %s", b.what,
		     errname(e).c_str());
		return;
	}
	if (b.rw_room < sizeof(circbuf_stats)) {
		fail("CIRCBUF_GET_STATS into %s (%zu writable bytes) succeeded", b.what,
		     b.rw_room);
		return;
	}
	if (b.p == &local)
		check_stats(local, f, "CIRCBUF_GET_STATS", true);
}

void Worker::op_ioctl_fionread()
{
	FdRef f = pick_fd();
	int local = -7;
	Buf b = chance(75) ? Buf{&local, sizeof(local), sizeof(local), "stack"}
			   : pick_buf(sizeof(int));
	errno = 0;
	long r = ::ioctl(f.fd, FIONREAD, b.p);
	int e = errno;
	count(kIoctlFionread, r < 0 ? e : 0);
	if (!f.open || f.path) {
		if (r >= 0 || e != EBADF)
			fail("FIONREAD on a bad fd: expected EBADF");
		return;
	}
	if (r < 0) {
		if (!(e == EFAULT && b.rw_room < sizeof(int)))
			fail("FIONREAD into %s failed with unexpected %s", b.what,
			     errname(e).c_str());
		return;
	}
	if (b.rw_room < sizeof(int))
		fail("FIONREAD into %s succeeded", b.what);
	else if (b.p == &local && (local < 0 || size_t(local) > sh_.capacity))
		fail("FIONREAD returned %d, outside 0..%zu", local, sh_.capacity);
}

// CIRCBUF_GET_STATS with the wrong size, direction, number or type: none of
// these is the command, so every one is ENOTTY.
void Worker::op_ioctl_misencoded()
{
	const unsigned long sz = sizeof(circbuf_stats);
	const unsigned long cmds[] = {
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 1, 0),
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 1, sz - 8),
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 1, sz + 8),
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 1, _IOC_SIZEMASK),
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 1, 4),
		_IOW(CIRCBUF_IOC_MAGIC, 1, circbuf_stats),
		_IOWR(CIRCBUF_IOC_MAGIC, 1, circbuf_stats),
		_IO(CIRCBUF_IOC_MAGIC, 1),
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 0, sz),
		_IOC(_IOC_READ, CIRCBUF_IOC_MAGIC, 2 + rnd(254), sz),
		_IOC(_IOC_READ, 0xb7, 1, sz),
		_IOC(_IOC_READ, 0xb9, 1, sz),
		CIRCBUF_GET_STATS | (1UL << 32), // the upper half is dropped: valid
	};
	size_t i = rnd(std::size(cmds));
	FdRef f = pick_fd();
	std::vector<std::byte> arg(_IOC_SIZEMASK + 1);
	errno = 0;
	long r = ::syscall(SYS_ioctl, f.fd, cmds[i], arg.data());
	int e = errno;
	bool valid = i == std::size(cmds) - 1;
	if (!f.open || f.path)
		expect_errno(kIoctlMisencoded, r, e, {EBADF}, "bad fd");
	else if (valid)
		expect_errno(kIoctlMisencoded, r, e, {EINTR}, "GET_STATS with high bits");
	else if (r >= 0) {
		count(kIoctlMisencoded, 0);
		fail("ioctl %#lx (a mis-encoded CIRCBUF_GET_STATS) succeeded", cmds[i]);
	} else
		expect_errno(kIoctlMisencoded, r, e, {ENOTTY}, strprintf("ioctl %#lx", cmds[i]).c_str());
}

// The generic ioctls the VFS answers for every file.
void Worker::op_ioctl_generic()
{
	FdRef f = pick_fd();
	int v = int(rnd(2));
	unsigned long cmd;
	switch (rnd(5)) {
	case 0:
		cmd = FIONBIO;
		break;
	case 1:
		cmd = FIOASYNC;
		break;
	case 2:
		cmd = FIOCLEX;
		break;
	case 3:
		cmd = FIONCLEX;
		break;
	default:
		cmd = FIOQSIZE;
		break;
	}
	errno = 0;
	long r = ::ioctl(f.fd, cmd, &v);
	int e = errno;
	if (!f.open) {
		expect_errno(kIoctlGeneric, r, e, {EBADF}, "bad fd");
		return;
	}
	if (cmd == FIONBIO && r == 0 && f.priv) {
		fds_[f.slot].nonblock = v;
		nonblock_toggled(f.fd);
	}
	if (cmd == FIOQSIZE) {
		if (r >= 0) {
			count(kIoctlGeneric, 0);
			fail("FIOQSIZE on the device succeeded");
		} else
			expect_errno(kIoctlGeneric, r, e, {ENOTTY, EBADF}, "FIOQSIZE");
		return;
	}
	// FIOASYNC on: there is no fasync, so ENOTTY; O_PATH files: EBADF.
	expect_errno(kIoctlGeneric, r, e, {ENOTTY, EBADF}, "FIO* ioctl");
}

// Random numbers, avoiding the types the VFS itself handles (FIFREEZE and
// friends must never reach a root process's devtmpfs).
void Worker::op_ioctl_random()
{
	unsigned long cmd;
	for (;;) {
		switch (rnd(3)) {
		case 0:
			cmd = std::uint32_t(rng_.next());
			break;
		case 1:
			cmd = _IOC(rnd(4), CIRCBUF_IOC_MAGIC, rnd(256), rnd(_IOC_SIZEMASK + 1));
			break;
		default:
			cmd = _IOC(rnd(4), rnd(256), rnd(256), rnd(512));
			break;
		}
		unsigned type = _IOC_TYPE(cmd);
		if (type == 0x00 || type == 0x54 /* T */ || type == 0x58 /* X */ ||
		    type == 0x66 /* f */ || type == 0x94 /* FICLONE */)
			continue;
		if (cmd == CIRCBUF_GET_STATS)
			continue;
		break;
	}
	FdRef f = pick_fd();
	std::vector<std::byte> arg(_IOC_SIZEMASK + 1);
	Buf b = chance(50) ? Buf{arg.data(), arg.size(), arg.size(), "heap"} : pick_buf(64);
	errno = 0;
	long r = ::syscall(SYS_ioctl, f.fd, cmd, b.p);
	int e = errno;
	if (!f.open || f.path) {
		expect_errno(kIoctlRandom, r, e, {EBADF}, "bad fd");
		return;
	}
	if (r >= 0) {
		count(kIoctlRandom, 0);
		fail("random ioctl %#lx succeeded", cmd);
		return;
	}
	expect_errno(kIoctlRandom, r, e, {ENOTTY}, strprintf("random ioctl %#lx", cmd).c_str());
}

void Worker::op_poll(bool ppoll_variant)
{
	Kind k = ppoll_variant ? kPpoll : kPoll;
	size_t n = 1 + rnd(4);
	std::vector<pollfd> pfd(n);
	std::vector<FdRef> refs(n);
	for (size_t i = 0; i < n; i++) {
		refs[i] = pick_fd();
		pfd[i].fd = refs[i].fd;
		pfd[i].events = short(rnd(2) ? POLLIN | POLLOUT : rnd(0x10000));
		pfd[i].revents = short(0xdead);
	}
	void *arr = pfd.data();
	nfds_t nfds = n;
	bool bad = false, badlen = false;
	switch (rnd(40)) {
	case 0:
		arr = nullptr;
		bad = true;
		break;
	case 1:
		arr = sh_.prot_read; // not writable: the revents cannot be stored
		bad = true;
		nfds = 1;
		break;
	case 2:
		nfds = nfds_t{1} << 30;
		badlen = true;
		break;
	}
	long r;
	int e;
	if (!ppoll_variant) {
		int timeout = chance(5) ? -1 : int(rnd(10));
		r = ::poll(static_cast<pollfd *>(arr), nfds, timeout);
		e = errno;
	} else {
		timespec ts{0, long(rnd(10'000'000))};
		bool bad_ts = chance(5);
		if (bad_ts)
			ts.tv_nsec = 1'000'000'000 + long(rnd(10));
		sigset_t mask;
		sigemptyset(&mask);
		r = ::ppoll(static_cast<pollfd *>(arr), nfds, &ts, chance(50) ? &mask : nullptr);
		e = errno;
		if (bad_ts) {
			expect_errno(k, r, e, {EINVAL}, "bad timespec");
			if (r >= 0)
				fail("ppoll with tv_nsec %ld succeeded", ts.tv_nsec);
			return;
		}
	}
	if (r < 0) {
		std::vector<int> ok = {EINTR, ENOMEM};
		if (bad)
			ok.push_back(EFAULT);
		if (badlen)
			ok.push_back(EINVAL);
		count(k, e);
		if (std::find(ok.begin(), ok.end(), e) == ok.end())
			fail("%s failed with unexpected %s", kKindNames[k], errname(e).c_str());
		return;
	}
	count(k, 0);
	if (bad || badlen) {
		fail("%s with a bad array or length returned %ld", kKindNames[k], r);
		return;
	}
	if (size_t(r) > n)
		fail("%s of %zu fds returned %ld", kKindNames[k], n, r);
	size_t ready = 0;
	for (size_t i = 0; i < n; i++) {
		const FdRef &f = refs[i];
		unsigned rev = std::uint16_t(pfd[i].revents);
		unsigned ev = std::uint16_t(pfd[i].events) | POLLERR | POLLHUP | POLLNVAL;
		if (rev)
			ready++;
		if (rev & ~ev)
			fail("%s: revents %#x has bits not asked for (events %#x)", kKindNames[k],
			     rev, unsigned(std::uint16_t(pfd[i].events)));
		if (f.fd < 0) {
			if (rev)
				fail("%s: negative fd got revents %#x", kKindNames[k], rev);
			continue;
		}
		if (!f.open) {
			if (rev != POLLNVAL)
				fail("%s: fd %d, not open, got revents %#x, expected POLLNVAL",
				     kKindNames[k], f.fd, rev);
			continue;
		}
		if (f.path) {
			if (rev != POLLNVAL)
				fail("%s: O_PATH fd got revents %#x, expected POLLNVAL",
				     kKindNames[k], rev);
			continue;
		}
		unsigned allowed = 0;
		if (f.can_read())
			allowed |= POLLIN | POLLRDNORM | POLLHUP;
		if (f.can_write())
			allowed |= POLLOUT | POLLWRNORM;
		if (f.can_write()) // a writer is open: this file
			allowed &= ~POLLHUP;
		if (rev & ~allowed)
			fail("%s: %s file got revents %#x (allowed %#x)", kKindNames[k],
			     f.acc == O_RDONLY ? "O_RDONLY" : f.acc == O_WRONLY ? "O_WRONLY"
				 : f.acc == O_RDWR ? "O_RDWR" : "O_ACCMODE",
			     rev, allowed);
	}
	if (ready != size_t(r))
		fail("%s returned %ld but %zu entries have revents", kKindNames[k], r, ready);
}

void Worker::op_fcntl()
{
	FdRef f = pick_fd();
	errno = 0;
	int fl = ::fcntl(f.fd, F_GETFL);
	int e = errno;
	if (!f.open) {
		expect_errno(kFcntl, fl, e, {EBADF}, "F_GETFL on a bad fd");
		return;
	}
	if (fl < 0) {
		expect_errno(kFcntl, fl, e, {}, "F_GETFL");
		return;
	}
	if (f.priv && !f.path && bool(fl & O_NONBLOCK) != fds_[f.slot].nonblock)
		fail("F_GETFL says O_NONBLOCK is %s, but it was last set %s",
		     fl & O_NONBLOCK ? "on" : "off", fds_[f.slot].nonblock ? "on" : "off");
	switch (rnd(8)) {
	case 0: {
		long r = ::fcntl(f.fd, F_SETFL, fl | O_DIRECT);
		e = errno;
		if (f.path)
			expect_errno(kFcntl, r, e, {EBADF}, "F_SETFL on O_PATH");
		else if (r >= 0) {
			count(kFcntl, 0);
			fail("F_SETFL O_DIRECT on the device succeeded");
		} else
			expect_errno(kFcntl, r, e, {EINVAL}, "F_SETFL O_DIRECT");
		return;
	}
	case 1: {
		long r = ::fcntl(f.fd, F_GETPIPE_SZ);
		e = errno;
		if (r >= 0) {
			count(kFcntl, 0);
			fail("F_GETPIPE_SZ on the device returned %ld", r);
		} else
			expect_errno(kFcntl, r, e, {EBADF}, "F_GETPIPE_SZ");
		return;
	}
	default: {
		int nfl = fl ^ O_NONBLOCK;
		long r = ::fcntl(f.fd, F_SETFL, nfl);
		e = errno;
		if (f.path) {
			expect_errno(kFcntl, r, e, {EBADF}, "F_SETFL on O_PATH");
			return;
		}
		expect_errno(kFcntl, r, e, {}, "F_SETFL O_NONBLOCK");
		if (r == 0 && f.priv) {
			fds_[f.slot].nonblock = nfl & O_NONBLOCK;
			nonblock_toggled(f.fd);
		}
		return;
	}
	}
}

// ---------------------------------------------------------------------------
// io_uring.

bool Worker::ring_up()
{
	if (ring_ok_ || sh_.opt.no_uring)
		return ring_ok_;
	int r = io_uring_queue_init(kRingEntries, &ring_, 0);
	if (r < 0) {
		count(kUringTeardown, -r);
		if (r != -ENOMEM && r != -EINTR)
			fail("io_uring_queue_init: %s", std::strerror(-r));
		return false;
	}
	// Fixed buffers: the arena, and a small second one at its start.
	iovec bufs[2] = {{arena_, arena_size_}, {arena_, std::min<size_t>(arena_size_, 8192)}};
	r = io_uring_register_buffers(&ring_, bufs, 2);
	if (r < 0 && r != -ENOMEM && r != -EINTR)
		fail("io_uring_register_buffers: %s", std::strerror(-r));
	ring_ok_ = true;
	return true;
}

void Worker::ring_down(bool cancel_first)
{
	if (!ring_ok_)
		return;
	if (cancel_first) {
		auto deadline = Clock::now() + std::chrono::seconds(10);
		while (!pending_.empty() && Clock::now() < deadline) {
			if (io_uring_sqe *sqe = io_uring_get_sqe(&ring_)) {
				io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
				sqe->user_data = 0;
				io_uring_submit(&ring_);
				for (auto &[id, q] : pending_)
					q.cancel_aimed = true;
			}
			reap(true);
		}
		if (!pending_.empty())
			fail("%zu io_uring requests did not complete within 10 s of "
			     "being cancelled", pending_.size());
	}
	io_uring_queue_exit(&ring_);
	// Requests still in flight may yet read their iovec arrays or write
	// their stats structures: keep those alive as long as the process.
	for (auto &[id, p] : pending_)
		if (!p.iov.empty() || p.st)
			graveyard_.push_back(std::move(p));
	pending_.clear();
	ring_ok_ = false;
}

io_uring_sqe *Worker::get_sqe()
{
	if (!ring_up())
		return nullptr;
	if (pending_.size() >= kMaxPending) {
		// Too many waiting (reads of an empty ring): cancel them all.
		if (io_uring_sqe *sqe = io_uring_get_sqe(&ring_)) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			sqe->user_data = 0;
			io_uring_submit(&ring_);
			for (auto &[id, q] : pending_)
				q.cancel_aimed = true;
		}
		reap(true);
		if (pending_.size() >= kMaxPending)
			return nullptr;
	}
	return io_uring_get_sqe(&ring_);
}

void Worker::submit(io_uring_sqe *sqe, Pending p)
{
	std::uint64_t id = next_id_++;
	sqe->user_data = id;
	pending_.emplace(id, std::move(p));
	int r = io_uring_submit(&ring_);
	if (r < 0) {
		// EINTR/EAGAIN/EBUSY: the SQE stays queued and goes with the next submit.
		if (r != -EINTR && r != -EAGAIN && r != -EBUSY)
			fail("io_uring_submit: %s", std::strerror(-r));
	}
	reap(chance(10));
}

// Collect completions; with @wait, wait up to 20 ms for the first.
void Worker::reap(bool wait)
{
	if (!ring_ok_)
		return;
	io_uring_cqe *cqe;
	if (wait && !pending_.empty()) {
		__kernel_timespec ts{0, 20'000'000};
		int r = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN)
			fail("io_uring_wait_cqe_timeout: %s", std::strerror(-r));
	}
	while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
		std::uint64_t id = cqe->user_data;
		int res = cqe->res;
		io_uring_cqe_seen(&ring_, cqe);
		check_cqe(id, res);
	}
}

void Worker::check_cqe(std::uint64_t id, int res)
{
	if (id == 0) { // a cancel-any of our own: a count or ENOENT
		if (res < 0 && res != -ENOENT && res != -EALREADY)
			fail("IORING_ASYNC_CANCEL_ANY completed with %s", errname(-res).c_str());
		return;
	}
	auto it = pending_.find(id);
	if (it == pending_.end()) {
		fail("completion for unknown request %llu (res %d)", (unsigned long long)id, res);
		return;
	}
	Pending p = std::move(it->second);
	pending_.erase(it);
	const Kind k = p.kind;
	const char *name = kKindNames[k];
	if (k == kUringCmd) {
		count(k, res < 0 ? -res : 0);
		if (res == -ECANCELED)
			return;
		if (res != p.expect)
			fail("uring-cmd completed with %s, expected %s", errname(-res).c_str(),
			     errname(-p.expect).c_str());
		else if (res == 0 && p.st && p.expect == 0)
			check_stats(*p.st, p.f, "IORING_OP_URING_CMD", false);
		return;
	}
	if (k == kUringPoll) {
		count(k, res < 0 ? -res : 0);
		// A file open for neither reading nor writing (O_ACCMODE) adds
		// no wait queue, which io_uring's poll refuses with EINVAL.
		bool no_mode = !p.f.can_read() && !p.f.can_write();
		if (res < 0 && res != -ECANCELED && !(res == -EINVAL && no_mode))
			fail("uring-poll on a %s file completed with %s",
			     no_mode ? "no-mode" : "readable or writable", errname(-res).c_str());
		if (res > 0) {
			unsigned allowed = 0;
			if (p.f.can_read())
				allowed |= POLLIN | POLLRDNORM | POLLHUP;
			if (p.f.can_write())
				allowed |= POLLOUT | POLLWRNORM;
			if (unsigned(res) & ~(allowed | POLLERR))
				fail("uring-poll mask %#x outside %#x", res, allowed);
		}
		return;
	}
	if (k == kUringCancel) {
		count(k, res < 0 ? -res : 0);
		if (res < 0 && res != -ENOENT && res != -EALREADY && res != -EINVAL)
			fail("uring-cancel completed with %s", errname(-res).c_str());
		return;
	}
	// Reads and writes.
	const bool is_read = k == kUringRead || k == kUringReadv || k == kUringReadFixed;
	count(k, res < 0 ? -res : 0);
	if (p.fd_closed)
		return;
	if (res >= 0) {
		const bool mode_ok = is_read ? p.f.can_read() : p.f.can_write();
		if (!mode_ok)
			fail("%s on a file not open for it returned %d", name, res);
		if (size_t(res) > p.len)
			fail("%s of %zu bytes returned %d", name, p.len, res);
		if (size_t(res) > p.room)
			fail("%s of %zu bytes returned %d with only %zu bytes accessible", name,
			     p.len, res, p.room);
		if (is_read && size_t(res) > sh_.capacity)
			fail("%s returned %d, more than the capacity", name, res);
		if (!is_read && res == 0 && p.len > 0)
			fail("%s of %zu bytes returned 0", name, p.len);
		if (!is_read && p.len > 0 && p.len <= sh_.atomic_max && p.room >= p.len &&
		    size_t(res) != p.len)
			fail("%s of %zu bytes (atomic) was torn: returned %d", name, p.len, res);
		return;
	}
	int e = -res;
	std::vector<int> ok = {ECANCELED};
	// EINTR only for a request that a cancel may have caught running: a
	// signal never reaches the io-wq worker that runs it (workers block
	// every signal), but cancelling it sets TIF_NOTIFY_SIGNAL on the
	// worker (io_wq_worker_cancel()), which ends its interruptible wait.
	if (p.cancel_aimed)
		ok.push_back(EINTR);
	if (!(is_read ? p.f.can_read() : p.f.can_write()))
		ok.push_back(EBADF);
	// EAGAIN with RWF_NOWAIT, and on an O_NONBLOCK file as for read(2):
	// io_uring retries such a file after poll, but a request that ends
	// up in an io-wq worker is issued without IOCB_NOWAIT, and there the
	// file's O_NONBLOCK decides, as it does for a pipe. A shared file's
	// O_NONBLOCK is toggled by other workers: unknown.
	if (p.nowait || !p.f.priv || p.f.nonblock || p.nonblock_toggled)
		ok.push_back(EAGAIN);
	if (p.room < p.len || p.room == 0 || p.bad_vec)
		ok.push_back(EFAULT);
	if (p.bad_vec || p.odd_offset || p.odd_flags)
		ok.push_back(EINVAL);
	if (p.odd_flags)
		ok.push_back(EOPNOTSUPP);
	if (k == kUringReadv || k == kUringWritev)
		ok.push_back(ENOMEM);
	if (std::find(ok.begin(), ok.end(), e) == ok.end())
		fail("%s of %zu bytes (room %zu%s%s%s, fd %s%s) completed with unexpected %s", name,
		     p.len, p.room, p.nowait ? ", RWF_NOWAIT" : "",
		     p.odd_flags ? ", odd rw_flags" : "", p.odd_offset ? ", odd offset" : "",
		     p.f.priv ? (p.f.nonblock ? "O_NONBLOCK" : "blocking") : "shared",
		     p.cancel_aimed ? ", a cancel aimed at it" : "",
		     errname(e).c_str());
}

void Worker::op_uring(Kind k)
{
	io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return;
	Pending p;
	p.kind = k;
	const bool is_read = k == kUringRead || k == kUringReadv || k == kUringReadFixed;
	p.f = pick_fd_for(is_read);
	if (!p.f.open) {
		// io_uring looks the fd up at submission: the CQE says EBADF.
		p.f.fd = -1;
	}
	switch (k) {
	case kUringRead:
	case kUringWrite: {
		size_t n = std::min<size_t>(pick_count(), UINT32_MAX);
		Buf b = pick_buf(n);
		if (is_read)
			io_uring_prep_read(sqe, p.f.fd, b.p, unsigned(n), 0);
		else
			io_uring_prep_write(sqe, p.f.fd, b.p, unsigned(n), 0);
		p.len = std::min(n, kMaxRwCount);
		p.room = is_read ? b.rw_room : b.ro_room;
		break;
	}
	case kUringReadv:
	case kUringWritev: {
		size_t total, room;
		bool bad, efault;
		p.iov = make_iov(total, room, bad, efault, is_read);
		if (p.iov.size() > IOV_MAX)
			p.iov.resize(1 + rnd(4)); // mostly a count io_uring accepts
		// Again for the final array.
		total = room = 0;
		bad = efault = false;
		bool prefix_ok = true;
		for (auto &v : p.iov) {
			if (v.iov_len > SSIZE_MAX)
				bad = true;
			total += std::min(v.iov_len, kMaxRwCount - std::min(total, kMaxRwCount));
			size_t acc = accessible(v.iov_base, is_read);
			if (acc < v.iov_len || acc == 0)
				efault = true;
			if (prefix_ok) {
				room += std::min(acc, v.iov_len);
				prefix_ok = acc >= v.iov_len;
			}
		}
		const iovec *vec = p.iov.data();
		unsigned cnt = unsigned(p.iov.size());
		if (chance(3)) {
			vec = nullptr;
			bad = cnt > 0;
			room = 0;
		}
		if (is_read)
			io_uring_prep_readv(sqe, p.f.fd, vec, cnt, 0);
		else
			io_uring_prep_writev(sqe, p.f.fd, vec, cnt, 0);
		p.len = total;
		p.room = room;
		p.bad_vec = bad || efault;
		break;
	}
	default: { // fixed buffers
		size_t n = std::min<size_t>(pick_count(), arena_size_ + 64);
		unsigned idx = chance(90) ? unsigned(rnd(2)) : 2 + unsigned(rnd(100));
		size_t reg = idx == 0 ? arena_size_ : std::min<size_t>(arena_size_, 8192);
		void *addr;
		bool inside = chance(85);
		if (inside && n <= reg)
			addr = arena_ + rnd(reg - n + 1);
		else
			addr = arena_ + rnd(arena_size_);
		bool fits = idx < 2 && static_cast<std::byte *>(addr) + n <= arena_ + reg;
		if (is_read)
			io_uring_prep_read_fixed(sqe, p.f.fd, addr, unsigned(n), 0, int(idx));
		else
			io_uring_prep_write_fixed(sqe, p.f.fd, addr, unsigned(n), 0, int(idx));
		p.len = n;
		p.room = fits ? n : 0;
		break;
	}
	}
	if (chance(10)) {
		sqe->rw_flags = RWF_NOWAIT;
		p.nowait = true;
	} else if (chance(3)) {
		sqe->rw_flags = int(rng_.next());
		p.odd_flags = true;
		p.nowait = sqe->rw_flags & RWF_NOWAIT;
	}
	if (chance(3)) {
		sqe->off = rng_.next();
		p.odd_offset = true;
	}
	// Straight to an io-wq worker, where a request goes on any kernel
	// when its inline attempt and its retry after poll both fail: under
	// contention, and often on PREEMPT_RT, whose mutex_trylock() fails
	// while another task waits for the lock.
	if (chance(5))
		sqe->flags |= IOSQE_ASYNC;
	submit(sqe, std::move(p));
}

void Worker::op_uring_cmd()
{
	io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return;
	Pending p;
	p.kind = kUringCmd;
	p.f = pick_fd();
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, p.f.open ? p.f.fd : -1, nullptr, 0, 0);
	std::uint32_t op = CIRCBUF_GET_STATS;
	switch (rnd(8)) {
	case 0:
		op = std::uint32_t(rng_.next());
		break;
	case 1:
		op = _IOW(CIRCBUF_IOC_MAGIC, 1, circbuf_stats);
		break;
	}
	sqe->cmd_op = op;
	circbuf_uring_cmd cmd{};
	bool good_addr = chance(75);
	if (good_addr) {
		p.st = std::make_unique<circbuf_stats>();
		cmd.stats_addr = reinterpret_cast<std::uintptr_t>(p.st.get());
	} else {
		Buf b = pick_buf(sizeof(circbuf_stats));
		cmd.stats_addr = reinterpret_cast<std::uintptr_t>(b.p);
		good_addr = b.rw_room >= sizeof(circbuf_stats);
	}
	if (chance(10))
		cmd.reserved = rng_.next() | 1;
	std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
	if (!p.f.open)
		p.expect = -EBADF;
	else if (p.f.path)
		p.expect = -EBADF;
	else if (op != CIRCBUF_GET_STATS)
		p.expect = -ENOTTY;
	else if (cmd.reserved)
		p.expect = -EINVAL;
	else if (!good_addr)
		p.expect = -EFAULT;
	if (chance(3)) {
		sqe->uring_cmd_flags = 1u << (1 + rnd(31)); // unknown flag
		p.expect = -EINVAL; // checked at prep, before the file is looked up
	}
	// p.st stays allocated until the completion whatever is expected: a
	// kernel that wrote to it anyway must not hit freed memory.
	submit(sqe, std::move(p));
}

void Worker::op_uring_poll()
{
	io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return;
	Pending p;
	p.kind = kUringPoll;
	p.f = pick_device_fd();
	io_uring_prep_poll_add(sqe, p.f.fd, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
	submit(sqe, std::move(p));
}

void Worker::op_uring_cancel()
{
	if (!ring_up())
		return;
	io_uring_sqe *sqe = get_sqe();
	if (!sqe)
		return;
	Pending p;
	p.kind = kUringCancel;
	std::uint64_t target = 12345678901ULL; // not a request
	if (!pending_.empty() && chance(80)) {
		auto it = pending_.begin();
		std::advance(it, rnd(pending_.size()));
		target = it->first;
	}
	unsigned flags = 0;
	switch (rnd(6)) {
	case 0:
		flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD;
		break;
	case 1:
		flags = IORING_ASYNC_CANCEL_ANY;
		break;
	}
	if (flags & IORING_ASYNC_CANCEL_FD) {
		FdRef f = pick_device_fd();
		io_uring_prep_cancel_fd(sqe, f.fd, flags);
		for (auto &[id, q] : pending_)
			q.cancel_aimed |= q.f.fd == f.fd;
	} else {
		io_uring_prep_cancel64(sqe, target, flags);
		for (auto &[id, q] : pending_)
			q.cancel_aimed |= id == target || (flags & IORING_ASYNC_CANCEL_ANY);
	}
	submit(sqe, std::move(p));
}

void Worker::op_uring_teardown()
{
	count(kUringTeardown, 0);
	// With requests in flight, without cancelling: the ring's exit must.
	ring_down(chance(30));
}

// ---------------------------------------------------------------------------

void Worker::run()
{
	tid_ = pid_t(::syscall(SYS_gettid));
	unsigned total_weight = 0;
	for (unsigned w : kWeights)
		total_weight += w;
	while (!sh_.stop.load(std::memory_order_relaxed)) {
		if (sh_.opt.max_ops && sh_.ops.fetch_add(1) >= sh_.opt.max_ops)
			break;
		if (!sh_.opt.max_ops)
			sh_.ops.fetch_add(1, std::memory_order_relaxed);
		unsigned pick = unsigned(rnd(total_weight));
		unsigned k = 0;
		while (pick >= kWeights[k])
			pick -= kWeights[k++];
		if (sh_.opt.no_uring && k >= kUringRead)
			k = kRead + unsigned(rnd(2));
		ops_++;
		switch (Kind(k)) {
		case kOpen: op_open(); break;
		case kClose: op_close(); break;
		case kRead: op_rw(true); break;
		case kWrite: op_rw(false); break;
		case kReadv: op_rwv(true); break;
		case kWritev: op_rwv(false); break;
		case kPread: op_pread(); break;
		case kLseek: op_lseek(); break;
		case kMmap: op_mmap(); break;
		case kSplice: op_splice(); break;
		case kIoctlStats: op_ioctl_stats(); break;
		case kIoctlFionread: op_ioctl_fionread(); break;
		case kIoctlMisencoded: op_ioctl_misencoded(); break;
		case kIoctlGeneric: op_ioctl_generic(); break;
		case kIoctlRandom: op_ioctl_random(); break;
		case kPoll: op_poll(false); break;
		case kPpoll: op_poll(true); break;
		case kFcntl: op_fcntl(); break;
		case kUringRead:
		case kUringWrite:
		case kUringReadv:
		case kUringWritev:
		case kUringReadFixed:
		case kUringWriteFixed: op_uring(Kind(k)); break;
		case kUringCmd: op_uring_cmd(); break;
		case kUringPoll: op_uring_poll(); break;
		case kUringCancel: op_uring_cancel(); break;
		case kUringTeardown: op_uring_teardown(); break;
		case kKinds: break;
		}
		if (ring_ok_ && !pending_.empty() && chance(20))
			reap(false);
	}
	ring_down(true);
	fds_.clear();
	if (pipe_[0] >= 0) {
		::close(pipe_[0]);
		::close(pipe_[1]);
	}
	done_ = true;
}

// ---------------------------------------------------------------------------
// The final check: the device, alone now, must be consistent and exact.

struct Final {
	std::vector<std::string> failures;
	std::uint64_t drained = 0, round_trip = 0;
	void fail(std::string s) { failures.push_back(std::move(s)); }
};

void final_check(const Shared &sh, Final &out)
{
	auto fd = open_fd(sh.opt.device.c_str(), O_RDWR | O_NONBLOCK);
	if (!fd) {
		out.fail("final open: " + fd.error().message());
		return;
	}
	// io_uring rings are torn down asynchronously: wait for their files.
	circbuf_stats s{};
	auto deadline = Clock::now() + std::chrono::seconds(20);
	for (;;) {
		auto st = get_stats(fd->get());
		if (!st) {
			out.fail("final CIRCBUF_GET_STATS: " + st.error().message());
			return;
		}
		s = *st;
		if ((s.readers == 1 && s.writers == 1) || Clock::now() > deadline)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	if (s.readers != 1 || s.writers != 1)
		out.fail(strprintf("after every file closed: readers %u, writers %u; expected "
				   "1 and 1 (this file)", s.readers, s.writers));
	if (s.capacity != sh.capacity)
		out.fail(strprintf("capacity %llu, was %zu", (unsigned long long)s.capacity,
				   sh.capacity));
	if (s.used + s.available != s.capacity)
		out.fail(strprintf("used %llu + available %llu != capacity %llu",
				   (unsigned long long)s.used, (unsigned long long)s.available,
				   (unsigned long long)s.capacity));
	if (s.used != s.bytes_written - s.bytes_read)
		out.fail(strprintf("used %llu != bytes_written - bytes_read = %llu",
				   (unsigned long long)s.used,
				   (unsigned long long)(s.bytes_written - s.bytes_read)));
	if (s.dma_bytes + s.cpu_bytes != s.bytes_read + s.bytes_written)
		out.fail("dma_bytes + cpu_bytes != bytes_read + bytes_written");
	if (s.dma_completed + s.dma_failed != s.dma_submitted)
		out.fail("dma_completed + dma_failed != dma_submitted");
	int fionread = -1;
	if (::ioctl(fd->get(), FIONREAD, &fionread) != 0 || std::uint64_t(fionread) != s.used)
		out.fail(strprintf("FIONREAD %d, stats used %llu", fionread,
				   (unsigned long long)s.used));

	// Drain what the workers left: exactly "used" bytes, then EAGAIN.
	std::vector<std::byte> buf(std::min<size_t>(sh.capacity, 1 << 20) + 1);
	while (out.drained < s.used) {
		auto r = read_some(fd->get(), std::span(buf).first(
			std::min<std::uint64_t>(buf.size(), s.used - out.drained)));
		if (!r || *r == 0) {
			out.fail(strprintf("draining: %s after %llu of %llu bytes",
					   r ? "end of file" : r.error().message().c_str(),
					   (unsigned long long)out.drained, (unsigned long long)s.used));
			return;
		}
		out.drained += *r;
	}
	auto extra = read_some(fd->get(), std::span(buf).first(1));
	if (extra || extra.error() != std::errc::resource_unavailable_try_again)
		out.fail("after draining \"used\" bytes the device still had data or failed: " +
			 (extra ? std::string("1 more byte") : extra.error().message()));
	auto st = get_stats(fd->get());
	if (!st || st->used != 0 || st->available != st->capacity)
		out.fail("not empty after draining");

	// A byte-exact round trip: twice round the ring in transfers of
	// sizes prime to everything, then the ring filled whole.
	const std::uint64_t cap = sh.capacity;
	const std::uint64_t total = std::min<std::uint64_t>(2 * cap + 1234, 16u << 20);
	std::uint64_t written = 0, read = 0;
	std::vector<std::byte> wbuf, rbuf;
	const std::uint64_t wstep = std::min<std::uint64_t>(cap, 70001);
	const std::uint64_t rstep = std::min<std::uint64_t>(cap, 65537);
	while (read < total) {
		std::uint64_t n = std::min({wstep, total - written, cap - (written - read)});
		if (n) {
			wbuf.resize(n);
			fill_pattern(wbuf, written);
			auto w = write_some(fd->get(), wbuf);
			if (!w || *w != n) {
				out.fail(strprintf("round trip: write of %llu bytes at %llu: %s",
						   (unsigned long long)n, (unsigned long long)written,
						   w ? strprintf("returned %zu", *w).c_str()
						     : w.error().message().c_str()));
				return;
			}
			written += n;
		}
		std::uint64_t m = std::min(rstep, written - read);
		rbuf.resize(m);
		auto r = read_some(fd->get(), rbuf);
		if (!r || *r != m) {
			out.fail(strprintf("round trip: read of %llu bytes at %llu: %s",
					   (unsigned long long)m, (unsigned long long)read,
					   r ? strprintf("returned %zu", *r).c_str()
					     : r.error().message().c_str()));
			return;
		}
		if (auto bad = find_pattern_mismatch(rbuf, read)) {
			out.fail(strprintf("round trip: byte %llu differs",
					   (unsigned long long)(read + *bad)));
			return;
		}
		read += m;
	}
	if (cap <= (16u << 20)) {
		wbuf.resize(cap);
		fill_pattern(wbuf, 7);
		auto w = write_some(fd->get(), wbuf);
		std::byte one{0x5a};
		auto w1 = write_some(fd->get(), std::span(&one, 1));
		rbuf.assign(cap + 1, std::byte{0});
		auto r = read_some(fd->get(), rbuf);
		if (!w || *w != cap)
			out.fail("round trip: a write of the whole capacity into the empty ring "
				 "did not store it all");
		else if (w1 || w1.error() != std::errc::resource_unavailable_try_again)
			out.fail("round trip: a write into the full ring did not fail with EAGAIN");
		else if (!r || *r != cap)
			out.fail("round trip: reading the full ring back did not return the capacity");
		else if (find_pattern_mismatch(std::span(rbuf).first(cap), 7))
			out.fail("round trip: the full ring came back different");
		else
			written += cap;
	}
	out.round_trip = written;
	st = get_stats(fd->get());
	if (!st || st->used != 0 || st->available != st->capacity ||
	    st->bytes_written - st->bytes_read != 0)
		out.fail("not empty or inconsistent after the round trip");
}

Options parse_options(int argc, char **argv, OptionParser &p)
{
	Options o;
	p.seconds("duration", "how long to fuzz (default 10)", o.duration);
	p.uint("threads", "worker threads (default 4)", o.threads);
	p.string("seed", "N", "seed of the operation generators (default: from the\n"
			      "clock; printed either way)", o.seed_text);
	p.uint("max-ops", "stop after this many operations in all (default 0:\n"
			  "no limit, only --duration)", o.max_ops);
	p.flag("no-uring", "no io_uring operations", o.no_uring);
	p.flag("no-signals", "no signals while fuzzing (a blocked call then waits\n"
			     "for the end, when every worker is signalled)", o.no_signals);
	p.uint("signal-us", "mean microseconds between two signals, each to a\n"
			    "random worker (default 2000)", o.signal_us);
	p.uint("max-failures", "failures to print, as they happen (default 20)",
	       o.max_failures);
	auto args = p.parse_or_exit(argc, argv);
	if (args.size() > 1)
		p.usage_error("too many arguments");
	if (!args.empty())
		o.device = args[0];
	if (o.threads < 1 || o.threads > 256)
		p.usage_error("--threads must be 1..256");
	if (o.duration <= 0)
		p.usage_error("--duration must be positive");
	if (o.signal_us < 1 || o.signal_us > 10'000'000)
		p.usage_error("--signal-us must be 1..10000000");
	return o;
}

void print_summary(const Shared &sh, const std::vector<std::unique_ptr<Worker>> &workers,
		   double secs)
{
	Hist total{};
	for (const auto &w : workers)
		for (unsigned k = 0; k < kKinds; k++)
			for (int e = 0; e < kErrSlots; e++)
				total[k][e] += w->hist()[k][e];
	std::uint64_t all = 0;
	std::array<std::uint64_t, kErrSlots> errs{};
	std::printf("%-18s %10s %10s  errors\n", "operation", "count", "ok");
	for (unsigned k = 0; k < kKinds; k++) {
		std::uint64_t n = 0;
		std::string detail;
		for (int e = 0; e < kErrSlots; e++) {
			n += total[k][e];
			errs[e] += total[k][e];
			if (e && total[k][e])
				detail += strprintf("%s%s %llu", detail.empty() ? "" : ", ",
						    errname(e).c_str(),
						    (unsigned long long)total[k][e]);
		}
		all += n;
		std::printf("%-18s %10llu %10llu  %s\n", kKindNames[k], (unsigned long long)n,
			    (unsigned long long)total[k][0], detail.c_str());
	}
	std::printf("total operations: %llu in %.1f s (%.0f/s)\n", (unsigned long long)all,
		    secs, secs > 0 ? double(all) / secs : 0.0);
	std::string hist;
	for (int e = 0; e < kErrSlots; e++)
		if (errs[e])
			hist += strprintf("%s%s %llu", hist.empty() ? "" : ", ",
					  errname(e).c_str(), (unsigned long long)errs[e]);
	std::printf("errno histogram: %s\n", hist.c_str());
	std::printf("signals: %llu sent, %llu delivered\n",
		    (unsigned long long)sh.signals_sent.load(),
		    (unsigned long long)g_signals_delivered.load());
}

} // namespace

int main(int argc, char **argv)
{
	OptionParser parser(
		kTool, "[OPTIONS] [DEVICE]",
		"Fuzz a circbuf device (default /dev/circbuf) from many threads for "
		"--duration\nseconds: open/close with every access mode and odd flags, "
		"read/write/readv/\nwritev with sizes from 0 to SIZE_MAX, pread, lseek, "
		"mmap, splice, ioctl\n(CIRCBUF_GET_STATS, FIONREAD, mis-encoded and random "
		"commands), poll/ppoll,\nfcntl O_NONBLOCK toggling, and io_uring "
		"READ/WRITE/READV/WRITEV/READ_FIXED/\nWRITE_FIXED/URING_CMD/POLL_ADD/"
		"ASYNC_CANCEL and ring teardown, with bad\nbuffers (NULL, kernel and "
		"non-canonical addresses, unmapped, PROT_NONE,\nPROT_READ, ending in a "
		"guard page), while a signal thread interrupts the\nworkers (handler "
		"without SA_RESTART).\n\n"
		"Every result is checked: counts never above the request or the "
		"accessible\nbuffer, errno only from the set the operation may give, "
		"atomic writes from\ngood buffers never torn, stats snapshots "
		"self-consistent and monotonic,\npoll masks within the file's mode. "
		"Afterwards, with every file closed, the\ntool opens the device alone "
		"and checks the stats, drains exactly \"used\"\nbytes, and makes a "
		"byte-exact round trip of a pattern.\n\n"
		"Run it as root on a device loaded for testing: it changes the "
		"device's\ncontents and counters.",
		"Prints the seed first and a summary at the end: operations by kind with "
		"their\nerrno counts, the total, the errno histogram, and the verdict.\n"
		"Exit status: 0 PASS, 1 FAIL (any failed check, or the device or "
		"memory could not\nbe set up), 2 bad command line.");
	Shared sh;
	sh.opt = parse_options(argc, argv, parser);
	const Options &o = sh.opt;
	if (o.seed_text.empty()) {
		sh.seed = std::uint64_t(std::chrono::system_clock::now().time_since_epoch().count()) ^
			  (std::uint64_t(getpid()) << 32);
	} else if (auto v = parse_uint(o.seed_text)) {
		sh.seed = *v;
	} else {
		parser.usage_error("--seed must be a number");
	}
	std::printf("%s: seed %llu (rerun with --seed=%llu), %llu threads, %.1f s, %s\n",
		    kTool, (unsigned long long)sh.seed, (unsigned long long)sh.seed,
		    (unsigned long long)o.threads, o.duration, o.device.c_str());
	std::fflush(stdout);

	std::signal(SIGPIPE, SIG_IGN);
	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; // no SA_RESTART: blocked calls fail with EINTR
	sigaction(kSignal, &sa, nullptr);

	// The capacity, and a device with nothing else open.
	{
		auto probe = open_fd(o.device.c_str(), O_RDONLY | O_NONBLOCK);
		if (!probe) {
			print_error(kTool, o.device, probe.error());
			return 1;
		}
		auto st = get_stats(probe->get());
		if (!st) {
			print_error(kTool, o.device + ": CIRCBUF_GET_STATS", st.error());
			return 1;
		}
		sh.capacity = st->capacity;
		if (st->readers != 1 || st->writers != 0)
			std::fprintf(stderr, "%s: warning: other files are open (readers %u, "
				     "writers %u)\n", kTool, st->readers, st->writers);
	}
	sh.atomic_max = std::min(kPipeBuf, sh.capacity);
	sh.page = size_t(sysconf(_SC_PAGESIZE));
	std::printf("%s: capacity %zu bytes\n", kTool, sh.capacity);

	sh.prot_none = mmap(nullptr, sh.page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sh.prot_read = mmap(nullptr, sh.page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh.prot_none == MAP_FAILED || sh.prot_read == MAP_FAILED) {
		print_error(kTool, "mmap", errno_code());
		return 1;
	}

	// Shared files: every access mode, blocking and not.
	std::vector<unique_fd> shared_owner;
	for (int acc : {O_RDONLY, O_WRONLY, O_RDWR})
		for (int nb : {0, O_NONBLOCK}) {
			auto fd = open_fd(o.device.c_str(), acc | nb);
			if (!fd) {
				print_error(kTool, o.device, fd.error());
				return 1;
			}
			sh.shared_fds.push_back({fd->get(), acc});
			shared_owner.push_back(std::move(*fd));
		}

	// Arenas: up to 4 MiB each, and a PROT_NONE guard page after each.
	size_t arena_size = std::clamp<size_t>(sh.capacity + 2 * sh.page, 64 << 10, 4 << 20);
	arena_size = (arena_size + sh.page - 1) / sh.page * sh.page;
	std::vector<std::unique_ptr<Worker>> workers;
	for (unsigned i = 0; i < o.threads; i++) {
		void *m = mmap(nullptr, arena_size + sh.page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED ||
		    mprotect(static_cast<std::byte *>(m) + arena_size, sh.page, PROT_NONE)) {
			print_error(kTool, "mmap arena", errno_code());
			return 1;
		}
		std::memset(m, 0x11 * (i + 1), arena_size);
		// Never unmapped: io_uring requests may complete after a ring's exit.
		workers.push_back(std::make_unique<Worker>(sh, i, static_cast<std::byte *>(m),
							   arena_size));
	}

	const auto t0 = Clock::now();
	std::vector<std::thread> threads;
	for (auto &w : workers)
		threads.emplace_back([&w] { w->run(); });

	// The signal thread's work, here: random worker, random interval.
	Rng srng{sh.seed ^ 0x5157};
	srng.next();
	const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
				      std::chrono::duration<double>(o.duration));
	auto all_done = [&] {
		return std::all_of(workers.begin(), workers.end(),
				   [](const auto &w) { return w->done(); });
	};
	while (Clock::now() < end && !all_done()) {
		auto us = std::chrono::microseconds(srng.between(0, 2 * o.signal_us));
		std::this_thread::sleep_for(us);
		if (o.no_signals)
			continue;
		auto &w = workers[srng.next() % workers.size()];
		if (pid_t t = w->tid(); t && !w->done()) {
			::syscall(SYS_tgkill, getpid(), t, kSignal);
			sh.signals_sent++;
		}
	}
	const double fuzz_secs = std::chrono::duration<double>(Clock::now() - t0).count();
	sh.stop = true;
	// Wake any worker still blocked, until all have finished (bounded).
	const auto join_deadline = Clock::now() + std::chrono::seconds(60);
	while (!all_done() && Clock::now() < join_deadline) {
		for (auto &w : workers)
			if (pid_t t = w->tid(); t && !w->done()) {
				::syscall(SYS_tgkill, getpid(), t, kSignal);
				sh.signals_sent++;
			}
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	if (!all_done()) {
		for (auto &w : workers) {
			if (w->done())
				continue;
			std::string stack = "?";
			std::string path = strprintf("/proc/self/task/%d/stack", w->tid());
			if (FILE *f = std::fopen(path.c_str(), "r")) {
				char line[256];
				stack.clear();
				while (std::fgets(line, sizeof(line), f))
					stack += std::string("    ") + line;
				std::fclose(f);
			}
			std::fprintf(stderr, "%s: FAIL: worker thread %d still in the kernel 60 s "
				     "after the end:\n%s", kTool, w->tid(), stack.c_str());
		}
		std::fflush(nullptr);
		_exit(1);
	}
	for (auto &t : threads)
		t.join();
	shared_owner.clear();

	print_summary(sh, workers, fuzz_secs);

	Final fin;
	final_check(sh, fin);
	std::printf("final check: drained %llu bytes, round trip of %llu bytes\n",
		    (unsigned long long)fin.drained, (unsigned long long)fin.round_trip);

	std::uint64_t nfail = sh.nfailures.load() + fin.failures.size();
	if (sh.nfailures > o.max_failures)
		std::printf("FAILURE: ... and %llu more not shown\n",
			    (unsigned long long)(sh.nfailures - o.max_failures));
	for (const auto &f : fin.failures)
		std::printf("FAILURE: final check: %s\n", f.c_str());
	std::printf("%s: %s (%llu failures, seed %llu)\n", kTool, nfail ? "FAIL" : "PASS",
		    (unsigned long long)nfail, (unsigned long long)sh.seed);
	return nfail ? 1 : 0;
}
