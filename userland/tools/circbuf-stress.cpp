// circbuf-stress: many writers and readers on one device for a while, then
// proof that the device behaved like a pipe.
//
// records mode: writers send self-checking fixed-size records (see
// circbuf/record.h) in writes of at most PIPE_BUF bytes, which must be
// atomic; readers read whole multiples of the record size. At the end every
// record must have been read exactly once, intact, and in order per writer
// within each reader, and the records of each write together: a write's
// records carry its number, and within each read one record may only be
// followed by the next of its write (or, if it was the write's last, by
// the first of any write).
//
// random mode: writes and reads of random sizes up to three times the
// capacity, so writes interleave; the bytes read must be the bytes written
// as a multiset (same count of every byte value). With one writer and one
// reader the writer sends the test stream and the reader checks every byte
// in order.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/report.h"
#include "circbuf/stats.h"
#include "stress/stress.h"

using namespace circbuf;
using namespace circbuf::stress;
using Clock = std::chrono::steady_clock;

namespace {

Options parse_options(int argc, char **argv, OptionParser &p)
{
	Options o;
	p.uint("writers", "writer threads, each with its own O_WRONLY file\n(default 2)",
	       o.writers);
	p.uint("readers", "reader threads, each with its own O_RDONLY file\n(default 2)",
	       o.readers);
	p.seconds("duration", "how long the writers write (default 5)", o.duration);
	p.choice("mode", {"records", "random", "packets"},
		 "records (default): framed records, checked one by\none; random: "
		 "random sizes and bytes, checked as a\nbyte-value histogram; packets: "
		 "one record of\nrandom size per write, in packet mode (O_DIRECT)",
		 o.mode);
	p.uint("byte-writers", "of the writers, how many write their records in\n"
			       "byte mode (packets mode; default 0)",
	       o.byte_writers);
	p.uint("mapped-writers", "of the writers, how many write their records in\n"
				 "place in the mapped ring: CIRCBUF_TX_ACQUIRE and\n"
				 "_TX_COMMIT (records mode; default 0)",
	       o.mapped_writers);
	p.uint("mapped-readers", "of the readers, how many check the records in place\n"
				 "in the mapped ring: CIRCBUF_RX_ACQUIRE and\n"
				 "_RX_RELEASE (records mode; default 0)",
	       o.mapped_readers);
	p.size("record-size", "bytes per record, 32..4096 and at most the\n"
			      "capacity (default 64; records mode)",
	       o.record_size);
	p.uint("seed", "seed of the size and data generators (default 1)", o.seed);
	p.size("capacity", "buffer size to assume instead of asking the device;\n"
			   "for a FIFO the pipe size is used if this is absent",
	       o.capacity);
	p.seconds("stall-timeout", "fail if no byte moves for this long (default 10)",
		  o.stall_timeout);
	auto args = p.parse_or_exit(argc, argv);
	o.device = p.device_argument(args);
	if (o.writers < 1 || o.writers > 1024 || o.readers < 1 || o.readers > 1024)
		p.usage_error("--writers and --readers must be 1..1024");
	if (o.record_size < kMinRecordSize || o.record_size > kMaxRecordSize)
		p.usage_error("--record-size must be 32..4096");
	if (o.byte_writers > o.writers || (o.byte_writers && o.mode != "packets"))
		p.usage_error("--byte-writers needs --mode=packets and at most --writers");
	if (o.mapped_writers > o.writers || o.mapped_readers > o.readers ||
	    ((o.mapped_writers || o.mapped_readers) && o.mode != "records"))
		p.usage_error("--mapped-writers and --mapped-readers need --mode=records and "
			      "at most --writers and --readers");
	if (o.stall_timeout <= 0)
		p.usage_error("--stall-timeout must be positive");
	return o;
}

// Per writer, the seqs read by all readers together must be 0..records-1,
// each exactly once.
void check_records(const std::vector<WriterResult> &wr,
		   const std::vector<ReaderResult> &rr, Verdict &v)
{
	for (size_t w = 0; w < wr.size(); w++) {
		std::vector<SeqRange> all;
		for (const auto &r : rr)
			all.insert(all.end(), r.seqs[w].begin(), r.seqs[w].end());
		std::sort(all.begin(), all.end(),
			  [](auto &a, auto &b) { return a.begin < b.begin; });
		const std::uint64_t count = wr[w].records;
		std::uint64_t covered = 0, sum = 0, end = 0, phantom = 0;
		std::uint64_t first_gap = UINT64_MAX;
		for (auto r : all) {
			if (r.end > count) { // seqs never written
				phantom += r.end - std::max(r.begin, count);
				r.end = count;
				if (r.begin >= r.end)
					continue;
			}
			sum += r.end - r.begin;
			if (r.begin > end && first_gap == UINT64_MAX)
				first_gap = end;
			if (r.end > end) {
				covered += r.end - std::max(r.begin, end);
				end = r.end;
			}
		}
		if (end < count && first_gap == UINT64_MAX)
			first_gap = end;
		std::uint64_t lost = count - covered, dup = sum - covered;
		v.lost += lost;
		v.duplicated += dup;
		v.corrupt += phantom;
		if (lost || dup || phantom)
			v.details += strprintf("%s: writer %zu wrote %llu records: lost %llu"
					       " (first seq %llu), duplicated %llu, never"
					       " written %llu\n", kTool, w,
					       (unsigned long long)count,
					       (unsigned long long)lost,
					       (unsigned long long)(lost ? first_gap : 0),
					       (unsigned long long)dup,
					       (unsigned long long)phantom);
	}
}

void check_histograms(const std::vector<WriterResult> &wr,
		      const std::vector<ReaderResult> &rr, Verdict &v)
{
	Histogram in{}, out{};
	for (const auto &w : wr)
		for (size_t b = 0; b < 256; b++)
			in[b] += w.hist[b];
	for (const auto &r : rr)
		for (size_t b = 0; b < 256; b++)
			out[b] += r.hist[b];
	for (size_t b = 0; b < 256; b++) {
		if (in[b] == out[b])
			continue;
		if (!v.histogram)
			v.details += strprintf("%s: byte value 0x%02zx written %llu times,"
					       " read %llu times\n", kTool, b,
					       (unsigned long long)in[b],
					       (unsigned long long)out[b]);
		v.histogram++;
	}
}

// The device's own counters must agree with what the threads did.
void check_stats(const circbuf_stats &before, const circbuf_stats &after,
		 std::uint64_t written, std::uint64_t read, std::uint64_t writes,
		 std::uint64_t reads, Verdict &v)
{
	auto expect = [&](const char *what, std::uint64_t got, std::uint64_t want) {
		if (got == want)
			return;
		v.stats++;
		v.details += strprintf("%s: device stats: %s is %llu, expected %llu\n",
				       kTool, what, (unsigned long long)got,
				       (unsigned long long)want);
	};
	expect("bytes_written delta", after.bytes_written - before.bytes_written, written);
	expect("bytes_read delta", after.bytes_read - before.bytes_read, read);
	expect("writes delta", after.writes - before.writes, writes);
	expect("reads delta", after.reads - before.reads, reads);
	expect("bytes_discarded delta", after.bytes_discarded - before.bytes_discarded, 0);
	expect("used", after.used, 0);
	expect("available", after.available, after.capacity);
	expect("readers", after.readers, before.readers);
	expect("writers", after.writers, before.writers);
}

void print_progress(const Shared &sh, double secs)
{
	std::uint64_t w = sh.bytes_written, r = sh.bytes_read;
	std::fprintf(stderr, "\r%s: %5.1fs written %s read %s (%.1f MB/s)   ", kTool,
		     secs, format_bytes(w).c_str(), format_bytes(r).c_str(),
		     secs > 0 ? double(r) / secs / 1e6 : 0.0);
}

} // namespace

