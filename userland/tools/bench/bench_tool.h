// circbuf-bench's parts (circbuf-bench.cpp says what it does): the options,
// the buffers and the folded test stream, the io_uring ring, the targets,
// one stream measurement and one ping-pong measurement. ring.cpp,
// targets.cpp, stream.cpp and pingpong.cpp hold their code.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <liburing.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "circbuf/bench.h"
#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/pattern.h"
#include "circbuf/report.h"
#include "circbuf/stats.h"


namespace circbuf::benchtool {

using namespace circbuf::bench;
using Clock = std::chrono::steady_clock;


constexpr const char *kTool = "circbuf-bench";
// The bench writes straight from a reference copy of the test stream, so
// that the measured loop makes no data. That copy holds the stream's first
// kPatternPeriod bytes (plus one block), and stream offset off is checked
// against its byte off % kPatternPeriod: 257 pages, so a page-sized or
// larger block stays page aligned, while a stale ring lap or a dropped
// block (a power of two of at most 2^31 bytes back) still reads wrong: 257
// is prime, and such a distance is a multiple of 257 pages only for 257 or
// more blocks at once.
constexpr size_t kPatternPeriod = 257 * 4096;
constexpr std::uint64_t kMaxQd = 4096;


// Fatal errors end the process: a stuck peer (a writer blocked on a full
// device whose reader failed) could otherwise never be joined.
[[noreturn]] void die(const std::string &msg);
[[noreturn]] void die_errno(const std::string &what, int err);

struct Options {
	std::vector<std::string> targets;
	std::vector<std::string> engines;
	std::vector<std::uint64_t> block_sizes;
	std::string device = "/dev/circbuf";
	std::uint64_t bytes = 64u << 20;
	double duration = 1;
	std::uint64_t producers = 1, consumers = 1;
	std::uint64_t qd = 4;
	bool fixed_buffers = false, fixed_files = false, sqpoll = false;
	bool pingpong = false;
	// pingpong: the circbuf ring that carries the replies; "": a pipe.
	std::string reply;
	std::uint64_t trips = 10000;
	std::uint64_t rounds = 1;
	std::uint64_t capacity = 0;
	bool verify = true;
	bool json = false, csv = false, markdown = false, verbose = false;
	std::string plot, json_file, markdown_file;
};

// ---- buffers ----

// Page-aligned, zeroed memory that io_uring can register.
struct Buffer {
	std::unique_ptr<std::byte, decltype(&std::free)> mem{nullptr, &std::free};
	size_t size = 0;

	explicit Buffer(size_t n) : size(n)
	{
		size_t rounded = (n + 4095) & ~size_t(4095);
		mem.reset(static_cast<std::byte *>(std::aligned_alloc(4096, rounded)));
		if (!mem)
			die("out of memory for a " + format_bytes(n) + " buffer");
		std::memset(mem.get(), 0, rounded);
	}
	std::byte *data() const { return mem.get(); }
	iovec iov() const { return {data(), size}; }
};

// The test stream folded at kPatternPeriod: stream byte off is the
// pattern's byte off % kPatternPeriod. The copy holds one period and then
// its first @max_block bytes again, so that any stretch of at most
// @max_block bytes at stream offset off is at data() + off % kPatternPeriod,
// whether or not it crosses the fold: a block written whole and read back
// in shorter pieces (blocks larger than the ring) is checked piece by piece.
struct Reference {
	Buffer buf;
	explicit Reference(size_t max_block) : buf(kPatternPeriod + max_block)
	{
		fill_pattern({buf.data(), kPatternPeriod}, 0);
		for (size_t done = 0; done < max_block;) {
			const size_t n = std::min(max_block - done, kPatternPeriod);
			std::memcpy(buf.data() + kPatternPeriod + done, buf.data() + done, n);
			done += n;
		}
	}
	const std::byte *at(std::uint64_t off) const
	{
		return buf.data() + off % kPatternPeriod;
	}
};

inline void check_pattern(const Reference &ref, const std::byte *data, size_t n,
		   std::uint64_t off, const std::string &what)
{
	const std::byte *want = ref.at(off);
	if (std::memcmp(data, want, n) == 0)
		return;
	size_t bad = 0;
	while (data[bad] == want[bad])
		bad++;
	die(strprintf("%s: data mismatch at stream byte %llu: read 0x%02x, expected 0x%02x",
		      what.c_str(), (unsigned long long)(off + bad), unsigned(data[bad]),
		      unsigned(want[bad])));
}

// ---- io_uring ----

// One request of a chain. @file indexes Ring's files, @buf_index its
// registered buffers (with --fixed-buffers, @buf must lie inside it).
struct Op {
	bool write = false;
	unsigned file = 0;
	unsigned buf_index = 0;
	std::byte *buf = nullptr;
	unsigned len = 0;
	int res = 0;
};

class Ring {
public:
	Ring(const Options &o, std::vector<int> fds, std::vector<iovec> regions)
		: fds_(std::move(fds)), fixed_files_(o.fixed_files),
		  fixed_buffers_(o.fixed_buffers)
	{
		io_uring_params p{};
		if (o.sqpoll) {
			p.flags |= IORING_SETUP_SQPOLL;
			p.sq_thread_idle = 50; // ms
		}
		int ret = io_uring_queue_init_params(unsigned(o.qd), &ring_, &p);
		if (ret < 0)
			die_errno("io_uring_queue_init", -ret);
		if (fixed_files_) {
			ret = io_uring_register_files(&ring_, fds_.data(), unsigned(fds_.size()));
			if (ret < 0)
				die_errno("io_uring_register_files", -ret);
		}
		if (fixed_buffers_) {
			ret = io_uring_register_buffers(&ring_, regions.data(),
							unsigned(regions.size()));
			if (ret < 0)
				die_errno("io_uring_register_buffers (RLIMIT_MEMLOCK?)", -ret);
		}
	}
	~Ring() { io_uring_queue_exit(&ring_); }

