// The kernel log records that arrive after a point in time, from /dev/kmsg:
// what the device tests and the load sweep read back of what the kernel
// said.
#pragma once

#include <string>
#include <vector>

#include "circbuf/unique_fd.h"

namespace circbuf {

struct KmsgRecord {
	std::string message; // the text of the record's first line
	std::string raw;     // "prio,seq,time,flags;message\n" and its continuation lines
};

class KmsgTail {
public:
	// Opens /dev/kmsg at its end: only records logged from now on count.
	KmsgTail();
	bool ok() const { return fd_.ok(); }
	// The records logged since the last call (or since construction),
	// skipping any that the kernel overwrote before they were read.
	std::vector<KmsgRecord> read_new();

private:
	unique_fd fd_;
};

} // namespace circbuf
