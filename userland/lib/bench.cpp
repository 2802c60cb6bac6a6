#include "circbuf/bench.h"

#include <algorithm>
#include <cmath>

#include "circbuf/options.h"
#include "circbuf/report.h"

namespace circbuf::bench {

std::vector<std::string> split_list(std::string_view s)
{
	std::vector<std::string> out;
	for (;;) {
		size_t comma = s.find(',');
		out.emplace_back(s.substr(0, comma));
		if (comma == s.npos)
			return out;
		s.remove_prefix(comma + 1);
	}
}

std::expected<std::vector<std::uint64_t>, std::string>
parse_block_sizes(std::string_view list)
{
	std::vector<std::uint64_t> out;
	for (const auto &item : split_list(list)) {
		auto n = parse_size(item);
		if (!n || *n == 0 || *n > kMaxBlockSize)
			return std::unexpected(
				"bad block size '" + item + "': expected 1.." +
				format_block_size(kMaxBlockSize) +
				" such as 64, 4K or 1M, separated by commas");
		if (std::find(out.begin(), out.end(), *n) == out.end())
			out.push_back(*n);
	}
	return out;
}

std::vector<std::uint64_t> sweep_block_sizes()
{
	std::vector<std::uint64_t> out;
	for (std::uint64_t bs = 64; bs <= (1u << 20); bs *= 4)
		out.push_back(bs);
	return out;
}

std::string format_block_size(std::uint64_t bytes)
{
	if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
		return strprintf("%lluG", (unsigned long long)(bytes >> 30));
	if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		return strprintf("%lluM", (unsigned long long)(bytes >> 20));
	if (bytes >= (1u << 10) && bytes % (1u << 10) == 0)
		return strprintf("%lluK", (unsigned long long)(bytes >> 10));
	return strprintf("%llu", (unsigned long long)bytes);
}

double percentile(std::span<const double> sorted, double p)
{
	if (sorted.empty())
		return 0;
	// Rank ceil(p/100 * n), 1-based; the epsilon keeps 99.9% of 1000
	// samples at rank 999 despite rounding in p/100 * n.
	double rank = std::ceil(p / 100.0 * double(sorted.size()) - 1e-9);
	size_t i = rank < 1 ? 0 : size_t(rank) - 1;
	return sorted[std::min(i, sorted.size() - 1)];
}

Spread spread(std::vector<double> v)
{
	if (v.empty())
		return {};
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return {median, v.front(), v.back()};
}

namespace {

double median_of(const Row &row, auto field)
{
	std::vector<double> v;
	for (const auto &s : row.samples)
		v.push_back(field(s));
	return spread(std::move(v)).median;
}

Spread spread_of(const Row &row, auto field)
{
	std::vector<double> v;
	for (const auto &s : row.samples)
		v.push_back(field(s));
	return spread(std::move(v));
}

constexpr double kMiB = 1024.0 * 1024.0;

// "123.4 (120.1-125.0)", or just the median with one sample.
std::string with_spread(const Spread &s, int rounds, const char *fmt)
{
	std::string out = strprintf(fmt, s.median);
	if (rounds > 1)
		out += " (" + strprintf(fmt, s.min) + "-" + strprintf(fmt, s.max) + ")";
	return out;
}

// Significant digits without exponents for typical benchmark values.
std::string num(double v)
{
	if (v == 0)
		return "0";
	if (std::fabs(v) >= 100)
		return strprintf("%.0f", v);
	if (std::fabs(v) >= 10)
		return strprintf("%.1f", v);
	if (std::fabs(v) >= 1)
		return strprintf("%.2f", v);
	return strprintf("%.3g", v);
}

std::string json_number(double v)
{
	if (!std::isfinite(v))
		return "null";
	return strprintf("%.6g", v);
}

std::string capacity_text(std::uint64_t c)
{
	return c ? format_block_size(c) : "?";
}

std::string pad(std::string s, size_t width)
{
	if (s.size() < width)
		s.resize(width, ' ');
	return s + " ";
}

std::string rpad(std::string s, size_t width)
{
	if (s.size() < width)
		s.insert(0, width - s.size(), ' ');
	return s + " ";
}

} // namespace

Summary summarize(const Row &row)
{
	Summary s;
	s.mbps = spread_of(row, [](const Sample &x) {
		return x.seconds > 0 ? double(x.bytes) / x.seconds / 1e6 : 0;
	});
	s.ops_per_s = spread_of(row, [](const Sample &x) {
		return x.seconds > 0 ? double(x.ops) / x.seconds : 0;
	});
	s.cpu_ms_per_mib = median_of(row, [](const Sample &x) {
		return x.bytes ? x.cpu_seconds * 1e3 / (double(x.bytes) / kMiB) : 0;
	});
	s.ctxsw_per_mib = median_of(row, [](const Sample &x) {
		return x.bytes ? double(x.vcsw + x.ivcsw) / (double(x.bytes) / kMiB) : 0;
	});
	s.cpu_us_per_op = median_of(row, [](const Sample &x) {
		return x.ops ? x.cpu_seconds * 1e6 / double(x.ops) : 0;
	});
	s.ctxsw_per_op = median_of(row, [](const Sample &x) {
		return x.ops ? double(x.vcsw + x.ivcsw) / double(x.ops) : 0;
	});
	s.bytes = std::uint64_t(median_of(row, [](const Sample &x) { return double(x.bytes); }));
	for (const auto &x : row.samples)
		s.iowq_workers = std::max(s.iowq_workers, x.iowq_workers);
	s.p50_us = spread_of(row, [](const Sample &x) { return x.p50_us; });
	s.p99_us = spread_of(row, [](const Sample &x) { return x.p99_us; });
	s.p999_us = spread_of(row, [](const Sample &x) { return x.p999_us; });
	return s;
}

std::string format_table(std::span<const Row> rows)
{
	std::string stream, pingpong;
	for (const auto &r : rows) {
		Summary s = summarize(r);
		int n = int(r.samples.size());
		std::string common = pad(r.target, 10) + pad(r.engine, 6) +
				     rpad(format_block_size(r.bs), 5) +
				     rpad(capacity_text(r.capacity), 8);
		if (r.mode == "pingpong") {
			pingpong += common + rpad(with_spread(s.p50_us, n, "%.1f"), 22) +
				    rpad(strprintf("%.1f", s.p99_us.median), 8) +
				    rpad(strprintf("%.1f", s.p999_us.median), 9) +
				    rpad(num(s.cpu_us_per_op), 9) +
				    rpad(num(s.ctxsw_per_op), 8) + "\n";
		} else {
			stream += common + rpad(with_spread(s.mbps, n, "%.1f"), 24) +
				  rpad(strprintf("%.0f", s.ops_per_s.median), 10) +
				  rpad(num(s.cpu_ms_per_mib), 10) +
				  rpad(num(s.ctxsw_per_mib), 10) + " " + r.verify + "\n";
		}
	}
	std::string head = pad("target", 10) + pad("engine", 6) + rpad("bs", 5) +
			   rpad("capacity", 8);
	std::string out;
	if (!stream.empty())
		out += head + rpad("MB/s median (min-max)", 24) + rpad("ops/s", 10) +
		       rpad("CPU ms/MiB", 10) + rpad("ctxsw/MiB", 10) + " verify\n" +
		       stream;
	if (!pingpong.empty()) {
		if (!out.empty())
			out += "\n";
		out += head + rpad("p50 us (min-max)", 22) + rpad("p99 us", 8) +
		       rpad("p99.9 us", 9) + rpad("CPU us/rt", 9) +
		       rpad("ctxsw/rt", 8) + "\n" + pingpong;
	}
	// Trailing spaces from the last padded column are noise.
	std::string clean;
	for (size_t i = 0; i < out.size(); i++) {
		if (out[i] == ' ') {
			size_t j = out.find_first_not_of(' ', i);
			if (j == out.npos || out[j] == '\n') {
				i = (j == out.npos ? out.size() : j) - 1;
				continue;
			}
		}
		clean += out[i];
	}
	return clean;
}

std::string json_string(std::string_view s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		switch (c) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\n': out += "\\n"; break;
		case '\t': out += "\\t"; break;
		default:
			if (c < 0x20)
				out += strprintf("\\u%04x", c);
			else
				out += char(c);
		}
	}
	return out + "\"";
}

