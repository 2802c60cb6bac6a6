// circbuf-bench: moves data from producers to consumers through /dev/circbuf,
// a pipe(2) of the same capacity or any other path, with read/write or
// io_uring, and reports throughput, CPU and context switches per MiB, or
// round-trip latency percentiles (--pingpong).
//
// Ordering on a byte stream: two requests in flight on one file may run in
// either order (one goes inline, the other waits for poll), so the io_uring
// engine submits its --qd requests as one IOSQE_IO_LINK chain, which runs
// them one after another. A short transfer, -EAGAIN or -EINTR breaks the
// chain (the rest complete with -ECANCELED); the engine then requeues the
// unwritten remainder and the cancelled requests, in stream order, as the
// next chain. io_uring ends a chain at each submit, so every io_uring_submit
// carries exactly one chain of --qd requests.
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

using namespace circbuf;
using namespace circbuf::bench;
using Clock = std::chrono::steady_clock;

namespace {

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

struct Options {
	std::vector<std::string> targets;
	std::vector<std::string> engines;
	std::vector<std::uint64_t> block_sizes;
	std::string device = "/dev/circbuf";
	std::uint64_t bytes = 64u << 20;
	double seconds = 1;
	std::uint64_t producers = 1, consumers = 1;
	std::uint64_t qd = 4;
	bool fixed_buffers = false, fixed_files = false, sqpoll = false;
	bool pingpong = false;
	std::uint64_t trips = 10000;
	std::uint64_t rounds = 1;
	std::uint64_t capacity = 0;
	bool verify = true;
	bool json = false, csv = false, markdown = false, verbose = false;
	std::string plot, json_file, markdown_file;
};

// The io_uring options of a Row, in the order --help lists them.
std::string uring_options(const Options &o)
{
	std::string s;
	for (auto [on, name] : {std::pair{o.fixed_buffers, "fixed-buffers"},
				std::pair{o.fixed_files, "fixed-files"}, std::pair{o.sqpoll, "sqpoll"}})
		if (on)
			s += (s.empty() ? "" : ",") + std::string(name);
	return s;
}

const char *kAbout =
	"Move data from producers to consumers through a target and report\n"
	"throughput (MB/s = 10^6 bytes/s), blocks per second, CPU time (user +\n"
	"system of the whole process, getrusage) and context switches per MiB;\n"
	"or, with --pingpong, round-trip latency percentiles.\n"
	"\n"
	"Targets: 'circbuf' is the device (--device); 'pipe' is a pipe(2)\n"
	"whose size is set with F_SETPIPE_SZ to the device's capacity (the\n"
	"kernel rounds it up to a power-of-two number of pages: the capacity\n"
	"column shows the real size); any other value is a path (a FIFO,\n"
	"another character device), opened once per producer and consumer.\n"
	"Data left in the device or FIFO is drained before each measurement.\n"
	"\n"
	"Engines: 'sync' uses read(2)/write(2), one thread per producer and\n"
	"consumer; 'uring' uses an io_uring per thread with --qd requests in\n"
	"flight as one linked chain (a byte stream needs its requests in order;\n"
	"io_uring ends a chain at each submit, so each io_uring_submit carries\n"
	"one chain of --qd requests); short transfers, -EAGAIN and -EINTR are\n"
	"requeued. 'mixed' is an io_uring consumer with a read/write producer.\n"
	"\n"
	"Each measurement ends when the producers have written --bytes or after\n"
	"--seconds, whichever comes first; the producers then close their files\n"
	"and the consumers read to end of file. With --rounds=R every\n"
	"(target, engine) pair is measured R times, alternating (A B A B ...),\n"
	"and the median is reported with the min-max spread.\n"
	"\n"
	"Verification: the producer writes the deterministic test pattern of\n"
	"circbuf-write --pattern and, with one producer and one consumer, the\n"
	"consumer checks every byte. With several producers or consumers the\n"
	"streams interleave, so only the byte count is checked.\n"
	"\n"
	"--pingpong: A writes --bs bytes to the target, B reads them and sends\n"
	"them back through a pipe (one device cannot carry both directions: the\n"
	"reply would be read back by its own sender), A reads the reply: one\n"
	"round trip. The engine applies to the target only; the reply pipe is\n"
	"always read(2)/write(2). Reported: p50, p99 and p99.9 in microseconds.";

const char *kEpilog =
	"Output: a table on stdout; --json or --csv for scripts, --markdown for\n"
	"results pages; a progress line on stderr when stderr is a terminal.\n"
	"--verbose reports each measurement on stderr, with \"io-wq workers: N\",\n"
	"the iou-wrk threads alive when the transfer ends (0 means io_uring\n"
	"never fell back to its worker pool).\n"
	"\n"
	"Exit status: 0 success; 1 an I/O error, a verification failure or\n"
	"another failure (the message names it); 2 a bad command line.";

// Fatal errors end the process: a stuck peer (a writer blocked on a full
// device whose reader failed) could otherwise never be joined.
std::mutex die_lock;

[[noreturn]] void die(const std::string &msg)
{
	std::lock_guard g(die_lock);
	std::fflush(stdout);
	print_error(kTool, msg);
	std::_Exit(1);
}

[[noreturn]] void die_errno(const std::string &what, int err)
{
	std::lock_guard g(die_lock);
	std::fflush(stdout);
	print_error(kTool, what, errno_code(err));
	std::_Exit(1);
}

Options parse_options(int argc, char **argv)
{
	Options o;
	std::string targets = "circbuf", engines = "sync", bs = "4K";
	bool sweep = false, no_verify = false;
	OptionParser p(kTool, "[OPTIONS]", kAbout, kEpilog);
	p.string("target", "LIST",
		 "comma-separated targets: circbuf, pipe or a path\n(default circbuf)",
		 targets);
	p.string("engine", "LIST",
		 "comma-separated engines: sync, uring, mixed\n(default sync)", engines);
	p.string("bs", "LIST",
		 "comma-separated block sizes, e.g. 64,4K,64K,1M\n"
		 "(default 4K; at most 64M)",
		 bs);
	p.flag("sweep", "block sizes 64 B to 1 MiB in powers of 4\n(overrides --bs)", sweep);
	p.size("bytes", "bytes per measurement, split among the producers\n"
			"(default 64M)",
	       o.bytes);
	p.seconds("seconds", "end a measurement after this long even if --bytes\n"
			     "were not reached; 0: no limit (default 1)",
		  o.seconds);
	p.uint("producers", "producer threads, each with its own file (default 1)",
	       o.producers);
	p.uint("consumers", "consumer threads, each with its own file (default 1)",
	       o.consumers);
	p.uint("qd", "io_uring: requests in flight per thread, 1..4096\n(default 4)", o.qd);
	p.flag("fixed-buffers", "io_uring: register the buffers\n"
				"(io_uring_register_buffers, READ_FIXED/WRITE_FIXED)",
	       o.fixed_buffers);
	p.flag("fixed-files", "io_uring: register the files (IOSQE_FIXED_FILE)",
	       o.fixed_files);
	p.flag("sqpoll", "io_uring: a kernel thread polls the submission queue\n"
			 "(IORING_SETUP_SQPOLL)",
	       o.sqpoll);
	p.flag("pingpong", "latency mode: round trips of --bs bytes (see above)",
	       o.pingpong);
	p.uint("trips", "pingpong: round trips per measurement, also bounded\n"
			"by --seconds (default 10000)",
	       o.trips);
	p.uint("rounds", "measure every (target, engine, bs) this many times,\n"
			 "alternating; report median and min-max (default 1)",
	       o.rounds);
	p.string("device", "PATH", "the circbuf device (default /dev/circbuf)", o.device);
	p.size("capacity", "pipe size for --target=pipe instead of the device's\n"
			   "capacity (needed when there is no device)",
	       o.capacity);
	p.flag("no-verify", "do not check the data (byte counts still are)", no_verify);
	p.flag("json", "print one JSON array of objects instead of the table", o.json);
	p.flag("csv", "print CSV (a header line, one line per result)", o.csv);
	p.flag("markdown", "print markdown tables instead of the table", o.markdown);
	p.string("json-file", "FILE",
		 "also write the JSON array to FILE, whatever stdout gets", o.json_file);
	p.string("markdown-file", "FILE",
		 "also write the markdown tables to FILE, whatever stdout gets",
		 o.markdown_file);
	p.string("plot", "FILE.png",
		 "plot MB/s against block size with gnuplot; without\n"
		 "gnuplot, write FILE.dat and FILE.gp instead",
		 o.plot);
	p.flag("verbose", "report every measurement on stderr", o.verbose);
	auto args = p.parse_or_exit(argc, argv);
	if (!args.empty())
		p.usage_error("unexpected argument '" + args[0] + "'");

	o.verify = !no_verify;
	for (auto &t : split_list(targets)) {
		if (t.empty())
			p.usage_error("empty item in --target");
		o.targets.push_back(t);
	}
	for (auto &e : split_list(engines)) {
		if (e != "sync" && e != "uring" && e != "mixed")
			p.usage_error("bad engine '" + e + "': expected sync, uring or mixed");
		o.engines.push_back(e);
	}
	if (sweep) {
		o.block_sizes = sweep_block_sizes();
	} else {
		auto sizes = parse_block_sizes(bs);
		if (!sizes)
			p.usage_error(sizes.error());
		o.block_sizes = *sizes;
	}
	if (int(o.json) + int(o.csv) + int(o.markdown) > 1)
		p.usage_error("--json, --csv and --markdown exclude each other");
	if (o.producers < 1 || o.producers > 256 || o.consumers < 1 || o.consumers > 256)
		p.usage_error("--producers and --consumers must be 1..256");
	if (o.qd < 1 || o.qd > kMaxQd)
		p.usage_error("--qd must be 1..4096");
	if (o.rounds < 1 || o.rounds > 1000)
		p.usage_error("--rounds must be 1..1000");
	if (o.bytes == 0)
		p.usage_error("--bytes must be positive");
	if (o.pingpong && (o.producers != 1 || o.consumers != 1))
		p.usage_error("--pingpong is one producer and one consumer");
	if (o.pingpong && o.trips == 0)
		p.usage_error("--trips must be positive");
	if (!o.plot.empty() && o.pingpong)
		p.usage_error("--plot draws throughput; it does not apply to --pingpong");
	return o;
}

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

// The test stream folded at kPatternPeriod, plus one block: any stretch of
// at most @max_block bytes at stream offset off is at data() + off %
// kPatternPeriod.
struct Reference {
	Buffer buf;
	explicit Reference(size_t max_block) : buf(kPatternPeriod + max_block)
	{
		fill_pattern({buf.data(), buf.size}, 0);
	}
	const std::byte *at(std::uint64_t off) const
	{
		return buf.data() + off % kPatternPeriod;
	}
};

void check_pattern(const Reference &ref, const std::byte *data, size_t n,
		   std::uint64_t off, const std::string &what)
{
	if (std::memcmp(data, ref.at(off), n) == 0)
		return;
	const std::uint64_t folded = off % kPatternPeriod;
	const size_t bad = find_pattern_mismatch({data, n}, folded).value_or(0);
	die(strprintf("%s: data mismatch at stream byte %llu: read 0x%02x, expected 0x%02x",
		      what.c_str(), (unsigned long long)(off + bad), unsigned(data[bad]),
		      unsigned(pattern_byte(folded + bad))));
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

// ---- targets ----

struct Target {
	std::string name; // as given: circbuf, pipe or a path
	std::string path; // empty for pipe
};

Target make_target(const Options &o, const std::string &name)
{
	if (name == "circbuf")
		return {name, o.device};
	if (name == "pipe")
		return {name, {}};
	return {name, name};
}

// The device's capacity, or 0 if it cannot be asked.
std::uint64_t device_capacity(const std::string &path)
{
	auto fd = open_fd(path.c_str(), O_RDONLY | O_NONBLOCK);
	if (!fd)
		return 0;
	auto st = get_stats(fd->get());
	return st ? st->capacity : 0;
}

// Read and discard what @path holds now; returns the bytes drained.
std::uint64_t drain(const std::string &path)
{
	auto fd = open_fd(path.c_str(), O_RDONLY | O_NONBLOCK);
	if (!fd)
		die_errno("open " + path, fd.error().value());
	auto n = circbuf::drain(fd->get());
	if (!n)
		die_errno("drain " + path, n.error().value());
	return *n;
}

// The files of one measurement: one per producer and per consumer.
struct Endpoints {
	std::vector<unique_fd> writers, readers;
	std::uint64_t capacity = 0;
};

void clear_nonblock(int fd, const std::string &what)
{
	int fl = ::fcntl(fd, F_GETFL);
	if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		die_errno("fcntl " + what, errno);
}

unique_fd dup_fd(int fd)
{
	int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		die_errno("dup", errno);
	return unique_fd(d);
}

// A pipe of @size bytes (0: the default size); the capacity is what the
// kernel made of it.
void make_pipe(std::uint64_t size, unique_fd &rd, unique_fd &wr, std::uint64_t *capacity)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) < 0)
		die_errno("pipe2", errno);
	rd.reset(fds[0]);
	wr.reset(fds[1]);
	if (size && ::fcntl(wr.get(), F_SETPIPE_SZ, int(std::min<std::uint64_t>(size, INT32_MAX))) < 0)
		die_errno(strprintf("F_SETPIPE_SZ %llu (see /proc/sys/fs/pipe-max-size)",
				    (unsigned long long)size), errno);
	int got = ::fcntl(wr.get(), F_GETPIPE_SZ);
	if (got < 0)
		die_errno("F_GETPIPE_SZ", errno);
	if (capacity)
		*capacity = std::uint64_t(got);
}

