// circbuf-bench: the multishot engine. The consumer reads the byte stream
// the io_uring way: one IORING_OP_READ_MULTISHOT request (Linux 6.7) with a
// ring of provided buffers yields a completion per read, in stream order,
// each naming the buffer it filled; no chain of requests is needed. The
// producer writes with write(2).
#include <bit>

#include "bench_tool.h"

namespace circbuf::benchtool {

namespace {

// IORING_OP_READ_MULTISHOT in Linux 6.7's <linux/io_uring.h> (49 there and
// in every later kernel: opcodes are ABI). Debian 12's liburing 2.3 and its
// headers predate it.
constexpr std::uint8_t kOpReadMultishot = 49;
// The one buffer group of the consumer's ring.
constexpr unsigned kGroup = 0;

// Fill @sqe by hand, as liburing 2.6's io_uring_prep_read_multishot(): a
// read of @fd at the file position (streams have none), with no address
// and no length: each read takes a buffer of group @group, whole.
void prep_read_multishot(io_uring_sqe *sqe, int fd, unsigned group)
{
	io_uring_prep_rw(kOpReadMultishot, sqe, fd, nullptr, 0, __u64(-1));
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = std::uint16_t(group);
}

// The provided-buffer ring: @count buffers of @size bytes, registered as
// group kGroup, each handed back to the kernel once its data is checked.
class BufferRing {
public:
	BufferRing(io_uring &ring, unsigned count, size_t size)
		: ring_(ring), count_(count), size_(size), data_(count * size),
		  entries_(count * sizeof(io_uring_buf))
	{
		br_ = reinterpret_cast<io_uring_buf_ring *>(entries_.data());
		io_uring_buf_reg reg{};
		reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
		reg.ring_entries = count;
		reg.bgid = kGroup;
		if (int ret = io_uring_register_buf_ring(&ring_, &reg, 0); ret < 0)
			die_errno("io_uring_register_buf_ring", -ret);
		io_uring_buf_ring_init(br_);
		for (unsigned i = 0; i < count; i++)
			give(i);
	}
	~BufferRing() { io_uring_unregister_buf_ring(&ring_, int(kGroup)); }
	BufferRing(const BufferRing &) = delete;
	BufferRing &operator=(const BufferRing &) = delete;

	std::byte *at(unsigned id) const { return data_.data() + size_t(id) * size_; }

	// Hand buffer @id back to the kernel, for a read to come.
	void give(unsigned id)
	{
		io_uring_buf_ring_add(br_, at(id), unsigned(size_), std::uint16_t(id),
				      io_uring_buf_ring_mask(count_), 0);
		io_uring_buf_ring_advance(br_, 1);
	}

private:
	io_uring &ring_;
	unsigned count_;
	size_t size_;
	Buffer data_;
	Buffer entries_; // page aligned, as the kernel wants the ring
	io_uring_buf_ring *br_ = nullptr;
};

} // namespace

bool multishot_supported()
{
	io_uring_probe *probe = io_uring_get_probe();
	const bool ok = probe && io_uring_opcode_supported(probe, kOpReadMultishot);
	if (probe)
		io_uring_free_probe(probe);
	return ok;
}

void multishot_consumer(Run &run, unique_fd fd)
{
	// --qd buffers of a block each, a power of two as the kernel wants;
	// room in the completion queue for a completion per buffer and more,
	// so that the request never ends for want of it (it would be armed
	// again, but that costs a submission).
	const unsigned count = std::bit_ceil(unsigned(std::max<std::uint64_t>(run.opt.qd, 1)));
	io_uring ring{};
	io_uring_params p{};
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 4 * count;
	if (int ret = io_uring_queue_init_params(4, &ring, &p); ret < 0)
		die_errno("io_uring_queue_init", -ret);
	std::uint64_t off = 0;
	{
		BufferRing bufs(ring, count, run.bs);
		auto arm = [&] {
			io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				die("io_uring submission queue full (internal error)");
			prep_read_multishot(sqe, fd.get(), kGroup);
			for (int ret; (ret = io_uring_submit(&ring)) < 0;)
				if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
					die_errno("io_uring_submit", -ret);
		};
		run.start();
		arm();
		for (bool eof = false; !eof;) {
			io_uring_cqe *cqe;
			int ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret == -EINTR || ret == -EAGAIN)
				continue;
			if (ret < 0)
				die_errno("io_uring_wait_cqe", -ret);
			const int res = cqe->res;
			const unsigned flags = cqe->flags;
			io_uring_cqe_seen(&ring, cqe);
			if (res > 0) {
				if (!(flags & IORING_CQE_F_BUFFER))
					die(run.what + ": multishot read completed without a buffer");
				const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
				if (run.check_pattern)
					check_pattern(run.ref, bufs.at(id), size_t(res), off, run.what);
				off += std::uint64_t(res);
				bufs.give(id);
			} else if (res == 0) {
				eof = true;
			} else if (res != -ENOBUFS && !is_retry(res)) {
				die_errno(run.what + ": io_uring multishot read", -res);
			}
			// The request ended (end of file aside): every buffer
			// was full (-ENOBUFS), or a completion did not fit.
			if (!eof && !(flags & IORING_CQE_F_MORE))
				arm();
		}
	}
	io_uring_queue_exit(&ring);
	run.read += off;
	run.finish();
}

} // namespace circbuf::benchtool
