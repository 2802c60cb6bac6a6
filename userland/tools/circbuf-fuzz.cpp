// circbuf-fuzz: many threads throw random, often invalid, operations at the
// device for a bounded time, check every result for sanity, then check that
// the device still works exactly.
//
// Operations: open/close with every access mode and odd flags, read, write,
// readv, writev, pread, lseek, mmap, splice, ioctl (CIRCBUF_GET_STATS,
// FIONREAD, mis-sized and mis-directed encodings of CIRCBUF_GET_STATS, the
// generic FIO* ioctls, random numbers, the span commands), poll, ppoll, fcntl (O_NONBLOCK
// toggling), and io_uring READ/WRITE/READV/WRITEV/READ_FIXED/WRITE_FIXED,
// URING_CMD, POLL_ADD, ASYNC_CANCEL and ring teardown with requests in
// flight. Sizes: 0, 1, PIPE_BUF-1..PIPE_BUF+1, capacity-1..capacity+1,
// random, and huge ones (2 GiB, SSIZE_MAX, SIZE_MAX), and iovec arrays up to
// and past IOV_MAX with lengths past SSIZE_MAX. Buffers: valid, unaligned,
// ending in a PROT_NONE guard page, NULL, kernel and non-canonical
// addresses, unmapped low memory, PROT_NONE and PROT_READ pages. A signal
// thread interrupts the workers all the time (handler without SA_RESTART).
//
// Every buffer the kernel may write to lies in the worker's own arena, which
// ends in a guard page, so no count, however large, lets the kernel write
// over the tool's memory: a read stops at the guard. Arenas are never
// unmapped while the process lives (io_uring requests may complete late).
#include "fuzz/fuzz.h"

using namespace circbuf;
using namespace circbuf::fuzz;

namespace circbuf::fuzz {

std::atomic<std::uint64_t> g_signals_delivered{0};

void on_signal(int)
{
	g_signals_delivered.fetch_add(1, std::memory_order_relaxed);
}

} // namespace circbuf::fuzz

namespace {

Options parse_options(int argc, char **argv, OptionParser &p)
{
	Options o;
	p.seconds("duration", "how long to fuzz (default 10)", o.duration);
	p.uint("threads", "worker threads (default 4)", o.threads);
	p.string("seed", "N", "seed of the operation generators (default: from the\n"
			      "clock; printed either way)", o.seed_text);
	p.uint("max-ops", "stop after this many operations in all (default 0:\n"
			  "no limit, only --duration)", o.max_ops);
	p.flag("no-uring", "no io_uring operations", o.no_uring);
	p.flag("no-signals", "no signals while fuzzing (a blocked call then waits\n"
			     "for the end, when every worker is signalled)", o.no_signals);
	p.uint("signal-us", "mean microseconds between two signals, each to a\n"
			    "random worker (default 2000)", o.signal_us);
	p.uint("max-failures", "failures to print, as they happen (default 20)",
	       o.max_failures);
	auto args = p.parse_or_exit(argc, argv);
	o.device = p.device_argument(args);
	if (o.threads < 1 || o.threads > 256)
		p.usage_error("--threads must be 1..256");
	if (o.duration <= 0)
		p.usage_error("--duration must be positive");
	if (o.signal_us < 1 || o.signal_us > 10'000'000)
		p.usage_error("--signal-us must be 1..10000000");
	return o;
}

void print_summary(const Shared &sh, const std::vector<std::unique_ptr<Worker>> &workers,
		   double secs)
{
	Hist total{};
	for (const auto &w : workers)
		for (unsigned k = 0; k < kKinds; k++)
			for (int e = 0; e < kErrSlots; e++)
				total[k][e] += w->hist()[k][e];
	std::uint64_t all = 0;
	std::array<std::uint64_t, kErrSlots> errs{};
	std::printf("%-18s %10s %10s  errors\n", "operation", "count", "ok");
	for (unsigned k = 0; k < kKinds; k++) {
		std::uint64_t n = 0;
		std::string detail;
		for (int e = 0; e < kErrSlots; e++) {
			n += total[k][e];
			errs[e] += total[k][e];
			if (e && total[k][e])
				detail += strprintf("%s%s %llu", detail.empty() ? "" : ", ",
						    errname(e).c_str(),
						    (unsigned long long)total[k][e]);
		}
		all += n;
		std::printf("%-18s %10llu %10llu  %s\n", kKindNames[k], (unsigned long long)n,
			    (unsigned long long)total[k][0], detail.c_str());
	}
	std::printf("total operations: %llu in %.1f s (%.0f/s)\n", (unsigned long long)all,
		    secs, secs > 0 ? double(all) / secs : 0.0);
	std::string hist;
	for (int e = 0; e < kErrSlots; e++)
		if (errs[e])
			hist += strprintf("%s%s %llu", hist.empty() ? "" : ", ",
					  errname(e).c_str(), (unsigned long long)errs[e]);
	std::printf("errno histogram: %s\n", hist.c_str());
	std::printf("signals: %llu sent, %llu delivered\n",
		    (unsigned long long)sh.signals_sent.load(),
		    (unsigned long long)g_signals_delivered.load());
}

} // namespace

