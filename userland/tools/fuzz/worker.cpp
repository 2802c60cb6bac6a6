// circbuf-fuzz: the worker's bookkeeping (failures, picks of sizes, buffers
// and files, the checks every result goes through) and its loop.
#include "fuzz.h"

namespace circbuf::fuzz {

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
	return pick_shared_fd();
}

// One of the files every worker shares.
FdRef Worker::pick_shared_fd()
{
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
	return pick_shared_fd();
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
	if (s.used != s.bytes_written - s.bytes_read - s.bytes_discarded)
		fail("%s: used %llu != bytes_written %llu - bytes_read %llu - bytes_discarded %llu", via,
		     (unsigned long long)s.used, (unsigned long long)s.bytes_written,
		     (unsigned long long)s.bytes_read, (unsigned long long)s.bytes_discarded);
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
		MONOTONIC(bytes_discarded);
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
		case kSpan: op_span(); break;
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

} // namespace circbuf::fuzz