int main(int argc, char **argv)
{
	OptionParser parser(
		kTool, "[OPTIONS] [DEVICE]",
		"Run writer and reader threads on DEVICE for --duration seconds, "
		"then check that\nthe device behaved like a pipe. Each thread "
		"opens its own file. Data left\nin the device is drained first. "
		"DEVICE may also be a FIFO (mkfifo), to test\nthe tool itself.\n\n"
		"records mode: writers write framed, checksummed records of "
		"--record-size bytes,\nseveral per write() but never more than "
		"4096 bytes (PIPE_BUF) so each write is\natomic; readers read "
		"whole multiples of the record size. Checks: every record\nread "
		"exactly once (none lost or duplicated), none corrupt, no read "
		"cutting a\nrecord (torn), each writer's records in order within "
		"each reader, the records\nof each write together (split), "
		"total bytes read == written. A reader resynchronises "
		"after damaged data; corrupt counts damaged\nstretches. "
		"--mapped-writers and --mapped-readers of them work in the\nmapped "
		"ring instead, through the span protocol (circbuf(4)), checked the "
		"same way.\n\n"
		"random mode: writes and reads of random sizes from 1 byte to 3x "
		"the capacity\n(at most 8 MiB) carrying random bytes. Checks: "
		"total bytes and the count of\nevery byte value read == written; with "
		"one writer and one reader, the test\npattern byte for byte in order "
		"(reordered counts reads that differ).\n\n"
		"packets mode: each write() is one record of random size (32 bytes to "
		"PIPE_BUF\nor the capacity), from files opened with O_DIRECT: packet "
		"mode, as\npipe2(O_DIRECT). --byte-writers=N of the writers write "
		"theirs in byte mode.\nReaders read into buffers larger than the "
		"capacity plus a packet. Checks:\nevery record read exactly once and "
		"whole, none corrupt, each writer's in\norder within each reader, no "
		"read with anything after a packet (split), and\nno byte discarded "
		"by the device.\n\n"
		"On a circbuf device the device's counters (CIRCBUF_GET_STATS) "
		"must also match\nwhat the threads counted, and the buffer must "
		"end empty.",
		"Prints a progress line every second when stderr is a terminal, "
		"and one verdict\nline at the end.\n"
		"Exit status: 0 PASS, 1 FAIL (including a stall, an I/O error or a "
		"setup failure:\nthe device cannot be opened or drained), 2 bad "
		"command line.");
	Shared sh;
	sh.opt = parse_options(argc, argv, parser);
	const Options &o = sh.opt;
	const bool records = o.mode == "records", packets = o.mode == "packets";
	std::signal(SIGPIPE, SIG_IGN);

	// The probe file reads the counters, drains leftovers, and stays open
	// as a reader so that opening a FIFO for writing does not block.
	auto probe = open_fd(o.device.c_str(), O_RDONLY | O_NONBLOCK);
	if (!probe) {
		print_error(kTool, o.device, probe.error());
		return 1;
	}
	auto drained = drain(probe->get());
	if (!drained) {
		print_error(kTool, o.device + ": draining", drained.error());
		return 1;
	}
	if (*drained)
		std::fprintf(stderr, "%s: drained %llu bytes left over in %s\n", kTool,
			     (unsigned long long)*drained, o.device.c_str());
	auto before = get_stats(probe->get());
	if (!before && before.error() != std::errc::inappropriate_io_control_operation) {
		print_error(kTool, o.device + ": CIRCBUF_GET_STATS", before.error());
		return 1;
	}
	sh.capacity = o.capacity;
	if (!sh.capacity && before) {
		sh.capacity = before->capacity;
	} else if (!sh.capacity) {
		int pipe_size = ::fcntl(probe->get(), F_GETPIPE_SZ);
		if (pipe_size <= 0) {
			print_error(kTool, o.device + ": not a circbuf device and not a"
				    " FIFO; give --capacity", before.error());
			return 1;
		}
		sh.capacity = size_t(pipe_size);
	}
	if (!before)
		std::fprintf(stderr, "%s: %s is not a circbuf device; assuming capacity"
			     " %zu, skipping the device counter checks\n", kTool,
			     o.device.c_str(), sh.capacity);
	if (packets && sh.capacity < kMinRecordSize) {
		print_error(kTool, strprintf("packets mode needs a capacity of at least %zu",
					     kMinRecordSize));
		return 2;
	}
	if (records && o.record_size > sh.capacity) {
		print_error(kTool, strprintf("--record-size %llu exceeds the capacity %zu",
					     (unsigned long long)o.record_size, sh.capacity));
		return 2;
	}

	// Writers open first, so no reader can see EOF before they exist.
	std::vector<unique_fd> wfds, rfds;
	for (auto [fds, flags, n] : {std::tuple(&wfds, O_WRONLY, o.writers),
				     std::tuple(&rfds, O_RDONLY, o.readers)}) {
		for (std::uint64_t i = 0; i < n; i++) {
			// A mapping needs a readable file, also a writer's.
			const bool rdwr = fds == &wfds && mapped_writer(sh, unsigned(i));
			auto fd = open_fd(o.device.c_str(), rdwr ? O_RDWR : flags);
			if (!fd) {
				print_error(kTool, o.device, fd.error());
				return 1;
			}
			// Packet mode by fcntl(): open(O_DIRECT) fails on a FIFO.
			if (packets && fds == &wfds && !byte_writer(sh, unsigned(i)) &&
			    ::fcntl(fd->get(), F_SETFL, O_DIRECT) < 0) {
				print_error(kTool, o.device + ": F_SETFL O_DIRECT",
					    std::error_code(errno, std::system_category()));
				return 1;
			}
			fds->push_back(std::move(*fd));
		}
	}

	std::vector<WriterResult> wres(o.writers);
	std::vector<ReaderResult> rres(o.readers);
	std::vector<std::thread> threads;
	sh.writers_running = unsigned(o.writers);
	sh.readers_running = unsigned(o.readers);
	const auto reader = records ? record_reader : packets ? packet_reader : random_reader;
	const auto writer = records ? record_writer : packets ? packet_writer : random_writer;
	for (unsigned i = 0; i < o.readers; i++)
		threads.emplace_back(mapped_reader(sh, i) ? mapped_record_reader : reader,
				     std::ref(sh), std::move(rfds[i]), i, std::ref(rres[i]));
	for (unsigned i = 0; i < o.writers; i++)
		threads.emplace_back(mapped_writer(sh, i) ? mapped_record_writer : writer,
				     std::ref(sh), std::move(wfds[i]), i, std::ref(wres[i]));

	const auto start = Clock::now();
	const auto deadline = start + std::chrono::duration<double>(o.duration);
	const bool tty = ::isatty(STDERR_FILENO);
	auto next_progress = start + std::chrono::seconds(1);
	auto last_move = start;
	std::uint64_t last_bytes = 0;
	sh.go.count_down();
	while (sh.writers_running + sh.readers_running > 0) {
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
		auto now = Clock::now();
		if (now >= deadline)
			sh.stop = true;
		std::uint64_t moved = sh.bytes_written + sh.bytes_read;
		if (moved != last_bytes) {
			last_bytes = moved;
			last_move = now;
		} else if (now - last_move > std::chrono::duration<double>(o.stall_timeout)) {
			if (tty)
				std::fputc('\n', stderr);
			std::fprintf(stderr, "%s: FAIL stalled: no progress for %.1fs, %s;"
				     " %u writers and %u readers still blocked\n", kTool,
				     o.stall_timeout,
				     sh.stop ? "after the writers were told to stop"
					     : "before the deadline",
				     sh.writers_running.load(), sh.readers_running.load());
			if (auto s = get_stats(probe->get()))
				std::fputs(format_stats_table(*s).c_str(), stderr);
			std::fflush(stderr);
			::_exit(1); // the blocked threads cannot be joined
		}
		if (tty && now >= next_progress) {
			print_progress(sh, std::chrono::duration<double>(now - start).count());
			next_progress += std::chrono::seconds(1);
		}
	}
	for (auto &t : threads)
		t.join();
	const double secs = std::chrono::duration<double>(Clock::now() - start).count();
	if (tty && secs >= 1)
		std::fputc('\n', stderr);

	Verdict v;
	std::uint64_t written = 0, read = 0, writes = 0, reads = 0, nrecords = 0;
	for (const auto &w : wres) {
		written += w.bytes;
		writes += w.writes;
		nrecords += w.records;
		v.torn += w.short_writes;
		if (!w.error.empty()) {
			v.errors++;
			print_error(kTool, w.error);
		}
	}
	for (const auto &r : rres) {
		read += r.bytes;
		reads += r.reads;
		v.torn += r.torn;
		v.corrupt += r.corrupt;
		v.reordered += r.reordered;
		v.split += r.split;
		if (!r.error.empty()) {
			v.errors++;
			print_error(kTool, r.error);
		}
	}
	v.bytes_match = written == read;
	if (records || packets)
		check_records(wres, rres, v);
	else
		check_histograms(wres, rres, v);
	if (before) {
		auto after = get_stats(probe->get());
		if (!after) {
			print_error(kTool, o.device + ": CIRCBUF_GET_STATS", after.error());
			v.errors++;
		} else {
			check_stats(*before, *after, written, read, writes, reads, v);
		}
	}
	std::fputs(v.details.c_str(), stderr);

	const std::string common = strprintf(
		"bytes_written=%llu bytes_read=%llu writers=%llu readers=%llu"
		" duration=%.1fs", (unsigned long long)written, (unsigned long long)read,
		(unsigned long long)o.writers, (unsigned long long)o.readers, secs);
	if (v.pass()) {
		std::printf("%s: PASS mode=%s%s %s (%.1f MB/s)\n", kTool, o.mode.c_str(),
			    records || packets ? strprintf(" records=%llu",
						(unsigned long long)nrecords).c_str() : "",
			    common.c_str(), secs > 0 ? double(read) / secs / 1e6 : 0.0);
		return 0;
	}
	std::printf("%s: FAIL mode=%s lost=%llu duplicated=%llu corrupt=%llu"
		    " reordered=%llu split=%llu torn=%llu errors=%llu histogram_mismatch=%llu"
		    " stats_mismatch=%llu %s\n", kTool, o.mode.c_str(),
		    (unsigned long long)v.lost, (unsigned long long)v.duplicated,
		    (unsigned long long)v.corrupt, (unsigned long long)v.reordered,
		    (unsigned long long)v.split,
		    (unsigned long long)v.torn, (unsigned long long)v.errors,
		    (unsigned long long)v.histogram, (unsigned long long)v.stats,
		    common.c_str());
	return 1;
}
