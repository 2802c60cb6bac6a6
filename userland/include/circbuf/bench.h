// The pure logic of circbuf-bench: block-size lists, statistics over rounds
// and samples, and the output formats (table, JSON, CSV, gnuplot). Nothing
// here does I/O, so tests/unit/bench_test.cpp covers all of it.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace circbuf::bench {

// Largest block size accepted by --bs.
inline constexpr std::uint64_t kMaxBlockSize = 64u << 20;

// "a,b,c" -> {"a", "b", "c"}; empty items are kept so callers can reject them.
std::vector<std::string> split_list(std::string_view s);

// "64,4K,64K,1M" -> {64, 4096, 65536, 1048576}: sizes as parse_size() reads
// them, 1..kMaxBlockSize, duplicates dropped, in the order given. The error
// is a one-line message naming the bad item.
std::expected<std::vector<std::uint64_t>, std::string>
parse_block_sizes(std::string_view list);

// --sweep: 64 B to 1 MiB in powers of 4.
std::vector<std::uint64_t> sweep_block_sizes();

// 64 -> "64", 4096 -> "4K", 1048576 -> "1M", 1536 -> "1536": exact only.
std::string format_block_size(std::uint64_t bytes);

// Nearest-rank percentile (0 < p <= 100) of @sorted, ascending and not
// empty: the smallest sample with at least p% of the samples <= it.
double percentile(std::span<const double> sorted, double p);

// Median (mean of the middle two for an even count), min and max.
struct Spread {
	double median = 0, min = 0, max = 0;
};
Spread spread(std::vector<double> values);

// One measurement: a transfer (stream mode) or a series of round trips
// (pingpong mode) through one target with one engine and block size.
struct Sample {
	std::uint64_t bytes = 0; // moved from producers to consumers
	std::uint64_t ops = 0;	 // blocks written (stream) or round trips
	double seconds = 0;	 // wall time of the transfer
	double cpu_seconds = 0;	 // user + system time of the whole process
	std::uint64_t vcsw = 0, ivcsw = 0; // context switches
	int iowq_workers = -1;	 // iou-wrk threads at the end; -1: no io_uring
	// pingpong: round-trip percentiles in microseconds
	double p50_us = 0, p99_us = 0, p999_us = 0;
};

// The rounds of one (target, engine, block size), summarised.
struct Row {
	std::string mode = "stream"; // or "pingpong"
	std::string target;	     // circbuf, pipe or a path
	std::string engine;	     // sync, uring or mixed
	std::uint64_t bs = 0;
	std::uint64_t capacity = 0; // of the target, 0 if unknown
	std::uint64_t qd = 1, producers = 1, consumers = 1;
	// io_uring options in effect, comma-separated: fixed-buffers,
	// fixed-files, sqpoll; empty for none and for the sync engine.
	std::string options;
	std::string verify; // pattern, count or off
	std::vector<Sample> samples;
};

// What the formats print, computed from a Row's samples: medians over the
// rounds, with the min-max spread of the main figures.
struct Summary {
	Spread mbps;		// 10^6 bytes per second
	Spread ops_per_s;	// blocks (stream) or round trips (pingpong)
	double cpu_ms_per_mib = 0;
	double ctxsw_per_mib = 0; // voluntary + involuntary
	double cpu_us_per_op = 0, ctxsw_per_op = 0;
	std::uint64_t bytes = 0; // median per measurement
	int iowq_workers = -1;	 // the most seen in any round
	Spread p50_us, p99_us, p999_us;
};
Summary summarize(const Row &row);

// A human table: stream rows and pingpong rows in separate sections.
std::string format_table(std::span<const Row> rows);
// One JSON array of objects, one object per row, ending in a newline.
std::string format_json(std::span<const Row> rows);
// A header line and one line per row.
std::string format_csv(std::span<const Row> rows);
// GitHub-flavoured markdown tables (stream and pingpong rows in separate
// tables), for results pages; engines spelled out ("io_uring qd 16,
// fixed-buffers"), '|' in target names escaped.
std::string format_markdown(std::span<const Row> rows);

// A JSON string literal for @s, quotes included.
std::string json_string(std::string_view s);

// The gnuplot data file of the stream rows: one block per target x engine
// (columns: block size, median MB/s, min, max), blocks separated by two
// blank lines as gnuplot's "index" expects, in first-seen order.
std::string gnuplot_data(std::span<const Row> rows);
// A script that plots @data_path (made by gnuplot_data from the same rows)
// to @png_path: throughput against block size, log-x.
std::string gnuplot_script(std::span<const Row> rows, std::string_view data_path,
			   std::string_view png_path);

} // namespace circbuf::bench
