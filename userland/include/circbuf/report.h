// Messages to the user: printf-style formatting and "tool: what: error".
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace circbuf {

// snprintf into a std::string (g++ 12 has no <format>).
std::string strprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// "123456 bytes in 1.234 s (100.0 MB/s)"; MB = 10^6 bytes.
std::string format_throughput(unsigned long long bytes, double seconds);

// "tool: what: strerror text" on stderr.
void print_error(std::string_view tool, std::string_view what, std::error_code ec);
// "tool: message" on stderr.
void print_error(std::string_view tool, std::string_view message);

} // namespace circbuf