Endpoints open_target(const Target &t, std::uint64_t pipe_size, size_t writers,
		      size_t readers, std::uint64_t *drained)
{
	Endpoints ep;
	if (t.path.empty()) {
		unique_fd rd, wr;
		make_pipe(pipe_size, rd, wr, &ep.capacity);
		for (size_t i = 0; i < writers; i++)
			ep.writers.push_back(dup_fd(wr.get()));
		for (size_t i = 0; i < readers; i++)
			ep.readers.push_back(dup_fd(rd.get()));
		return ep;
	}
	*drained = drain(t.path);
	// Readers first, without blocking, so that opening a FIFO for writing
	// finds a reader; then the reads block as usual.
	for (size_t i = 0; i < readers; i++) {
		auto fd = open_fd(t.path.c_str(), O_RDONLY | O_NONBLOCK);
		if (!fd)
			die_errno("open " + t.path, fd.error().value());
		clear_nonblock(fd->get(), t.path);
		ep.readers.push_back(std::move(*fd));
	}
	for (size_t i = 0; i < writers; i++) {
		auto fd = open_fd(t.path.c_str(), O_WRONLY);
		if (!fd)
			die_errno("open " + t.path + " for writing", fd.error().value());
		ep.writers.push_back(std::move(*fd));
	}
	if (auto st = get_stats(ep.readers[0].get()))
		ep.capacity = st->capacity;
	else if (int sz = ::fcntl(ep.readers[0].get(), F_GETPIPE_SZ); sz > 0)
		ep.capacity = std::uint64_t(sz);
	return ep;
}

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