namespace {

// The fields of one row as (name, JSON value) pairs; CSV uses the same list.
// With @all, the pingpong fields are there for stream rows too, as null.
std::vector<std::pair<std::string, std::string>> fields(const Row &r, bool all)
{
	Summary s = summarize(r);
	auto u = [](std::uint64_t v) { return strprintf("%llu", (unsigned long long)v); };
	std::vector<std::pair<std::string, std::string>> f = {
		{"mode", json_string(r.mode)},
		{"target", json_string(r.target)},
		{"engine", json_string(r.engine)},
		{"bs", u(r.bs)},
		{"capacity", u(r.capacity)},
		{"qd", u(r.qd)},
		{"options", json_string(r.options)},
		{"producers", u(r.producers)},
		{"consumers", u(r.consumers)},
		{"verify", json_string(r.verify)},
		{"rounds", u(r.samples.size())},
		{"bytes", u(s.bytes)},
		{"mbps", json_number(s.mbps.median)},
		{"mbps_min", json_number(s.mbps.min)},
		{"mbps_max", json_number(s.mbps.max)},
		{"ops_per_s", json_number(s.ops_per_s.median)},
		{"ops_per_s_min", json_number(s.ops_per_s.min)},
		{"ops_per_s_max", json_number(s.ops_per_s.max)},
		{"cpu_ms_per_mib", json_number(s.cpu_ms_per_mib)},
		{"ctxsw_per_mib", json_number(s.ctxsw_per_mib)},
		{"cpu_us_per_op", json_number(s.cpu_us_per_op)},
		{"ctxsw_per_op", json_number(s.ctxsw_per_op)},
		{"iowq_workers", s.iowq_workers < 0 ? "null" : strprintf("%d", s.iowq_workers)},
	};
	bool pp = r.mode == "pingpong";
	if (pp || all) {
		auto lat = [&](double v) { return pp ? json_number(v) : "null"; };
		f.insert(f.end(), {
			{"p50_us", lat(s.p50_us.median)},
			{"p50_us_min", lat(s.p50_us.min)},
			{"p50_us_max", lat(s.p50_us.max)},
			{"p99_us", lat(s.p99_us.median)},
			{"p999_us", lat(s.p999_us.median)},
		});
	}
	return f;
}

} // namespace

