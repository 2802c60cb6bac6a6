// The kernel log records that arrive after a point in time, from /dev/kmsg:
// what the device tests (tests/vm) and the load sweep (tests/fault) read
// back of what the kernel said. Test code only: not in the tools' library.
#pragma once

#include <cerrno>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "circbuf/unique_fd.h"

namespace circbuf {

struct KmsgRecord {
	std::string message; // the text of the record's first line
	std::string raw;     // "prio,seq,time,flags;message\n" and its continuation lines
};

class KmsgTail {
public:
	// Opens /dev/kmsg at its end: only records logged from now on count.
	KmsgTail() : fd_(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC))
	{
		if (fd_.ok())
			::lseek(fd_.get(), 0, SEEK_END);
	}
	bool ok() const { return fd_.ok(); }
	// The records logged since the last call (or since construction),
	// skipping any that the kernel overwrote before they were read.
	std::vector<KmsgRecord> read_new();

private:
	unique_fd fd_;
};

inline std::vector<KmsgRecord> KmsgTail::read_new()
{
	std::vector<KmsgRecord> out;
	char rec[8192]; // one read(2) of /dev/kmsg returns one whole record
	for (;;) {
		const ssize_t n = ::read(fd_.get(), rec, sizeof(rec));
		if (n < 0 && errno == EPIPE) // overwritten records: go on from the next
			continue;
		if (n <= 0)
			break;
		KmsgRecord r{{}, std::string(rec, size_t(n))};
		const size_t semi = r.raw.find(';'), nl = r.raw.find('\n');
		if (semi != std::string::npos && nl != std::string::npos && nl > semi)
			r.message = r.raw.substr(semi + 1, nl - semi - 1);
		out.push_back(std::move(r));
	}
	return out;
}

} // namespace circbuf
