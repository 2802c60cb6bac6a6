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
#include <sys/stat.h>

#include "bench/bench_tool.h"

using namespace circbuf;
using namespace circbuf::bench;
using namespace circbuf::benchtool;

namespace {

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
	"Targets: 'circbuf' is DEVICE (default /dev/circbuf); 'pipe' is a pipe(2)\n"
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
	"'multishot' is a consumer with one IORING_OP_READ_MULTISHOT request\n"
	"(Linux 6.7 and later; elsewhere the tool says so and exits 2) over a\n"
	"ring of --qd provided buffers of a block each: one request, a\n"
	"completion per read, in stream order. Its producer uses read/write, or\n"
	"with --fixed-buffers the 'uring' producer's linked WRITE_FIXED chains.\n"
	"'mmap' maps the ring (twice its capacity, a multiple of the page\n"
	"size) and moves no byte through the kernel: the producer takes free\n"
	"space with CIRCBUF_TX_ACQUIRE, writes whole blocks into the mapping and\n"
	"publishes them with CIRCBUF_TX_COMMIT; the consumer takes the readable\n"
	"bytes with CIRCBUF_RX_ACQUIRE, checks them in the mapping and consumes\n"
	"them with CIRCBUF_RX_RELEASE. The producer waits for room for a block\n"
	"(as write(2) of it would) and fills all the room it gets; each span\n"
	"moves at most an eighth of the ring, so that both ends work at once:\n"
	"blocks smaller than that go several at a time, larger ones in pieces. It\n"
	"applies to circbuf targets only: a pipe is not measured with it.\n"
	"\n"
	"Each measurement ends when the producers have written --bytes or after\n"
	"--duration, whichever comes first; the producers then close their files\n"
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
	"them back through a pipe (one ring cannot carry both directions: the\n"
	"reply would be read back by its own sender), A reads the reply: one\n"
	"round trip. With --reply=PATH the circbuf target's replies go through\n"
	"that second ring instead (/dev/circbuf1 of devices=2, or one added by\n"
	"circbuf-ctl), so the round trip is circbuf only; its row is named\n"
	"circbuf+RING, and the pipe's replies still go by pipe. The engine\n"
	"applies to the target only; the reply channel is always\n"
	"read(2)/write(2). Reported: p50, p99 and p99.9 in microseconds.";

const char *kEpilog =
	"Output: a table on stdout; --json or --csv for scripts, --markdown for\n"
	"results pages; a progress line on stderr when stderr is a terminal.\n"
	"--verbose reports each measurement on stderr, with \"io-wq workers: N\",\n"
	"the iou-wrk threads alive when the transfer ends (0 means io_uring\n"
	"never fell back to its worker pool).\n"
	"\n"
	"Exit status: 0 success; 1 an I/O error, a verification failure or\n"
	"another failure (the message names it); 2 a bad command line, or\n"
	"--engine=multishot on a kernel without IORING_OP_READ_MULTISHOT.";

// Whether two paths name one device (or one file): /dev/./circbuf is
// /dev/circbuf. Paths that cannot be looked at compare as strings.
bool same_device(const std::string &a, const std::string &b)
{
	struct stat sa, sb;
	if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0)
		return a == b;
	if (S_ISCHR(sa.st_mode) && S_ISCHR(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Options parse_options(int argc, char **argv)
{
	Options o;
	std::string targets = "circbuf", engines = "sync", bs = "4K";
	bool sweep = false, no_verify = false;
	OptionParser p(kTool, "[OPTIONS] [DEVICE]", kAbout, kEpilog);
	p.string("target", "LIST",
		 "comma-separated targets: circbuf, pipe or a path\n(default circbuf)",
		 targets);
	p.string("engine", "LIST",
		 "comma-separated engines: sync, uring, mixed,\nmultishot, mmap (default sync)", engines);
	p.string("bs", "LIST",
		 "comma-separated block sizes, e.g. 64,4K,64K,1M\n"
		 "(default 4K; at most 64M)",
		 bs);
	p.flag("sweep", "block sizes 64 B to 1 MiB in powers of 4\n(overrides --bs)", sweep);
	p.size("bytes", "bytes per measurement, split among the producers\n"
			"(default 64M)",
	       o.bytes);
	p.seconds("duration", "end a measurement after this long even if --bytes\n"
			     "were not reached; 0: no limit (default 1)",
		  o.duration);
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
	p.string("reply", "PATH",
		 "pingpong: send the circbuf target's replies through\n"
		 "this ring (e.g. /dev/circbuf1), not a pipe",
		 o.reply);
	p.uint("trips", "pingpong: round trips per measurement, also bounded\n"
			"by --duration (default 10000)",
	       o.trips);
	p.uint("rounds", "measure every (target, engine, bs) this many times,\n"
			 "alternating; report median and min-max (default 1)",
	       o.rounds);
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
	o.device = p.device_argument(args);

	o.verify = !no_verify;
	for (auto &t : split_list(targets)) {
		if (t.empty())
			p.usage_error("empty item in --target");
		o.targets.push_back(t);
	}
	for (auto &e : split_list(engines)) {
		if (e != "sync" && e != "uring" && e != "mixed" && e != "multishot" && e != "mmap")
			p.usage_error("bad engine '" + e +
				      "': expected sync, uring, mixed, multishot or mmap");
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
	const bool multishot = std::find(o.engines.begin(), o.engines.end(), "multishot") != o.engines.end();
	const bool mapped = std::find(o.engines.begin(), o.engines.end(), "mmap") != o.engines.end();
	if (mapped && o.pingpong)
		p.usage_error("--engine=mmap moves a stream; it does not apply to --pingpong");
	if (mapped && std::none_of(o.targets.begin(), o.targets.end(),
				   [](const std::string &t) { return t != "pipe"; }))
		p.usage_error("--engine=mmap maps a circbuf ring: it needs a target besides pipe");
	if (multishot && o.pingpong)
		p.usage_error("--engine=multishot reads a stream; it does not apply to --pingpong");
	if (multishot && !multishot_supported()) {
		// Exit status 2, as for a bad command line: nothing was measured.
		print_error(kTool, "--engine=multishot: this kernel has no IORING_OP_READ_MULTISHOT "
				   "(Linux 6.7 and later)");
		std::exit(2);
	}
	if (!o.reply.empty() && !o.pingpong)
		p.usage_error("--reply applies to --pingpong only");
	if (!o.reply.empty() && same_device(o.reply, o.device))
		p.usage_error("--reply must be another ring than the target, " + o.device);
	if (!o.plot.empty() && o.pingpong)
		p.usage_error("--plot draws throughput; it does not apply to --pingpong");
	return o;
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

	// The (target, engine) pairs measured: all but a pipe with the mmap
	// engine, which maps a circbuf ring.
	std::vector<std::pair<const Target *, std::string>> pairs;
	for (const auto &t : targets)
		for (const auto &e : o.engines)
			if (e != "mmap" || !t.path.empty())
				pairs.emplace_back(&t, e);

	std::vector<Row> rows;
	for (auto bs : o.block_sizes)
		for (const auto &[tp, e] : pairs) {
			const Target &t = *tp;
			Row r;
			r.mode = o.pingpong ? "pingpong" : "stream";
			r.target = t.name;
			// --reply: the circbuf target's round trip is two rings.
			if (o.pingpong && !o.reply.empty() && t.path == o.device)
				r.target += "+" + o.reply.substr(o.reply.rfind('/') + 1);
			r.engine = e;
			r.bs = bs;
			r.qd = e == "sync" || e == "mmap" ? 1 : o.qd;
			if (e != "sync" && e != "mmap")
				r.options = uring_options(o);
			r.producers = o.producers;
			r.consumers = o.consumers;
			r.verify = !o.verify ? "off"
				   : (o.pingpong || (o.producers == 1 && o.consumers == 1))
					   ? "pattern"
					   : "count";
			rows.push_back(std::move(r));
		}

	size_t per_bs = pairs.size();
	size_t total = rows.size() * o.rounds, done = 0;
	for (size_t b = 0; b < o.block_sizes.size(); b++)
		for (std::uint64_t round = 0; round < o.rounds; round++)
			for (size_t k = 0; k < per_bs; k++) {
				Row &r = rows[b * per_bs + k];
				const Target &t = *pairs[k].first;
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