std::string format_json(std::span<const Row> rows)
{
	std::string out = "[";
	for (size_t i = 0; i < rows.size(); i++) {
		out += i ? ",\n {" : "\n {";
		bool first = true;
		for (const auto &[k, v] : fields(rows[i], false)) {
			out += (first ? "" : ", ") + json_string(k) + ": " + v;
			first = false;
		}
		out += "}";
	}
	return out + (rows.empty() ? "]\n" : "\n]\n");
}

std::string format_csv(std::span<const Row> rows)
{
	std::string out;
	for (const auto &[k, v] : fields(Row{}, true))
		out += (out.empty() ? "" : ",") + k;
	out += "\n";
	for (const auto &r : rows) {
		std::string line;
		for (auto [k, v] : fields(r, true)) {
			if (v == "null")
				v.clear();
			if (v.starts_with('"')) {
				// Strings: bare unless they need CSV quoting.
				std::string raw = k == "mode" ? r.mode : k == "target" ? r.target
						  : k == "engine" ? r.engine
						  : k == "options" ? r.options : r.verify;
				v = raw;
				if (raw.find_first_of(",\"\n") != raw.npos) {
					v = "\"";
					for (char c : raw)
						v += c == '"' ? std::string("\"\"") : std::string(1, c);
					v += "\"";
				}
			}
			line += (line.empty() ? "" : ",") + v;
		}
		out += line + "\n";
	}
	return out;
}

namespace {

std::string engine_label(const Row &r)
{
	if (r.engine == "sync")
		return "read/write";
	std::string s = r.engine == "mixed" ? "io_uring reader, write(2) writer" : "io_uring";
	s += strprintf(" qd %llu", (unsigned long long)r.qd);
	for (const auto &o : split_list(r.options))
		if (!o.empty())
			s += ", " + o;
	return s;
}

std::string markdown_cell(std::string_view s)
{
	std::string out;
	for (char c : s)
		out += c == '|' ? std::string("\\|") : std::string(1, c);
	return out;
}

} // namespace