void sync_producer(Run &run, unique_fd fd, std::uint64_t quota)
{
	run.start();
	std::uint64_t off = 0, blocks = 0;
	while (off < quota && !run.time_up()) {
		size_t len = size_t(std::min<std::uint64_t>(run.bs, quota - off));
		auto n = write_full(fd.get(), {run.ref.at(off), len});
		if (!n)
			die_errno(run.what + ": write", n.error().value());
		off += len;
		blocks++;
	}
	fd.reset(); // end of file for the consumers once every producer is done
	run.written += off;
	run.blocks += blocks;
	run.finish();
}

void sync_consumer(Run &run, unique_fd fd)
{
	Buffer buf(run.bs);
	run.start();
	std::uint64_t off = 0;
	for (;;) {
		auto n = read_some(fd.get(), {buf.data(), buf.size});
		if (!n)
			die_errno(run.what + ": read", n.error().value());
		if (*n == 0)
			break;
		if (run.check_pattern)
			check_pattern(run.ref, buf.data(), *n, off, run.what);
		off += *n;
	}
	run.read += off;
	run.finish();
}

void uring_producer(Run &run, unique_fd fd, std::uint64_t quota)
{
	// Fixed buffers: the reference stream itself is the registered buffer.
	Ring ring(run.opt, {fd.get()}, {run.ref.buf.iov()});
	struct Job {
		std::uint64_t off;
		size_t len, done;
	};
	std::deque<Job> pending;
	std::vector<Op> ops(run.opt.qd);
	run.start();
	std::uint64_t next = 0, written = 0, blocks = 0;
	bool stop = false;
	for (;;) {
		while (pending.size() < run.opt.qd && next < quota && !stop) {
			if (run.time_up()) {
				stop = true;
				break;
			}
			size_t len = size_t(std::min<std::uint64_t>(run.bs, quota - next));
			pending.push_back({next, len, 0});
			next += len;
		}
		if (pending.empty())
			break;
		size_t n = std::min<size_t>(pending.size(), run.opt.qd);
		for (size_t i = 0; i < n; i++) {
			const Job &j = pending[i];
			ops[i] = {true, 0, 0, const_cast<std::byte *>(run.ref.at(j.off + j.done)),
				  unsigned(j.len - j.done), 0};
		}
		ring.run_chain({ops.data(), n});
		// The chain ran in order: a prefix of whole writes, then at
		// most one short one, then requests that did not run.
		size_t complete = 0;
		bool broken = false;
		for (size_t i = 0; i < n; i++) {
			Job &j = pending[i];
			int res = ops[i].res;
			if (res < 0 && !is_retry(res))
				die_errno(run.what + ": io_uring write", -res);
			if (res == 0)
				die(run.what + ": io_uring write returned 0");
			if (res < 0) {
				broken = true;
				continue;
			}
			if (broken)
				die(run.what + ": io_uring write ran after a short or failed "
					       "one in its chain: the stream is out of order");
			j.done += size_t(res);
			written += std::uint64_t(res);
			if (j.done == j.len)
				complete++;
			else
				broken = true; // short write: requeue the remainder
		}
		pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(complete));
		blocks += complete;
	}
	ring.unregister_files();
	fd.reset();
	run.written += written;
	run.blocks += blocks;
	run.finish();
}

