// circbuf-fuzz: the worker's io_uring ring and operations, each completion
// checked.
#include "fuzz.h"

namespace circbuf::fuzz {

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
		while (!pending_.empty() && Clock::now() < deadline)
			cancel_all();
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

// One IORING_ASYNC_CANCEL_ANY of every request in flight (user_data 0, which
// check_cqe() knows), if an SQE is free; then collect completions.
void Worker::cancel_all()
{
	if (io_uring_sqe *sqe = io_uring_get_sqe(&ring_)) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		sqe->user_data = 0;
		io_uring_submit(&ring_);
		for (auto &[id, q] : pending_)
			q.cancel_aimed = true;
	}
	reap(true);
}

io_uring_sqe *Worker::get_sqe()
{
	if (!ring_up())
		return nullptr;
	if (pending_.size() >= kMaxPending) {
		// Too many waiting (reads of an empty ring): cancel them all.
		cancel_all();
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
	const bool is_read = k == kUringRead || k == kUringReadv || k == kUringReadFixed;
	Pending p{.kind = k, .f = pick_fd_for(is_read)};
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
	Pending p{.kind = kUringCmd, .f = pick_fd()};
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, p.f.open ? p.f.fd : -1, nullptr, 0, 0);
	std::uint32_t op = CIRCBUF_GET_STATS;
	switch (rnd(8)) {
	case 0:
		op = std::uint32_t(rng_.next());
		// A span command would hold a direction until its file closes.
		if (op == CIRCBUF_RX_ACQUIRE || op == CIRCBUF_RX_RELEASE ||
		    op == CIRCBUF_TX_ACQUIRE || op == CIRCBUF_TX_COMMIT)
			op = _IO(CIRCBUF_IOC_MAGIC, 0xff);
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
	Pending p{.kind = kUringPoll, .f = pick_device_fd()};
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
	Pending p{.kind = kUringCancel};
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

} // namespace circbuf::fuzz
