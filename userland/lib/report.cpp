#include "circbuf/report.h"

#include <cstdarg>
#include <cstdio>

namespace circbuf {

std::string strprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = std::vsnprintf(nullptr, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return {};
	std::string out(static_cast<size_t>(n), '\0');
	va_start(ap, fmt);
	std::vsnprintf(out.data(), out.size() + 1, fmt, ap);
	va_end(ap);
	return out;
}

std::string format_throughput(unsigned long long bytes, double seconds)
{
	double rate = seconds > 0 ? double(bytes) / seconds / 1e6 : 0;
	return strprintf("%llu bytes in %.3f s (%.1f MB/s)", bytes, seconds, rate);
}

void print_error(std::string_view tool, std::string_view what, std::error_code ec)
{
	std::fprintf(stderr, "%.*s: %.*s: %s\n", int(tool.size()), tool.data(),
		     int(what.size()), what.data(), ec.message().c_str());
}

void print_error(std::string_view tool, std::string_view message)
{
	std::fprintf(stderr, "%.*s: %.*s\n", int(tool.size()), tool.data(),
		     int(message.size()), message.data());
}

} // namespace circbuf