void uring_consumer(Run &run, unique_fd fd)
{
	size_t qd = run.opt.qd;
	Buffer buf(qd * run.bs);
	Ring ring(run.opt, {fd.get()}, {buf.iov()});
	std::vector<Op> ops(qd);
	run.start();
	std::uint64_t off = 0;
	bool eof = false;
	while (!eof) {
		for (size_t i = 0; i < qd; i++)
			ops[i] = {false, 0, 0, buf.data() + i * run.bs, unsigned(run.bs), 0};
		ring.run_chain(ops);
		// Linked reads run one after another, so the data of the
		// chain is in stream order whatever broke it.
		for (size_t i = 0; i < qd && !eof; i++) {
			int res = ops[i].res;
			if (res < 0 && !is_retry(res))
				die_errno(run.what + ": io_uring read", -res);
			if (res == 0)
				eof = true;
			if (res <= 0)
				continue;
			if (run.check_pattern)
				check_pattern(run.ref, ops[i].buf, size_t(res), off, run.what);
			off += std::uint64_t(res);
		}
	}
	run.read += off;
	run.finish();
}

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

double tv_seconds(const timeval &tv)
{
	return double(tv.tv_sec) + double(tv.tv_usec) / 1e6;
}

void fill_usage(Sample &s, const Usage &a, const Usage &b)
{
	s.seconds = std::chrono::duration<double>(b.t - a.t).count();
	s.cpu_seconds = tv_seconds(b.ru.ru_utime) - tv_seconds(a.ru.ru_utime) +
			tv_seconds(b.ru.ru_stime) - tv_seconds(a.ru.ru_stime);
	s.vcsw = std::uint64_t(b.ru.ru_nvcsw - a.ru.ru_nvcsw);
	s.ivcsw = std::uint64_t(b.ru.ru_nivcsw - a.ru.ru_nivcsw);
}

