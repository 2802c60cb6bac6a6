// circbuf-bench: the targets (the device, a pipe of its capacity, a path)
// and their files.
#include "bench_tool.h"

namespace circbuf::benchtool {

Target make_target(const Options &o, const std::string &name)
{
	if (name == "circbuf")
		return {name, o.device};
	if (name == "pipe")
		return {name, {}};
	return {name, name};
}

// The device's capacity, or 0 if it cannot be asked.
std::uint64_t device_capacity(const std::string &path)
{
	auto fd = open_fd(path.c_str(), O_RDONLY | O_NONBLOCK);
	if (!fd)
		return 0;
	auto st = get_stats(fd->get());
	return st ? st->capacity : 0;
}

// Read and discard what @path holds now; returns the bytes drained.
std::uint64_t drain(const std::string &path)
{
	auto fd = open_fd(path.c_str(), O_RDONLY | O_NONBLOCK);
	if (!fd)
		die_errno("open " + path, fd.error().value());
	auto n = circbuf::drain(fd->get());
	if (!n)
		die_errno("drain " + path, n.error().value());
	return *n;
}


void clear_nonblock(int fd, const std::string &what)
{
	int fl = ::fcntl(fd, F_GETFL);
	if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		die_errno("fcntl " + what, errno);
}

unique_fd dup_fd(int fd)
{
	int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		die_errno("dup", errno);
	return unique_fd(d);
}

// A pipe of @size bytes (0: the default size); the capacity is what the
// kernel made of it.
void make_pipe(std::uint64_t size, unique_fd &rd, unique_fd &wr, std::uint64_t *capacity)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) < 0)
		die_errno("pipe2", errno);
	rd.reset(fds[0]);
	wr.reset(fds[1]);
	if (size && ::fcntl(wr.get(), F_SETPIPE_SZ, int(std::min<std::uint64_t>(size, INT32_MAX))) < 0)
		die_errno(strprintf("F_SETPIPE_SZ %llu (see /proc/sys/fs/pipe-max-size)",
				    (unsigned long long)size), errno);
	int got = ::fcntl(wr.get(), F_GETPIPE_SZ);
	if (got < 0)
		die_errno("F_GETPIPE_SZ", errno);
	if (capacity)
		*capacity = std::uint64_t(got);
}

Endpoints open_target(const Target &t, std::uint64_t pipe_size, size_t writers,
		      size_t readers, std::uint64_t *drained, int writer_mode)
{
	Endpoints ep;
	if (t.path.empty()) {
		unique_fd rd, wr;
		make_pipe(pipe_size, rd, wr, &ep.capacity);
		for (size_t i = 0; i < writers; i++)
			ep.writers.push_back(dup_fd(wr.get()));
		for (size_t i = 0; i < readers; i++)
			ep.readers.push_back(dup_fd(rd.get()));
		return ep;
	}
	*drained = drain(t.path);
	// Readers first, without blocking, so that opening a FIFO for writing
	// finds a reader; then the reads block as usual.
	for (size_t i = 0; i < readers; i++) {
		auto fd = open_fd(t.path.c_str(), O_RDONLY | O_NONBLOCK);
		if (!fd)
			die_errno("open " + t.path, fd.error().value());
		clear_nonblock(fd->get(), t.path);
		ep.readers.push_back(std::move(*fd));
	}
	for (size_t i = 0; i < writers; i++) {
		auto fd = open_fd(t.path.c_str(), writer_mode);
		if (!fd)
			die_errno("open " + t.path + " for writing", fd.error().value());
		ep.writers.push_back(std::move(*fd));
	}
	if (auto st = get_stats(ep.readers[0].get()))
		ep.capacity = st->capacity;
	else if (int sz = ::fcntl(ep.readers[0].get(), F_GETPIPE_SZ); sz > 0)
		ep.capacity = std::uint64_t(sz);
	return ep;
}

} // namespace circbuf::benchtool
