// Tests of circbuf-bench's pure logic (circbuf/bench.h).
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "circbuf/bench.h"

using namespace circbuf::bench;

namespace {

Sample sample(std::uint64_t bytes, double seconds, double cpu = 0,
	      std::uint64_t ops = 0)
{
	Sample s;
	s.bytes = bytes;
	s.seconds = seconds;
	s.cpu_seconds = cpu;
	s.ops = ops;
	return s;
}

Row stream_row(std::string target, std::string engine, std::uint64_t bs,
	       std::vector<Sample> samples)
{
	Row r;
	r.target = std::move(target);
	r.engine = std::move(engine);
	r.bs = bs;
	r.capacity = 65536;
	r.verify = "pattern";
	r.samples = std::move(samples);
	return r;
}

// A pingpong row of one sample s, given the latency percentiles the output
// tests look for: 12.5, 40 and 90.25 us.
Row pingpong_row(std::string target, std::uint64_t bs, Sample s)
{
	Row r = stream_row(std::move(target), "sync", bs, {s});
	r.mode = "pingpong";
	r.samples[0].p50_us = 12.5;
	r.samples[0].p99_us = 40;
	r.samples[0].p999_us = 90.25;
	return r;
}

size_t count(const std::string &s, const std::string &what)
{
	size_t n = 0;
	for (size_t i = s.find(what); i != s.npos; i = s.find(what, i + 1))
		n++;
	return n;
}

// ---- block sizes ----

TEST(BenchBlockSizes, ParsesSuffixesInOrder)
{
	auto v = parse_block_sizes("64,4K,64k,1M");
	ASSERT_TRUE(v.has_value());
	EXPECT_EQ(*v, (std::vector<std::uint64_t>{64, 4096, 65536, 1048576}));
}

TEST(BenchBlockSizes, DropsDuplicates)
{
	auto v = parse_block_sizes("4K,4096,1K");
	ASSERT_TRUE(v.has_value());
	EXPECT_EQ(*v, (std::vector<std::uint64_t>{4096, 1024}));
}

TEST(BenchBlockSizes, RejectsJunkZeroEmptyAndHuge)
{
	for (const char *bad : {"", "0", "4K,", ",4K", "4X", "-1", "65M", "1G", "4 K"}) {
		auto v = parse_block_sizes(bad);
		EXPECT_FALSE(v.has_value()) << "'" << bad << "'";
	}
	auto v = parse_block_sizes("64,abc");
	ASSERT_FALSE(v.has_value());
	EXPECT_NE(v.error().find("'abc'"), std::string::npos) << v.error();
}

TEST(BenchBlockSizes, AcceptsTheLimit)
{
	auto v = parse_block_sizes("64M");
	ASSERT_TRUE(v.has_value());
	EXPECT_EQ(v->at(0), kMaxBlockSize);
}

TEST(BenchBlockSizes, SweepIsPowersOfFourFrom64To1M)
{
	EXPECT_EQ(sweep_block_sizes(),
		  (std::vector<std::uint64_t>{64, 256, 1024, 4096, 16384, 65536, 262144,
					      1048576}));
}

TEST(BenchBlockSizes, FormatIsExactAndShort)
{
	EXPECT_EQ(format_block_size(64), "64");
	EXPECT_EQ(format_block_size(1024), "1K");
	EXPECT_EQ(format_block_size(4096), "4K");
	EXPECT_EQ(format_block_size(1536), "1536");
	EXPECT_EQ(format_block_size(1048576), "1M");
	EXPECT_EQ(format_block_size(3u << 20), "3M");
	EXPECT_EQ(format_block_size(1u << 30), "1G");
	EXPECT_EQ(format_block_size(0), "0");
}

TEST(BenchBlockSizes, FormatRoundTripsThroughParse)
{
	for (auto bs : sweep_block_sizes()) {
		auto v = parse_block_sizes(format_block_size(bs));
		ASSERT_TRUE(v.has_value());
		EXPECT_EQ(v->at(0), bs);
	}
}

TEST(BenchSplitList, KeepsEmptyItems)
{
	EXPECT_EQ(split_list("a,b"), (std::vector<std::string>{"a", "b"}));
	EXPECT_EQ(split_list("a,,b"), (std::vector<std::string>{"a", "", "b"}));
	EXPECT_EQ(split_list(""), (std::vector<std::string>{""}));
}

// ---- statistics ----

// The samples 1, 2, ..., n.
std::vector<double> one_to(int n)
{
	std::vector<double> v;
	for (int i = 1; i <= n; i++)
		v.push_back(i);
	return v;
}

TEST(BenchPercentile, NearestRankOn100Samples)
{
	const std::vector<double> v = one_to(100);
	EXPECT_EQ(percentile(v, 50), 50);
	EXPECT_EQ(percentile(v, 99), 99);
	EXPECT_EQ(percentile(v, 99.9), 100);
	EXPECT_EQ(percentile(v, 100), 100);
	EXPECT_EQ(percentile(v, 1), 1);
}

TEST(BenchPercentile, P999Of1000IsThe999th)
{
	const std::vector<double> v = one_to(1000);
	EXPECT_EQ(percentile(v, 99.9), 999);
	EXPECT_EQ(percentile(v, 99), 990);
	EXPECT_EQ(percentile(v, 50), 500);
}

TEST(BenchPercentile, SmallAndEmpty)
{
	std::vector<double> one{7};
	EXPECT_EQ(percentile(one, 50), 7);
	EXPECT_EQ(percentile(one, 99.9), 7);
	std::vector<double> two{1, 2};
	EXPECT_EQ(percentile(two, 50), 1);
	EXPECT_EQ(percentile(two, 51), 2);
	EXPECT_EQ(percentile(std::vector<double>{}, 50), 0);
}

TEST(BenchSpread, OddEvenAndEmpty)
{
	Spread s = spread({5, 1, 3});
	EXPECT_EQ(s.median, 3);
	EXPECT_EQ(s.min, 1);
	EXPECT_EQ(s.max, 5);
	s = spread({4, 1, 3, 2});
	EXPECT_EQ(s.median, 2.5);
	EXPECT_EQ(s.min, 1);
	EXPECT_EQ(s.max, 4);
	s = spread({});
	EXPECT_EQ(s.median, 0);
}

TEST(BenchSummary, MediansOverRounds)
{
	// 1 MiB in 0.01, 0.02 and 0.04 s: 104.8576, 52.4288, 26.2144 MB/s.
	Row r = stream_row("circbuf", "sync", 4096,
			   {sample(1 << 20, 0.02, 0.004, 256), sample(1 << 20, 0.01, 0.002, 256),
			    sample(1 << 20, 0.04, 0.008, 256)});
	r.samples[0].vcsw = 10;
	r.samples[0].ivcsw = 2;
	r.samples[0].iowq_workers = 0;
	r.samples[1].iowq_workers = 2;
	Summary s = summarize(r);
	EXPECT_NEAR(s.mbps.median, 52.4288, 1e-9);
	EXPECT_NEAR(s.mbps.min, 26.2144, 1e-9);
	EXPECT_NEAR(s.mbps.max, 104.8576, 1e-9);
	EXPECT_NEAR(s.ops_per_s.median, 12800, 1e-6);
	EXPECT_NEAR(s.cpu_ms_per_mib, 4, 1e-9);
	EXPECT_EQ(s.ctxsw_per_mib, 0); // median of 12, 0, 0
	EXPECT_EQ(s.bytes, 1u << 20);
	EXPECT_EQ(s.iowq_workers, 2); // the most in any round
}

TEST(BenchSummary, ZeroTimeAndBytesDoNotDivide)
{
	Row r = stream_row("pipe", "sync", 64, {sample(0, 0)});
	Summary s = summarize(r);
	EXPECT_EQ(s.mbps.median, 0);
	EXPECT_EQ(s.cpu_ms_per_mib, 0);
	EXPECT_EQ(s.iowq_workers, -1);
}

// ---- output ----

TEST(BenchTable, OneLinePerRowWithSpread)
{
	std::vector<Row> rows = {
		stream_row("circbuf", "uring", 4096, {sample(1000000, 1), sample(3000000, 1)}),
		stream_row("pipe", "sync", 65536, {sample(2000000, 1)}),
	};
	std::string t = format_table(rows);
	EXPECT_EQ(count(t, "\n"), 3u) << t;
	EXPECT_NE(t.find("MB/s"), std::string::npos);
	EXPECT_NE(t.find("2.0 (1.0-3.0)"), std::string::npos) << t;
	EXPECT_NE(t.find("circbuf"), std::string::npos);
	EXPECT_NE(t.find("64K"), std::string::npos);
	EXPECT_EQ(t.find(" \n"), std::string::npos) << "trailing blanks:\n" << t;
}

TEST(BenchTable, PingpongSectionHasPercentiles)
{
	std::vector<Row> rows = {pingpong_row("circbuf", 1, sample(100, 1, 0, 100))};
	std::string t = format_table(rows);
	EXPECT_NE(t.find("p50 us"), std::string::npos) << t;
	EXPECT_NE(t.find("p99.9 us"), std::string::npos) << t;
	EXPECT_NE(t.find("12.5"), std::string::npos) << t;
	EXPECT_NE(t.find("90.2"), std::string::npos) << t;
	EXPECT_EQ(t.find("MB/s"), std::string::npos) << t;
}

TEST(BenchJson, ArrayOfObjectsWithEscapedStrings)
{
	std::vector<Row> rows = {
		stream_row("/tmp/a \"b\"\\c", "uring", 4096, {sample(2000000, 1)}),
		stream_row("pipe", "sync", 64, {sample(1000000, 2)}),
	};
	rows[0].samples[0].iowq_workers = 0;
	const std::string text = format_json(rows);
	ASSERT_FALSE(text.empty());
	EXPECT_EQ(text.back(), '\n');
	const auto j = nlohmann::json::parse(text); // throws, failing the test, if invalid
	ASSERT_TRUE(j.is_array());
	ASSERT_EQ(j.size(), 2u);
	EXPECT_EQ(j[0]["target"], "/tmp/a \"b\"\\c");
	EXPECT_EQ(j[0]["mbps"], 2.0);
	EXPECT_EQ(j[1]["mbps"], 0.5);
	EXPECT_EQ(j[0]["iowq_workers"], 0);
	EXPECT_TRUE(j[1]["iowq_workers"].is_null());
	for (const auto &row : j)
		EXPECT_FALSE(row.contains("p50_us")) << "stream rows have no latency";
}

TEST(BenchJson, EmptyIsAnEmptyArray)
{
	EXPECT_EQ(format_json({}), "[]\n");
}

TEST(BenchJson, StringEscapes)
{
	EXPECT_EQ(json_string("a\tb\n\x01"), "\"a\\tb\\n\\u0001\"");
}

TEST(BenchCsv, FixedHeaderAndQuotedPaths)
{
	std::vector<Row> rows = {stream_row("/tmp/x,y", "sync", 4096, {sample(1000000, 1)})};
	Row pp = stream_row("pipe", "uring", 64, {sample(64, 1, 0, 1)});
	pp.mode = "pingpong";
	pp.samples[0].p50_us = 3;
	rows.push_back(pp);
	std::string c = format_csv(rows);
	auto header = c.substr(0, c.find('\n'));
	EXPECT_TRUE(header.starts_with("mode,target,engine,bs,")) << header;
	EXPECT_NE(header.find(",p50_us,"), std::string::npos) << header;
	EXPECT_EQ(count(c, "\n"), 3u);
	size_t columns = count(header, ",");
	size_t pos = c.find('\n') + 1;
	auto line1 = c.substr(pos, c.find('\n', pos) - pos);
	EXPECT_TRUE(line1.starts_with("stream,\"/tmp/x,y\",sync,4096,")) << line1;
	EXPECT_EQ(count(line1, ","), columns + 1) << "one comma is inside quotes";
	EXPECT_TRUE(line1.ends_with(",,,,,")) << "no latency for a stream row: " << line1;
	EXPECT_NE(c.find("pingpong,pipe,uring,64,"), std::string::npos) << c;
}

TEST(BenchCsv, OptionsColumnIsQuotedWhenItHasCommas)
{
	Row r = stream_row("circbuf", "uring", 4096, {sample(1000000, 1)});
	r.qd = 16;
	r.options = "fixed-buffers,fixed-files";
	std::vector<Row> rows = {r};
	std::string c = format_csv(rows);
	EXPECT_NE(c.find(",16,\"fixed-buffers,fixed-files\","), std::string::npos) << c;
	EXPECT_NE(format_json(rows).find("\"options\": \"fixed-buffers,fixed-files\""),
		  std::string::npos);
}

TEST(BenchMarkdown, StreamTableSpellsOutEnginesAndWorkers)
{
	Row uring = stream_row("circbuf", "uring", 4096, {sample(1000000, 1), sample(3000000, 1)});
	uring.qd = 16;
	uring.options = "fixed-buffers,fixed-files";
	uring.samples[0].iowq_workers = 0;
	uring.samples[1].iowq_workers = 0;
	Row pipe = stream_row("pipe", "uring", 4096, {sample(1000000, 1)});
	pipe.qd = 1;
	pipe.samples[0].iowq_workers = 2;
	std::vector<Row> rows = {stream_row("circbuf", "sync", 4096, {sample(2000000, 1)}),
				 uring, pipe};
	std::string m = format_markdown(rows);
	EXPECT_EQ(count(m, "\n"), 5u) << m;
	EXPECT_TRUE(m.starts_with("| target | engine | block | MB/s median (min-max) |")) << m;
	EXPECT_NE(m.find("\n|---|---|---|---|---|---|---|---|\n"), std::string::npos) << m;
	EXPECT_NE(m.find("| circbuf | read/write | 4K | 2.0 |"), std::string::npos) << m;
	EXPECT_NE(m.find("| circbuf | io_uring qd 16, fixed-buffers, fixed-files | 4K | "
			 "2.0 (1.0-3.0) |"),
		  std::string::npos)
		<< m;
	EXPECT_NE(m.find("| pipe | io_uring qd 1 | 4K | 1.0 | 0 | 0 | 0 | 2 |"),
		  std::string::npos)
		<< m;
	EXPECT_NE(m.find(" | - |\n"), std::string::npos) << "sync has no io-wq: " << m;
}

TEST(BenchMarkdown, PingpongTableAndEscapedPipeInPaths)
{
	std::vector<Row> rows = {pingpong_row("/tmp/a|b", 64, sample(64, 1, 0, 1))};
	std::string m = format_markdown(rows);
	EXPECT_TRUE(m.starts_with("| target | engine | block | round trip p50 us")) << m;
	EXPECT_NE(m.find("| /tmp/a\\|b | read/write | 64 | 12.5 | 40.0 | 90.2 |"),
		  std::string::npos)
		<< m;
	EXPECT_EQ(m.find("MB/s"), std::string::npos) << m;
}

TEST(BenchMarkdown, EmptyIsEmpty)
{
	EXPECT_EQ(format_markdown({}), "");
}

TEST(BenchGnuplot, OneBlockPerTargetEngineSortedByBs)
{
	std::vector<Row> rows = {
		stream_row("circbuf", "sync", 65536, {sample(2000000, 1)}),
		stream_row("pipe", "sync", 65536, {sample(3000000, 1)}),
		stream_row("circbuf", "sync", 4096, {sample(1000000, 1)}),
	};
	std::string d = gnuplot_data(rows);
	EXPECT_EQ(count(d, "\n\n\n"), 1u) << d; // two blocks
	EXPECT_LT(d.find("4096 1 1 1"), d.find("65536 2 2 2")) << d;
	EXPECT_GT(d.find("65536 3 3 3"), d.find("\n\n\n")) << d;

	std::string g = gnuplot_script(rows, "out's.dat", "out.png");
	EXPECT_NE(g.find("set logscale x 2"), std::string::npos);
	EXPECT_NE(g.find("set output 'out.png'"), std::string::npos);
	EXPECT_NE(g.find("'out''s.dat' index 0"), std::string::npos) << g;
	EXPECT_NE(g.find("index 1 using 1:2:3:4 with yerrorlines title 'pipe sync'"),
		  std::string::npos)
		<< g;
	EXPECT_EQ(g.find("index 2"), std::string::npos) << g;
	EXPECT_NE(g.find("set xtics ('4K' 4096, '64K' 65536)"), std::string::npos) << g;
}

TEST(BenchGnuplot, PingpongRowsAreNotPlotted)
{
	Row r = stream_row("pipe", "sync", 64, {sample(1, 1)});
	r.mode = "pingpong";
	std::vector<Row> rows = {r};
	EXPECT_EQ(gnuplot_data(rows), "");
	EXPECT_EQ(gnuplot_script(rows, "d", "p.png").find("plot '"), std::string::npos);
}

} // namespace