Sample measure_stream(const Options &o, const Target &t, const std::string &engine,
		      std::uint64_t bs, const Reference &ref, std::uint64_t pipe_size,
		      std::uint64_t &capacity, std::uint64_t &drained)
{
	std::string what = t.name + " " + engine + " " + format_block_size(bs);
	Endpoints ep = open_target(t, pipe_size, o.producers, o.consumers, &drained);
	capacity = ep.capacity;
	bool pattern = o.verify && o.producers == 1 && o.consumers == 1;
	size_t nthreads = o.producers + o.consumers;
	Run run(o, what, bs, ref, pattern, nthreads);

	bool uring_prod = engine == "uring";
	bool uring_cons = engine == "uring" || engine == "mixed";
	// Each producer writes whole blocks of its share; the first takes
	// what does not divide evenly.
	std::uint64_t share = o.bytes / o.producers;
	std::vector<std::thread> threads;
	for (size_t i = 0; i < o.consumers; i++)
		threads.emplace_back(uring_cons ? uring_consumer : sync_consumer,
				     std::ref(run), std::move(ep.readers[i]));
	for (size_t i = 0; i < o.producers; i++) {
		std::uint64_t quota = share + (i == 0 ? o.bytes % o.producers : 0);
		threads.emplace_back(uring_prod ? uring_producer : sync_producer,
				     std::ref(run), std::move(ep.writers[i]), quota);
	}
	run.ready.arrive_and_wait();
	Usage before = Usage::now();
	if (o.seconds > 0)
		run.deadline = before.t + std::chrono::duration_cast<Clock::duration>(
						  std::chrono::duration<double>(o.seconds));
	run.go.count_down();
	run.finished.wait();
	Usage after = Usage::now();
	Sample s;
	fill_usage(s, before, after);
	if (uring_prod || uring_cons)
		s.iowq_workers = count_iowq_workers();
	run.release.count_down();
	for (auto &th : threads)
		th.join();
	if (run.read != run.written)
		die(strprintf("%s: producers wrote %llu bytes, consumers read %llu",
			      what.c_str(), (unsigned long long)run.written.load(),
			      (unsigned long long)run.read.load()));
	s.bytes = run.written;
	s.ops = run.blocks;
	return s;
}

