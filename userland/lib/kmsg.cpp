#include "circbuf/kmsg.h"

#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

namespace circbuf {

KmsgTail::KmsgTail() : fd_(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC))
{
	if (fd_.ok())
		::lseek(fd_.get(), 0, SEEK_END);
}

std::vector<KmsgRecord> KmsgTail::read_new()
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
