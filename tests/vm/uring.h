// An io_uring instance for the device tests, and waiting for a completion:
// the one copy for every test that submits requests.
#ifndef CIRCBUF_TESTS_VM_URING_H
#define CIRCBUF_TESTS_VM_URING_H

#include <liburing.h>

namespace circbuf_vm {

// Waits up to @ts for one completion of @ring: its cqe->res, or -ETIME.
inline int wait_res(io_uring *ring, __kernel_timespec ts = {5, 0})
{
	io_uring_cqe *cqe = nullptr;
	if (int ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts); ret != 0)
		return ret;
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

// An io_uring instance of @entries entries, torn down on scope exit.
class Ring {
public:
	explicit Ring(unsigned flags = 0, unsigned entries = 8)
	{
		ok_ = io_uring_queue_init(entries, &ring_, flags) == 0;
	}
	Ring(const Ring &) = delete;
	Ring &operator=(const Ring &) = delete;
	~Ring()
	{
		if (ok_)
			io_uring_queue_exit(&ring_);
	}
	bool ok() const { return ok_; }
	io_uring *get() { return &ring_; }

	// Waits up to @ts for one completion: cqe->res, or -ETIME.
	int wait_res(__kernel_timespec ts = {5, 0}) { return circbuf_vm::wait_res(&ring_, ts); }

private:
	io_uring ring_{};
	bool ok_ = false;
};

}  // namespace circbuf_vm

#endif  // CIRCBUF_TESTS_VM_URING_H