// ---- pingpong ----

// A: the requester. Writes a request to the target, reads the reply from
// the pipe, checks it and times the round trip. The reply pipe always goes
// by read/write, so the engine under test touches only the target (and
// io-wq workers, if any, are the target's: 6.1's pipes punt to io-wq).
void pingpong_a(Run &run, bool uring, unique_fd target, unique_fd reply,
		std::vector<double> &lat_us)
{
	Buffer in(run.bs);
	std::unique_ptr<Ring> ring;
	if (uring)
		ring = std::make_unique<Ring>(run.opt, std::vector<int>{target.get()},
					      std::vector<iovec>{run.ref.buf.iov()});
	lat_us.reserve(run.opt.trips);
	run.start();
	std::uint64_t off = 0;
	for (std::uint64_t trip = 0; trip < run.opt.trips && !run.time_up(); trip++) {
		const std::byte *req = run.ref.at(off);
		auto t0 = Clock::now();
		if (ring) {
			uring_write_all(*ring, 0, 0, req, run.bs, run.what);
		} else if (auto w = write_full(target.get(), {req, run.bs}); !w) {
			die_errno(run.what + ": write", w.error().value());
		}
		auto r = read_full(reply.get(), {in.data(), run.bs});
		if (!r)
			die_errno(run.what + ": read reply", r.error().value());
		size_t got = *r;
		auto t1 = Clock::now();
		if (got != run.bs)
			die(run.what + ": the reply pipe ended early");
		if (run.opt.verify && std::memcmp(in.data(), req, run.bs) != 0)
			die(run.what + ": the reply differs from the request");
		lat_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
		off += run.bs;
	}
	if (ring)
		ring->unregister_files();
	target.reset(); // B sees end of file and stops
	run.written += off;
	run.blocks += lat_us.size();
	run.finish();
}

// B: the responder. Reads requests from the target until end of file and
// sends each back through the reply pipe (by write(2), as A reads it).
void pingpong_b(Run &run, bool uring, unique_fd target, unique_fd reply)
{
	Buffer buf(run.bs);
	std::unique_ptr<Ring> ring;
	if (uring)
		ring = std::make_unique<Ring>(run.opt, std::vector<int>{target.get()},
					      std::vector<iovec>{buf.iov()});
	run.start();
	std::uint64_t off = 0;
	for (;;) {
		size_t got;
		if (ring) {
			got = uring_read_full(*ring, 0, 0, buf.data(), run.bs, run.what);
		} else {
			auto r = read_full(target.get(), {buf.data(), run.bs});
			if (!r)
				die_errno(run.what + ": read", r.error().value());
			got = *r;
		}
		if (got == 0)
			break;
		if (got != run.bs)
			die(run.what + ": a request was cut short by end of file");
		if (run.check_pattern)
			check_pattern(run.ref, buf.data(), got, off, run.what);
		if (auto w = write_full(reply.get(), {buf.data(), got}); !w)
			die_errno(run.what + ": write reply", w.error().value());
		off += got;
	}
	reply.reset();
	run.read += off;
	run.finish();
}