	// Let go of the registered files, so that closing ours is a real
	// close: a registered writer would keep the consumer from seeing EOF.
	void unregister_files()
	{
		if (!fixed_files_)
			return;
		int ret = io_uring_unregister_files(&ring_);
		if (ret < 0)
			die_errno("io_uring_unregister_files", -ret);
		fixed_files_ = false;
	}
	Ring(const Ring &) = delete;
	Ring &operator=(const Ring &) = delete;

	// Submit @ops as one linked chain and wait for all their completions;
	// each op's res is its cqe->res.
	void run_chain(std::span<Op> ops)
	{
		for (size_t i = 0; i < ops.size(); i++) {
			io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
			if (!sqe)
				die("io_uring submission queue full (internal error)");
			Op &op = ops[i];
			int fd = fixed_files_ ? int(op.file) : fds_[op.file];
			const __u64 pos = __u64(-1); // the file position: streams have none
			if (fixed_buffers_ && op.write)
				io_uring_prep_write_fixed(sqe, fd, op.buf, op.len, pos,
							  int(op.buf_index));
			else if (fixed_buffers_)
				io_uring_prep_read_fixed(sqe, fd, op.buf, op.len, pos,
							 int(op.buf_index));
			else if (op.write)
				io_uring_prep_write(sqe, fd, op.buf, op.len, pos);
			else
				io_uring_prep_read(sqe, fd, op.buf, op.len, pos);
			unsigned flags = fixed_files_ ? IOSQE_FIXED_FILE : 0;
			if (i + 1 < ops.size())
				flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_flags(sqe, flags);
			io_uring_sqe_set_data64(sqe, i);
		}
		unsigned want = unsigned(ops.size());
		for (;;) {
			int ret = io_uring_submit_and_wait(&ring_, want);
			if (ret >= 0)
				break;
			if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
				die_errno("io_uring_submit", -ret);
		}
		for (unsigned got = 0; got < want;) {
			if (io_uring_sq_ready(&ring_)) {
				int ret = io_uring_submit(&ring_);
				if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
					die_errno("io_uring_submit", -ret);
			}
			io_uring_cqe *cqe;
			int ret = io_uring_wait_cqe(&ring_, &cqe);
			if (ret == -EINTR || ret == -EAGAIN)
				continue;
			if (ret < 0)
				die_errno("io_uring_wait_cqe", -ret);
			auto i = io_uring_cqe_get_data64(cqe);
			if (i >= ops.size())
				die("io_uring completion for an unknown request");
			ops[i].res = cqe->res;
			io_uring_cqe_seen(&ring_, cqe);
			got++;
		}
	}

private:
	io_uring ring_{};
	std::vector<int> fds_;
	bool fixed_files_, fixed_buffers_;
};


// A result that only means "run this request again": not done, nothing moved.
bool is_retry(int res);

// Blocking helpers over one Ring: a chain of one request at a time.
void uring_write_all(Ring &ring, unsigned file, unsigned buf_index,
		     const std::byte *data, size_t n, const std::string &what);

// Read @n bytes unless EOF comes first; returns the bytes read.
size_t uring_read_full(Ring &ring, unsigned file, unsigned buf_index, std::byte *data,
		       size_t n, const std::string &what);

// iou-wrk threads of this process: io_uring's fallback worker pool.
int count_iowq_workers();

// ---- targets ----

struct Target {
	std::string name; // as given: circbuf, pipe or a path
	std::string path; // empty for pipe
};

Target make_target(const Options &o, const std::string &name);

// The device's capacity, or 0 if it cannot be asked.
std::uint64_t device_capacity(const std::string &path);

// Read and discard what @path holds now; returns the bytes drained.
std::uint64_t drain(const std::string &path);

// The files of one measurement: one per producer and per consumer.
struct Endpoints {
	std::vector<unique_fd> writers, readers;
	std::uint64_t capacity = 0;
};

// A pipe of @size bytes (0: the default size); the capacity is what the
// kernel made of it.
void make_pipe(std::uint64_t size, unique_fd &rd, unique_fd &wr, std::uint64_t *capacity);

// The files of target @t for @writers producers and @readers consumers (a
// pipe of @pipe_size bytes for "pipe"); what the target held before is
// drained, and its byte count stored in @drained. The writers' files are
// open with @writer_mode: O_RDWR for one that maps the ring, as mmap()
// needs a file open for reading.
Endpoints open_target(const Target &t, std::uint64_t pipe_size, size_t writers,
		      size_t readers, std::uint64_t *drained, int writer_mode = O_WRONLY);

// ---- one measurement ----


// What the threads of one measurement share. The latches give the order:
// every thread set up (ready), clock and rusage taken, go; every thread done
// (finished), io-wq counted, threads may tear down their rings (release).
struct Run {
	const Options &opt;
	std::string what; // "circbuf uring 4K", for messages
	std::uint64_t bs;
	const Reference &ref;
	bool check_pattern;
	std::latch ready, go{1}, finished, release{1};
	Clock::time_point deadline = Clock::time_point::max();
	std::atomic<std::uint64_t> written{0}, read{0}, blocks{0};

