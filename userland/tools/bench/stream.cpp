// circbuf-bench: one throughput measurement, producers to consumers, by
// read/write or io_uring (the multishot consumer is in multishot.cpp).
#include "bench_tool.h"

namespace circbuf::benchtool {

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

Sample time_run(Run &run, double duration, bool uring)
{
	run.ready.arrive_and_wait();
	Usage before = Usage::now();
	if (duration > 0)
		run.deadline = before.t + std::chrono::duration_cast<Clock::duration>(
						  std::chrono::duration<double>(duration));
	run.go.count_down();
	run.finished.wait();
	Usage after = Usage::now();
	Sample s;
	fill_usage(s, before, after);
	if (uring)
		s.iowq_workers = count_iowq_workers();
	run.release.count_down();
	return s;
}

Sample measure_stream(const Options &o, const Target &t, const std::string &engine,
		      std::uint64_t bs, const Reference &ref, std::uint64_t pipe_size,
		      std::uint64_t &capacity, std::uint64_t &drained)
{
	std::string what = t.name + " " + engine + " " + format_block_size(bs);
	const bool mapped = engine == "mmap";
	Endpoints ep = open_target(t, pipe_size, o.producers, o.consumers, &drained,
				   mapped ? O_RDWR : O_WRONLY);
	capacity = ep.capacity;
	bool pattern = o.verify && o.producers == 1 && o.consumers == 1;
	size_t nthreads = o.producers + o.consumers;
	Run run(o, what, bs, ref, pattern, nthreads);

	// The multishot consumer's producer is whichever is faster in order:
	// linked WRITE_FIXED chains from the registered reference stream with
	// --fixed-buffers; write(2) without, as unregistered linked writes
	// cost more than write(2) does (circbuf-bench(1)).
	bool uring_prod = engine == "uring" || (engine == "multishot" && o.fixed_buffers);
	bool uring_cons = engine == "uring" || engine == "mixed";
	// Each producer writes whole blocks of its share; the first takes
	// what does not divide evenly.
	std::uint64_t share = o.bytes / o.producers;
	std::vector<std::thread> threads;
	auto consumer = engine == "multishot" ? multishot_consumer
			: mapped	      ? mmap_consumer
			: uring_cons	      ? uring_consumer
					      : sync_consumer;
	auto producer = mapped ? mmap_producer : uring_prod ? uring_producer : sync_producer;
	for (size_t i = 0; i < o.consumers; i++)
		threads.emplace_back(consumer, std::ref(run), std::move(ep.readers[i]));
	for (size_t i = 0; i < o.producers; i++) {
		std::uint64_t quota = share + (i == 0 ? o.bytes % o.producers : 0);
		threads.emplace_back(producer, std::ref(run), std::move(ep.writers[i]), quota);
	}
	Sample s = time_run(run, o.duration, uring_prod || uring_cons || engine == "multishot");
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

} // namespace circbuf::benchtool