Sample measure_pingpong(const Options &o, const Target &t, const std::string &engine,
			std::uint64_t bs, const Reference &ref, std::uint64_t pipe_size,
			std::uint64_t &capacity, std::uint64_t &drained)
{
	std::string what = t.name + " " + engine + " " + format_block_size(bs) + " pingpong";
	Endpoints ep = open_target(t, pipe_size, 1, 1, &drained);
	capacity = ep.capacity;
	unique_fd reply_rd, reply_wr;
	make_pipe(0, reply_rd, reply_wr, nullptr);
	// The reply pipe must hold one reply, or B blocks before A reads.
	if (::fcntl(reply_wr.get(), F_GETPIPE_SZ) < int(bs) &&
	    ::fcntl(reply_wr.get(), F_SETPIPE_SZ, int(bs)) < 0)
		die_errno("F_SETPIPE_SZ for the reply pipe", errno);
	Run run(o, what, bs, ref, o.verify, 2);
	std::vector<double> lat;
	bool uring_a = engine == "uring", uring_b = engine != "sync";
	std::thread b(pingpong_b, std::ref(run), uring_b, std::move(ep.readers[0]),
		      std::move(reply_wr));
	std::thread a(pingpong_a, std::ref(run), uring_a, std::move(ep.writers[0]),
		      std::move(reply_rd), std::ref(lat));
	run.ready.arrive_and_wait();
	Usage before = Usage::now();
	if (o.seconds > 0)
		run.deadline = before.t + std::chrono::duration_cast<Clock::duration>(
						  std::chrono::duration<double>(o.seconds));
	run.go.count_down();
	run.finished.wait();
	Usage after = Usage::now();
	Sample s;
	fill_usage(s, before, after);
	if (uring_a || uring_b)
		s.iowq_workers = count_iowq_workers();
	run.release.count_down();
	a.join();
	b.join();
	if (run.read != run.written)
		die(what + ": requests and replies differ in size");
	s.bytes = run.written;
	s.ops = run.blocks;
	std::sort(lat.begin(), lat.end());
	s.p50_us = percentile(lat, 50);
	s.p99_us = percentile(lat, 99);
	s.p999_us = percentile(lat, 99.9);
	return s;
}

// ---- output ----

void write_file(const std::string &path, const std::string &text)
{
	std::FILE *f = std::fopen(path.c_str(), "w");
	if (!f)
		die_errno("open " + path, errno);
	bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
	int err = errno;
	if (std::fclose(f) != 0 || !ok)
		die_errno("write " + path, ok ? errno : err);
}

