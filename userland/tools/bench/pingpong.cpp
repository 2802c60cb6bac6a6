// circbuf-bench: one ping-pong measurement, round-trip latency.
#include "bench_tool.h"

namespace circbuf::benchtool {

// ---- pingpong ----

// A: the requester. Writes a request to the target, reads the reply from
// the reply pipe (or ring, with --reply), checks it and times the round trip. The reply pipe always goes
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

// The reply ring of --reply: emptied of what an earlier run left, and
// large enough to hold one reply, or B would block before A reads.
void open_reply_ring(const std::string &path, std::uint64_t bs, unique_fd &rd,
		     unique_fd &wr)
{
	const std::uint64_t cap = device_capacity(path);
	if (!cap)
		die("--reply=" + path + ": not a circbuf ring (or it cannot be opened)");
	if (cap < bs)
		die(strprintf("--reply=%s: its capacity, %llu bytes, cannot hold a %llu-byte reply",
			      path.c_str(), (unsigned long long)cap, (unsigned long long)bs));
	drain(path);
	// The reader first, so that B's end of file reaches A.
	auto r = open_fd(path.c_str(), O_RDONLY);
	if (!r)
		die_errno("open " + path, r.error().value());
	auto w = open_fd(path.c_str(), O_WRONLY);
	if (!w)
		die_errno("open " + path, w.error().value());
	rd = std::move(*r);
	wr = std::move(*w);
}

Sample measure_pingpong(const Options &o, const Target &t, const std::string &engine,
			std::uint64_t bs, const Reference &ref, std::uint64_t pipe_size,
			std::uint64_t &capacity, std::uint64_t &drained)
{
	std::string what = t.name + " " + engine + " " + format_block_size(bs) + " pingpong";
	Endpoints ep = open_target(t, pipe_size, 1, 1, &drained);
	capacity = ep.capacity;
	unique_fd reply_rd, reply_wr;
	if (!o.reply.empty() && t.path == o.device) {
		open_reply_ring(o.reply, bs, reply_rd, reply_wr);
	} else {
		make_pipe(0, reply_rd, reply_wr, nullptr);
		// The reply pipe must hold one reply, or B blocks before A reads.
		if (::fcntl(reply_wr.get(), F_GETPIPE_SZ) < int(bs) &&
		    ::fcntl(reply_wr.get(), F_SETPIPE_SZ, int(bs)) < 0)
			die_errno("F_SETPIPE_SZ for the reply pipe", errno);
	}
	Run run(o, what, bs, ref, o.verify, 2);
	std::vector<double> lat;
	bool uring_a = engine == "uring", uring_b = engine != "sync";
	std::thread b(pingpong_b, std::ref(run), uring_b, std::move(ep.readers[0]),
		      std::move(reply_wr));
	std::thread a(pingpong_a, std::ref(run), uring_a, std::move(ep.writers[0]),
		      std::move(reply_rd), std::ref(lat));
	Sample s = time_run(run, o.duration, uring_a || uring_b);
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

} // namespace circbuf::benchtool