	Run(const Options &o, std::string w, std::uint64_t b, const Reference &r, bool check,
	    size_t threads)
		: opt(o), what(std::move(w)), bs(b), ref(r), check_pattern(check),
		  ready(std::ptrdiff_t(threads) + 1), finished(std::ptrdiff_t(threads))
	{
	}

	bool time_up() const { return Clock::now() >= deadline; }
	void start()
	{
		ready.arrive_and_wait();
		go.wait();
	}
	void finish()
	{
		finished.count_down();
		release.wait();
	}
};

struct Usage {
	Clock::time_point t;
	rusage ru{};
	static Usage now()
	{
		Usage u;
		u.t = Clock::now();
		::getrusage(RUSAGE_SELF, &u.ru);
		return u;
	}
};

// The time, CPU time and context switches between @a and @b, into @s.
void fill_usage(Sample &s, const Usage &a, const Usage &b);

// The timed part of a measurement whose threads wait in @run: start them
// together, end at their finish or after @duration seconds (0: no limit),
// and count io-wq workers (with @uring) before the threads tear down.
Sample time_run(Run &run, double duration, bool uring);

// The multishot engine (multishot.cpp): whether the kernel has
// IORING_OP_READ_MULTISHOT (6.7 and later), and the consumer that uses it.
bool multishot_supported();
void multishot_consumer(Run &run, unique_fd fd);

// The mmap engine (mapped.cpp): a producer and a consumer that work in the
// mapped ring in place, through the span protocol.
void mmap_producer(Run &run, unique_fd fd, std::uint64_t quota);
void mmap_consumer(Run &run, unique_fd fd);

// One throughput measurement of @engine on @t in blocks of @bs.
Sample measure_stream(const Options &o, const Target &t, const std::string &engine,
		      std::uint64_t bs, const Reference &ref, std::uint64_t pipe_size,
		      std::uint64_t &capacity, std::uint64_t &drained);

// One round-trip latency measurement of @engine on @t with @bs-byte messages.
Sample measure_pingpong(const Options &o, const Target &t, const std::string &engine,
			std::uint64_t bs, const Reference &ref, std::uint64_t pipe_size,
			std::uint64_t &capacity, std::uint64_t &drained);

} // namespace circbuf::benchtool