std::string format_markdown(std::span<const Row> rows)
{
	std::string stream, pingpong;
	for (const auto &r : rows) {
		Summary s = summarize(r);
		int n = int(r.samples.size());
		std::string common = "| " + markdown_cell(r.target) + " | " + engine_label(r) +
				     " | " + format_block_size(r.bs) + " | ";
		if (r.mode == "pingpong")
			pingpong += common + with_spread(s.p50_us, n, "%.1f") + " | " +
				    strprintf("%.1f", s.p99_us.median) + " | " +
				    strprintf("%.1f", s.p999_us.median) + " | " +
				    num(s.cpu_us_per_op) + " |\n";
		else
			stream += common + with_spread(s.mbps, n, "%.1f") + " | " +
				  strprintf("%.0f", s.ops_per_s.median) + " | " +
				  num(s.cpu_ms_per_mib) + " | " + num(s.ctxsw_per_mib) + " | " +
				  (s.iowq_workers < 0 ? std::string("-")
						      : strprintf("%d", s.iowq_workers)) +
				  " |\n";
	}
	std::string out;
	if (!stream.empty())
		out += "| target | engine | block | MB/s median (min-max) | ops/s | "
		       "CPU ms/MiB | ctxsw/MiB | io-wq workers |\n"
		       "|---|---|---|---|---|---|---|---|\n" +
		       stream;
	if (!pingpong.empty())
		out += std::string(out.empty() ? "" : "\n") +
		       "| target | engine | block | round trip p50 us (min-max) | p99 us | "
		       "p99.9 us | CPU us/round trip |\n"
		       "|---|---|---|---|---|---|---|\n" +
		       pingpong;
	return out;
}

namespace {

// Stream rows grouped by target x engine, in first-seen order.
std::vector<std::vector<const Row *>> series(std::span<const Row> rows)
{
	std::vector<std::vector<const Row *>> out;
	for (const auto &r : rows) {
		if (r.mode == "pingpong")
			continue;
		auto it = std::find_if(out.begin(), out.end(), [&](const auto &s) {
			return s[0]->target == r.target && s[0]->engine == r.engine;
		});
		if (it == out.end())
			out.push_back({&r});
		else
			it->push_back(&r);
	}
	for (auto &s : out)
		std::stable_sort(s.begin(), s.end(),
				 [](const Row *a, const Row *b) { return a->bs < b->bs; });
	return out;
}

// Single-quoted gnuplot string.
std::string gp_string(std::string_view s)
{
	std::string out = "'";
	for (char c : s)
		out += c == '\'' ? std::string("''") : std::string(1, c);
	return out + "'";
}

} // namespace

std::string gnuplot_data(std::span<const Row> rows)
{
	std::string out;
	bool first = true;
	for (const auto &s : series(rows)) {
		if (!first)
			out += "\n\n";
		first = false;
		out += "# " + s[0]->target + " " + s[0]->engine +
		       ": bs MB/s_median MB/s_min MB/s_max\n";
		for (const Row *r : s) {
			Summary m = summarize(*r);
			out += strprintf("%llu %.6g %.6g %.6g\n", (unsigned long long)r->bs,
					 m.mbps.median, m.mbps.min, m.mbps.max);
		}
	}
	return out;
}

std::string gnuplot_script(std::span<const Row> rows, std::string_view data_path,
			   std::string_view png_path)
{
	std::string out =
		"# Throughput against block size; made by circbuf-bench --plot.\n"
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"    set terminal pngcairo size 1000,640 noenhanced\n"
		"} else {\n"
		"    set terminal png size 1000,640 noenhanced\n"
		"}\n"
		"set output " + gp_string(png_path) + "\n"
		"set title 'circbuf-bench: throughput by block size (median, min-max bars)'\n"
		"set logscale x 2\n"
		"set xlabel 'block size (bytes)'\n"
		"set ylabel 'MB/s (10^6 bytes/s)'\n"
		"set grid\n"
		"set key top left\n"
		"set yrange [0:*]\n";
	auto all = series(rows);
	if (all.empty())
		return out + "# no stream rows to plot\n";
	// Tics at the measured sizes, named as --bs names them, with room at
	// both ends for the error bars.
	std::vector<std::uint64_t> sizes;
	for (const auto &s : all)
		for (const Row *r : s)
			if (std::find(sizes.begin(), sizes.end(), r->bs) == sizes.end())
				sizes.push_back(r->bs);
	std::sort(sizes.begin(), sizes.end());
	out += "set xtics (";
	for (size_t i = 0; i < sizes.size(); i++)
		out += strprintf("%s'%s' %llu", i ? ", " : "",
				 format_block_size(sizes[i]).c_str(),
				 (unsigned long long)sizes[i]);
	out += strprintf(")\nset xrange [%g:%g]\n", double(sizes.front()) / 1.5,
			 double(sizes.back()) * 1.5);
	out += "plot";
	for (size_t i = 0; i < all.size(); i++)
		out += strprintf("%s \\\n    %s index %zu using 1:2:3:4 with yerrorlines title %s",
				 i ? "," : "", gp_string(data_path).c_str(), i,
				 gp_string(all[i][0]->target + " " + all[i][0]->engine).c_str());
	return out + "\n";
}

} // namespace circbuf::bench
