// circbuf-fuzz: the worker's system-call operations, each with its result
// checked.
#include "fuzz.h"

namespace circbuf::fuzz {

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
		flags |= O_DIRECT; // packet mode, as pipe2(O_DIRECT)
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
	// The one length that maps (twice the capacity), or a page, which
	// does not.
	size_t len = chance(50) ? 2 * sh_.capacity : sh_.page;
	errno = 0;
	void *m = ::mmap(nullptr, len, prot, flags, f.fd, 0);
	int e = errno;
	if (m != MAP_FAILED) {
		count(kMmap, 0);
		// The ring mapped twice in a row: touch both copies, then
		// let go while the other workers read and write it.
		auto *p = static_cast<volatile std::uint8_t *>(m);
		(void)p[0];
		(void)p[len - 1];
		::munmap(m, len);
		if (flags != MAP_SHARED || len != 2 * sh_.capacity || sh_.capacity % sh_.page)
			fail("mmap of %zu bytes (%s) succeeded on a ring of %zu", len,
			     flags == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE", sh_.capacity);
		return;
	}
	expect_errno(kMmap, -1, e, {EINVAL, EACCES, EBADF, ENODEV}, "mmap");
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

Worker::Ioctl Worker::ioctl_into(Kind k, const char *name, unsigned long cmd, void *local,
				 size_t n)
{
	Ioctl c{.f = pick_fd()};
	c.b = chance(75) ? Buf{local, n, n, "stack"} : pick_buf(n);
	errno = 0;
	c.r = ::ioctl(c.f.fd, cmd, c.b.p);
	c.e = errno;
	count(k, c.r < 0 ? c.e : 0);
	if (!c.f.open || c.f.path) {
		if (c.r >= 0 || c.e != EBADF)
			fail("%s on a bad fd: expected EBADF, got %s", name,
			     c.r >= 0 ? "success" : errname(c.e).c_str());
		c.bad_fd = true;
	}
	return c;
}

void Worker::op_ioctl_stats()
{
	circbuf_stats local;
	std::memset(&local, 0xa5, sizeof(local));
	const auto [f, b, r, e, bad_fd] =
		ioctl_into(kIoctlStats, "CIRCBUF_GET_STATS", CIRCBUF_GET_STATS, &local, sizeof(local));
	if (bad_fd)
		return;
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
	int local = -7;
	const auto [f, b, r, e, bad_fd] =
		ioctl_into(kIoctlFionread, "FIONREAD", FIONREAD, &local, sizeof(local));
	if (bad_fd)
		return;
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
		// The device's own commands have ops of their own; a resize
		// would change what the workers check against, and a span
		// would hold a direction until its file closes.
		if (cmd == CIRCBUF_GET_STATS || cmd == CIRCBUF_SET_CAPACITY ||
		    cmd == CIRCBUF_RX_ACQUIRE || cmd == CIRCBUF_RX_RELEASE ||
		    cmd == CIRCBUF_TX_ACQUIRE || cmd == CIRCBUF_TX_COMMIT)
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
		// Packet mode on or off (circbuf(4)): the device allows both.
		long r = ::fcntl(f.fd, F_SETFL, fl ^ O_DIRECT);
		e = errno;
		if (f.path) {
			expect_errno(kFcntl, r, e, {EBADF}, "F_SETFL on O_PATH");
			return;
		}
		expect_errno(kFcntl, r, e, {}, "F_SETFL toggling O_DIRECT");
		// Only this worker changes its private files' flags.
		if (r == 0 && f.priv && bool(::fcntl(f.fd, F_GETFL) & O_DIRECT) == bool(fl & O_DIRECT))
			fail("F_SETFL toggled O_DIRECT, but F_GETFL says it is still %s",
			     fl & O_DIRECT ? "on" : "off");
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

} // namespace circbuf::fuzz
