// circbuf-fuzz: the span protocol's operation (see fuzz.h).
#include "fuzz.h"

namespace circbuf::fuzz {

// The span protocol, on this worker's own files only: a span holds its
// direction of the ring, and another worker's call on a shared file (or an
// io_uring request of this one on the file) would meet EBUSY, which no
// other operation expects. An ACQUIRE is ended at once, by a RELEASE or
// COMMIT of part of it. Also: a RELEASE or COMMIT with no span held, a
// nonzero reserved field, a length past the capacity, a bad argument, and
// any file the other operations use (where the call fails before it could
// hold anything).
void Worker::op_span()
{
	static constexpr unsigned long cmds[] = {CIRCBUF_RX_ACQUIRE, CIRCBUF_RX_RELEASE,
						 CIRCBUF_TX_ACQUIRE, CIRCBUF_TX_COMMIT};
	const unsigned long cmd = cmds[rnd(std::size(cmds))];
	const bool rx = cmd == CIRCBUF_RX_ACQUIRE || cmd == CIRCBUF_RX_RELEASE;
	const bool acquire = cmd == CIRCBUF_RX_ACQUIRE || cmd == CIRCBUF_TX_ACQUIRE;
	FdRef f = pick_fd();
	const bool in_flight = std::any_of(pending_.begin(), pending_.end(),
					   [&](const auto &q) { return q.second.f.fd == f.fd; });
	// A call that could hold a span: on another file, refused first.
	const bool may_hold = acquire && f.priv && !f.path && !in_flight &&
			      (rx ? f.can_read() : f.can_write());
	circbuf_span sp{};
	sp.len = chance(10) ? sh_.capacity + 1 + rnd(sh_.capacity) : rnd(2 * kPipeBuf);
	bool bad_arg = !may_hold && chance(15);
	if (chance(5))
		sp.reserved[rnd(2)] = rng_.next() | 1;
	else if (acquire && !may_hold && !bad_arg)
		bad_arg = true; // never hold one where it must not be held
	void *arg = &sp;
	if (bad_arg) {
		static constexpr std::uintptr_t bad[] = {0x8, 0xffff888000000000UL};
		arg = chance(50) ? sh_.prot_none : reinterpret_cast<void *>(bad[rnd(std::size(bad))]);
	}
	const int fl = f.priv && f.open && !f.path ? ::fcntl(f.fd, F_GETFL) : 0;
	const circbuf_span asked = sp;
	errno = 0;
	long r = ::syscall(SYS_ioctl, f.fd, cmd, arg);
	int e = errno;
	const char *what = rx ? (acquire ? "RX_ACQUIRE" : "RX_RELEASE")
			      : (acquire ? "TX_ACQUIRE" : "TX_COMMIT");
	if (!f.open || f.path) {
		expect_errno(kSpan, r, e, {EBADF}, "bad fd");
		return;
	}
	if (bad_arg) {
		if (r >= 0)
			fail("%s with an unreadable argument succeeded", what);
		expect_errno(kSpan, r, e, {EFAULT}, what);
		return;
	}
	if (asked.reserved[0] || asked.reserved[1]) {
		if (r >= 0)
			fail("%s with a nonzero reserved field succeeded", what);
		expect_errno(kSpan, r, e, {EINVAL}, what);
		return;
	}
	if (!(rx ? f.can_read() : f.can_write())) {
		if (r >= 0)
			fail("%s on a file not open for it succeeded", what);
		expect_errno(kSpan, r, e, {EBADF}, what);
		return;
	}
	if (!acquire) {
		// This worker holds no span: it ends each one at once.
		if (r >= 0)
			fail("%s without a span succeeded", what);
		expect_errno(kSpan, r, e, {EINVAL, EINTR}, what);
		return;
	}
	const size_t want = asked.len ? size_t(asked.len) : 1;
	const bool einval = want > sh_.capacity || (!rx && (fl & O_DIRECT));
	if (r < 0) {
		// The length is checked under the direction's lock, which
		// comes first (a signal, or EAGAIN while another worker holds
		// a span).
		if (einval && f.nonblock)
			expect_errno(kSpan, r, e, {EINVAL, EINTR, EAGAIN}, what);
		else if (einval)
			expect_errno(kSpan, r, e, {EINVAL, EINTR}, what);
		else if (f.nonblock)
			expect_errno(kSpan, r, e, {EAGAIN, EINTR}, what);
		else
			expect_errno(kSpan, r, e, {EINTR}, what);
		return;
	}
	count(kSpan, 0);
	if (einval)
		fail("%s of %zu bytes (capacity %zu%s) succeeded", what, want, sh_.capacity,
		     fl & O_DIRECT ? ", packet mode" : "");
	if (sp.offset >= sh_.capacity || sp.len > sh_.capacity || sp.reserved[0] || sp.reserved[1])
		fail("%s returned offset %llu, len %llu, reserved %llu %llu (capacity %zu)", what,
		     (unsigned long long)sp.offset, (unsigned long long)sp.len,
		     (unsigned long long)sp.reserved[0], (unsigned long long)sp.reserved[1],
		     sh_.capacity);
	if (!rx && sp.len < want)
		fail("TX_ACQUIRE of %zu bytes returned %llu", want, (unsigned long long)sp.len);
	if (sp.len == 0)
		return; // end of file: nothing held
	// End it: first, now and then, with more than it holds (refused,
	// still held), then with part of it; retried while a signal cuts the
	// wait for the lock.
	const unsigned long end = rx ? CIRCBUF_RX_RELEASE : CIRCBUF_TX_COMMIT;
	circbuf_span done{};
	if (chance(10)) {
		done.len = sp.len + 1;
		r = ::ioctl(f.fd, end, &done);
		if (r == 0 || (errno != EINVAL && errno != EINTR))
			fail("%s of more than the span: %s", rx ? "RX_RELEASE" : "TX_COMMIT",
			     r == 0 ? "succeeded" : errname(errno).c_str());
	}
	done.len = rnd(std::min<std::uint64_t>(sp.len, kPipeBuf) + 1);
	do {
		r = ::ioctl(f.fd, end, &done);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		fail("%s of %llu of a %llu-byte span: %s", rx ? "RX_RELEASE" : "TX_COMMIT",
		     (unsigned long long)done.len, (unsigned long long)sp.len,
		     errname(errno).c_str());
}

} // namespace circbuf::fuzz