bool have_gnuplot()
{
	return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

void plot(const Options &o, std::span<const Row> rows)
{
	std::string base = o.plot;
	if (base.ends_with(".png"))
		base.resize(base.size() - 4);
	std::string dat = base + ".dat", gp = base + ".gp";
	write_file(dat, gnuplot_data(rows));
	write_file(gp, gnuplot_script(rows, dat, o.plot));
	if (!have_gnuplot()) {
		std::fprintf(stderr,
			     "%s: gnuplot is not installed (apt-get install gnuplot-nox): "
			     "wrote %s and %s; run 'gnuplot %s' to make %s\n",
			     kTool, dat.c_str(), gp.c_str(), gp.c_str(), o.plot.c_str());
		return;
	}
	std::string cmd = "gnuplot '";
	for (char c : gp)
		cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
	cmd += "'";
	int st = std::system(cmd.c_str());
	if (st != 0)
		die(strprintf("gnuplot %s failed (status %d)", gp.c_str(), st));
	if (o.verbose)
		std::fprintf(stderr, "%s: plotted %s\n", kTool, o.plot.c_str());
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);
	// A consumer that dies must not kill the producer silently: EPIPE.
	std::signal(SIGPIPE, SIG_IGN);

	std::vector<Target> targets;
	for (const auto &name : o.targets)
		targets.push_back(make_target(o, name));

	// The pipe's size: the device's capacity unless --capacity says.
	std::uint64_t pipe_size = o.capacity;
	bool want_pipe = std::any_of(targets.begin(), targets.end(),
				     [](const Target &t) { return t.path.empty(); });
	if (want_pipe && !pipe_size) {
		pipe_size = device_capacity(o.device);
		if (!pipe_size)
			die("cannot read the capacity of " + o.device +
			    " for --target=pipe: load the module or give --capacity");
	}

	std::uint64_t max_bs = *std::max_element(o.block_sizes.begin(), o.block_sizes.end());
	Reference ref{size_t(max_bs)};
	bool tty = ::isatty(STDERR_FILENO);

	std::vector<Row> rows;
	for (auto bs : o.block_sizes)
		for (const auto &t : targets)
			for (const auto &e : o.engines) {
				Row r;
				r.mode = o.pingpong ? "pingpong" : "stream";
				r.target = t.name;
				r.engine = e;
				r.bs = bs;
				r.qd = e == "sync" ? 1 : o.qd;
				if (e != "sync")
					r.options = uring_options(o);
				r.producers = o.producers;
				r.consumers = o.consumers;
				r.verify = !o.verify ? "off"
					   : (o.pingpong || (o.producers == 1 && o.consumers == 1))
						   ? "pattern"
						   : "count";
				rows.push_back(std::move(r));
			}

	size_t per_bs = targets.size() * o.engines.size();
	size_t total = rows.size() * o.rounds, done = 0;
	for (size_t b = 0; b < o.block_sizes.size(); b++)
		for (std::uint64_t round = 0; round < o.rounds; round++)
			for (size_t k = 0; k < per_bs; k++) {
				Row &r = rows[b * per_bs + k];
				const Target &t = targets[k / o.engines.size()];
				if (tty)
					std::fprintf(stderr, "\r\033[K[%zu/%zu] %s %s %s round %llu/%llu",
						     ++done, total, r.target.c_str(), r.engine.c_str(),
						     format_block_size(r.bs).c_str(),
						     (unsigned long long)round + 1,
						     (unsigned long long)o.rounds);
				std::uint64_t drained = 0;
				Sample s = o.pingpong
					? measure_pingpong(o, t, r.engine, r.bs, ref, pipe_size,
							   r.capacity, drained)
					: measure_stream(o, t, r.engine, r.bs, ref, pipe_size,
							 r.capacity, drained);
				r.samples.push_back(s);
				if (o.verbose) {
					std::string line = strprintf(
						"%s %s %s round %llu: %s, %.0f ops/s, capacity %s",
						r.target.c_str(), r.engine.c_str(),
						format_block_size(r.bs).c_str(),
						(unsigned long long)round + 1,
						format_throughput(s.bytes, s.seconds).c_str(),
						s.seconds > 0 ? double(s.ops) / s.seconds : 0.0,
						format_bytes(r.capacity).c_str());
					if (o.pingpong)
						line += strprintf(", p50 %.1f us, p99 %.1f us, p99.9 %.1f us",
								  s.p50_us, s.p99_us, s.p999_us);
					if (drained)
						line += strprintf(", drained %llu stale bytes first",
								  (unsigned long long)drained);
					if (s.iowq_workers >= 0)
						line += strprintf(", io-wq workers: %d", s.iowq_workers);
					if (tty)
						std::fputs("\r\033[K", stderr);
					std::fprintf(stderr, "%s\n", line.c_str());
				}
			}
	if (tty)
		std::fputs("\r\033[K", stderr);

	if (o.json)
		std::fputs(format_json(rows).c_str(), stdout);
	else if (o.csv)
		std::fputs(format_csv(rows).c_str(), stdout);
	else if (o.markdown)
		std::fputs(format_markdown(rows).c_str(), stdout);
	else
		std::fputs(format_table(rows).c_str(), stdout);
	if (std::fflush(stdout) != 0)
		die_errno("write to stdout", errno);
	if (!o.json_file.empty())
		write_file(o.json_file, format_json(rows));
	if (!o.markdown_file.empty())
		write_file(o.markdown_file, format_markdown(rows));
	if (!o.plot.empty())
		plot(o, rows);
	return 0;
}