int main(int argc, char **argv)
{
	OptionParser parser(
		kTool, "[OPTIONS] [DEVICE]",
		"Fuzz a circbuf device (default /dev/circbuf) from many threads for "
		"--duration\nseconds: open/close with every access mode and odd flags, "
		"read/write/readv/\nwritev with sizes from 0 to SIZE_MAX, pread, lseek, "
		"mmap, splice, ioctl\n(CIRCBUF_GET_STATS, FIONREAD, mis-encoded and random "
		"commands, the span\ncommands), poll/ppoll, fcntl O_NONBLOCK toggling, and "
		"io_uring READ/WRITE/\nREADV/WRITEV/READ_FIXED/WRITE_FIXED/URING_CMD/POLL_ADD/"
		"ASYNC_CANCEL and ring\nteardown, with bad buffers (NULL, kernel and "
		"non-canonical addresses,\nunmapped, PROT_NONE, PROT_READ, ending in a "
		"guard page), while a signal\nthread interrupts the workers (handler "
		"without SA_RESTART).\n\n"
		"Every result is checked: counts never above the request or the "
		"accessible\nbuffer, errno only from the set the operation may give, "
		"atomic writes from\ngood buffers never torn, stats snapshots "
		"self-consistent and monotonic,\npoll masks within the file's mode. "
		"Afterwards, with every file closed, the\ntool opens the device alone "
		"and checks the stats, drains exactly \"used\"\nbytes, and makes a "
		"byte-exact round trip of a pattern.\n\n"
		"Run it as root on a device loaded for testing: it changes the "
		"device's\ncontents and counters.",
		"Prints the seed first and a summary at the end: operations by kind with "
		"their\nerrno counts, the total, the errno histogram, and the verdict.\n"
		"Exit status: 0 PASS, 1 FAIL (any failed check, or the device or "
		"memory could not\nbe set up), 2 bad command line.");
	Shared sh;
	sh.opt = parse_options(argc, argv, parser);
	const Options &o = sh.opt;
	if (o.seed_text.empty()) {
		sh.seed = std::uint64_t(std::chrono::system_clock::now().time_since_epoch().count()) ^
			  (std::uint64_t(getpid()) << 32);
	} else if (auto v = parse_uint(o.seed_text)) {
		sh.seed = *v;
	} else {
		parser.usage_error("--seed must be a number");
	}
	std::printf("%s: seed %llu (rerun with --seed=%llu), %llu threads, %.1f s, %s\n",
		    kTool, (unsigned long long)sh.seed, (unsigned long long)sh.seed,
		    (unsigned long long)o.threads, o.duration, o.device.c_str());
	std::fflush(stdout);

	std::signal(SIGPIPE, SIG_IGN);
	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; // no SA_RESTART: blocked calls fail with EINTR
	sigaction(kSignal, &sa, nullptr);

	// The capacity, and a device with nothing else open.
	{
		auto probe = open_fd(o.device.c_str(), O_RDONLY | O_NONBLOCK);
		if (!probe) {
			print_error(kTool, o.device, probe.error());
			return 1;
		}
		auto st = get_stats(probe->get());
		if (!st) {
			print_error(kTool, o.device + ": CIRCBUF_GET_STATS", st.error());
			return 1;
		}
		sh.capacity = st->capacity;
		if (st->readers != 1 || st->writers != 0)
			std::fprintf(stderr, "%s: warning: other files are open (readers %u, "
				     "writers %u)\n", kTool, st->readers, st->writers);
	}
	sh.atomic_max = std::min(kPipeBuf, sh.capacity);
	sh.page = size_t(sysconf(_SC_PAGESIZE));
	std::printf("%s: capacity %zu bytes\n", kTool, sh.capacity);

	sh.prot_none = mmap(nullptr, sh.page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sh.prot_read = mmap(nullptr, sh.page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh.prot_none == MAP_FAILED || sh.prot_read == MAP_FAILED) {
		print_error(kTool, "mmap", errno_code());
		return 1;
	}

	// Shared files: every access mode, blocking and not.
	std::vector<unique_fd> shared_owner;
	for (int acc : {O_RDONLY, O_WRONLY, O_RDWR})
		for (int nb : {0, O_NONBLOCK}) {
			auto fd = open_fd(o.device.c_str(), acc | nb);
			if (!fd) {
				print_error(kTool, o.device, fd.error());
				return 1;
			}
			sh.shared_fds.push_back({fd->get(), acc});
			shared_owner.push_back(std::move(*fd));
		}

	// Arenas: up to 4 MiB each, and a PROT_NONE guard page after each.
	size_t arena_size = std::clamp<size_t>(sh.capacity + 2 * sh.page, 64 << 10, 4 << 20);
	arena_size = (arena_size + sh.page - 1) / sh.page * sh.page;
	std::vector<std::unique_ptr<Worker>> workers;
	for (unsigned i = 0; i < o.threads; i++) {
		void *m = mmap(nullptr, arena_size + sh.page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED ||
		    mprotect(static_cast<std::byte *>(m) + arena_size, sh.page, PROT_NONE)) {
			print_error(kTool, "mmap arena", errno_code());
			return 1;
		}
		std::memset(m, 0x11 * (i + 1), arena_size);
		// Never unmapped: io_uring requests may complete after a ring's exit.
		workers.push_back(std::make_unique<Worker>(sh, i, static_cast<std::byte *>(m),
							   arena_size));
	}

	const auto t0 = Clock::now();
	std::vector<std::thread> threads;
	for (auto &w : workers)
		threads.emplace_back([&w] { w->run(); });

	// The signal thread's work, here: random worker, random interval.
	Rng srng{sh.seed ^ 0x5157};
	srng.next();
	const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
				      std::chrono::duration<double>(o.duration));
	auto all_done = [&] {
		return std::all_of(workers.begin(), workers.end(),
				   [](const auto &w) { return w->done(); });
	};
	while (Clock::now() < end && !all_done()) {
		auto us = std::chrono::microseconds(srng.between(0, 2 * o.signal_us));
		std::this_thread::sleep_for(us);
		if (o.no_signals)
			continue;
		auto &w = workers[srng.next() % workers.size()];
		if (pid_t t = w->tid(); t && !w->done()) {
			::syscall(SYS_tgkill, getpid(), t, kSignal);
			sh.signals_sent++;
		}
	}
	const double fuzz_secs = std::chrono::duration<double>(Clock::now() - t0).count();
	sh.stop = true;
	// Wake any worker still blocked, until all have finished (bounded).
	const auto join_deadline = Clock::now() + std::chrono::seconds(60);
	while (!all_done() && Clock::now() < join_deadline) {
		for (auto &w : workers)
			if (pid_t t = w->tid(); t && !w->done()) {
				::syscall(SYS_tgkill, getpid(), t, kSignal);
				sh.signals_sent++;
			}
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	if (!all_done()) {
		for (auto &w : workers) {
			if (w->done())
				continue;
			std::string stack = "?";
			std::string path = strprintf("/proc/self/task/%d/stack", w->tid());
			if (FILE *f = std::fopen(path.c_str(), "r")) {
				char line[256];
				stack.clear();
				while (std::fgets(line, sizeof(line), f))
					stack += std::string("    ") + line;
				std::fclose(f);
			}
			std::fprintf(stderr, "%s: FAIL: worker thread %d still in the kernel 60 s "
				     "after the end:\n%s", kTool, w->tid(), stack.c_str());
		}
		std::fflush(nullptr);
		_exit(1);
	}
	for (auto &t : threads)
		t.join();
	shared_owner.clear();

	print_summary(sh, workers, fuzz_secs);

	Final fin;
	final_check(sh, fin);
	std::printf("final check: drained %llu bytes, round trip of %llu bytes\n",
		    (unsigned long long)fin.drained, (unsigned long long)fin.round_trip);

	std::uint64_t nfail = sh.nfailures.load() + fin.failures.size();
	if (sh.nfailures > o.max_failures)
		std::printf("FAILURE: ... and %llu more not shown\n",
			    (unsigned long long)(sh.nfailures - o.max_failures));
	for (const auto &f : fin.failures)
		std::printf("FAILURE: final check: %s\n", f.c_str());
	std::printf("%s: %s (%llu failures, seed %llu)\n", kTool, nfail ? "FAIL" : "PASS",
		    (unsigned long long)nfail, (unsigned long long)sh.seed);
	return nfail ? 1 : 0;
}
