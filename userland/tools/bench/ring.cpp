// circbuf-bench: fatal errors, blocking helpers over the io_uring ring, and
// the io-wq worker count.
#include "bench_tool.h"

namespace circbuf::benchtool {

namespace {
std::mutex die_lock;
} // namespace

void die(const std::string &msg)
{
	std::lock_guard g(die_lock);
	std::fflush(stdout);
	print_error(kTool, msg);
	std::_Exit(1);
}

void die_errno(const std::string &what, int err)
{
	std::lock_guard g(die_lock);
	std::fflush(stdout);
	print_error(kTool, what, errno_code(err));
	std::_Exit(1);
}

// A result that only means "run this request again": not done, nothing moved.
bool is_retry(int res)
{
	return res == -EAGAIN || res == -EINTR || res == -ECANCELED;
}

// Blocking helpers over one Ring: a chain of one request at a time.
void uring_write_all(Ring &ring, unsigned file, unsigned buf_index,
		     const std::byte *data, size_t n, const std::string &what)
{
	while (n) {
		Op op{true, file, buf_index, const_cast<std::byte *>(data),
		      unsigned(std::min<size_t>(n, 1u << 30)), 0};
		ring.run_chain({&op, 1});
		if (op.res > 0) {
			data += op.res;
			n -= size_t(op.res);
		} else if (op.res == 0) {
			die(what + ": write returned 0");
		} else if (!is_retry(op.res)) {
			die_errno(what + ": io_uring write", -op.res);
		}
	}
}

// Read @n bytes unless EOF comes first; returns the bytes read.
size_t uring_read_full(Ring &ring, unsigned file, unsigned buf_index, std::byte *data,
		       size_t n, const std::string &what)
{
	size_t done = 0;
	while (done < n) {
		Op op{false, file, buf_index, data + done, unsigned(n - done), 0};
		ring.run_chain({&op, 1});
		if (op.res > 0)
			done += size_t(op.res);
		else if (op.res == 0)
			break;
		else if (!is_retry(op.res))
			die_errno(what + ": io_uring read", -op.res);
	}
	return done;
}

// iou-wrk threads of this process: io_uring's fallback worker pool.
int count_iowq_workers()
{
	int n = 0;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
		std::ifstream comm(e.path() / "comm");
		std::string name;
		if (std::getline(comm, name) && name.starts_with("iou-wrk"))
			n++;
	}
	return n;
}

} // namespace circbuf::benchtool
