// circbuf-fuzz's parts (see circbuf-fuzz.cpp for what it does): the
// operation kinds, the options and the state the threads share, the worker,
// and the final check. worker.cpp holds the worker's bookkeeping and its
// loop, sys_ops.cpp its system-call operations, span_ops.cpp the span
// protocol's, uring_ops.cpp its io_uring ones, final_check.cpp the exact
// check of the device at the end.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asm/ioctls.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/pattern.h"
#include "circbuf/record.h"
#include "circbuf/report.h"
#include "circbuf/stats.h"

namespace circbuf::fuzz {

using Clock = std::chrono::steady_clock;

constexpr const char *kTool = "circbuf-fuzz";
constexpr size_t kPipeBuf = 4096;
constexpr size_t kMaxRwCount = INT_MAX & ~size_t{4095}; // the kernel's MAX_RW_COUNT
constexpr int kSignal = SIGUSR1;
constexpr size_t kPrivateFds = 6;	// per worker
constexpr unsigned kRingEntries = 32;
constexpr unsigned kMaxPending = 24;	// io_uring requests per worker
constexpr int kErrSlots = 135;		// 0: success, 1..133: errno, 134: other
// More files than the fuzzer could ever have open (io_uring requests keep
// closed files alive too): readers or writers above it mean an underflow.
constexpr unsigned kMaxFiles = 100000;

// ---------------------------------------------------------------------------
// Operation kinds and what they count.

enum Kind : unsigned {
	kOpen, kClose, kRead, kWrite, kReadv, kWritev, kPread, kLseek, kMmap,
	kSplice, kIoctlStats, kIoctlFionread, kIoctlMisencoded, kIoctlGeneric,
	kIoctlRandom, kPoll, kPpoll, kFcntl, kUringRead, kUringWrite,
	kUringReadv, kUringWritev, kUringReadFixed, kUringWriteFixed, kUringCmd,
	kUringPoll, kUringCancel, kUringTeardown, kSpan, kKinds
};

constexpr const char *kKindNames[kKinds] = {
	"open", "close", "read", "write", "readv", "writev", "pread", "lseek",
	"mmap", "splice", "ioctl-stats", "ioctl-fionread", "ioctl-misencoded",
	"ioctl-generic", "ioctl-random", "poll", "ppoll", "fcntl", "uring-read",
	"uring-write", "uring-readv", "uring-writev", "uring-read-fixed",
	"uring-write-fixed", "uring-cmd", "uring-poll", "uring-cancel",
	"uring-teardown", "span",
};

// Relative frequencies of the kinds.
constexpr unsigned kWeights[kKinds] = {
	/* open */ 4, /* close */ 3, /* read */ 14, /* write */ 14, /* readv */ 5,
	/* writev */ 5, /* pread */ 1, /* lseek */ 1, /* mmap */ 1, /* splice */ 2,
	/* ioctl-stats */ 4, /* fionread */ 2, /* misencoded */ 2, /* generic */ 2,
	/* random */ 2, /* poll */ 4, /* ppoll */ 2, /* fcntl */ 3,
	/* uring-read */ 5, /* uring-write */ 5, /* uring-readv */ 2,
	/* uring-writev */ 2, /* read-fixed */ 2, /* write-fixed */ 2,
	/* uring-cmd */ 3, /* uring-poll */ 1, /* cancel */ 2, /* teardown */ 1,
	/* span */ 3,
};

using Hist = std::array<std::array<std::uint64_t, kErrSlots>, kKinds>;

inline int err_slot(int e)
{
	return e >= 0 && e < kErrSlots - 1 ? e : kErrSlots - 1;
}

inline std::string errname(int e)
{
	if (!e)
		return "ok";
	const char *n = strerrorname_np(e);
	return n ? n : strprintf("errno%d", e);
}

// ---------------------------------------------------------------------------
// Options and shared state.

struct Options {
	std::string device = "/dev/circbuf";
	double duration = 10;
	std::uint64_t threads = 4;
	std::string seed_text;
	std::uint64_t max_ops = 0;
	bool no_uring = false;
	bool no_signals = false;
	std::uint64_t signal_us = 2000;
	std::uint64_t max_failures = 20;
};

struct Shared {
	Options opt;
	std::uint64_t seed = 0;
	size_t capacity = 0;
	size_t atomic_max = 0;
	size_t page = 4096;
	// Fixed bad memory: a PROT_NONE page and a PROT_READ page.
	void *prot_none = nullptr;
	void *prot_read = nullptr;
	// Files every worker may use (never closed while workers run).
	struct SharedFd {
		int fd;
		int acc;
	};
	std::vector<SharedFd> shared_fds;
	std::atomic<bool> stop{false};
	std::atomic<std::uint64_t> ops{0};
	std::atomic<std::uint64_t> signals_sent{0};
	std::mutex fail_mu;
	std::atomic<std::uint64_t> nfailures{0};
};

// Signals the workers' handler saw (circbuf-fuzz.cpp).
extern std::atomic<std::uint64_t> g_signals_delivered;

// ---------------------------------------------------------------------------
// The worker.

// A file descriptor an operation is aimed at.
struct FdRef {
	int fd = -1;
	int acc = O_RDWR;	// O_RDONLY, O_WRONLY, O_RDWR or 3 (neither)
	bool open = false;	// false: a number that is not an open file
	bool path = false;	// an O_PATH descriptor: no I/O at all
	bool priv = false;	// the worker's own: O_NONBLOCK state known
	bool nonblock = false;
	size_t slot = 0;	// index in the private table

	bool can_read() const { return open && !path && (acc == O_RDONLY || acc == O_RDWR); }
	bool can_write() const { return open && !path && (acc == O_WRONLY || acc == O_RDWR); }
	bool is_device() const { return open && !path; }
};

struct PrivateFd {
	unique_fd fd;
	int acc = O_RDWR;
	bool path = false;
	bool nonblock = false;
};

// A buffer handed to the kernel: how many bytes from p it may write (read
// into it) and read (write from it).
struct Buf {
	void *p = nullptr;
	size_t rw_room = 0;
	size_t ro_room = 0;
	const char *what = "";
};

// An io_uring request in flight.
struct Pending {
	Kind kind;
	FdRef f{};
	size_t len = 0;		// bytes asked for (iovec total, clamped)
	size_t room = 0;	// bytes the kernel can reach in the buffer(s)
	bool nowait = false;	// RWF_NOWAIT
	bool odd_flags = false; // rw_flags with unsupported bits
	bool odd_offset = false;
	bool bad_vec = false;	// iovec array itself unreadable or invalid
	bool cancel_aimed = false; // a cancel request may have matched it
	bool nonblock_toggled = false; // its private file's O_NONBLOCK changed since
	bool fd_closed = false;	// its private fd was closed while in flight
	int expect = 0;		// uring-cmd: the one right result
	std::unique_ptr<circbuf_stats> st{};
	std::vector<iovec> iov{};
};

class Worker {
public:
	Worker(Shared &sh, unsigned id, std::byte *arena, size_t arena_size)
		: sh_(sh), id_(id), arena_(arena), arena_size_(arena_size)
	{
		rng_.state = sh.seed ^ (std::uint64_t(id + 1) * 0x9e3779b97f4a7c15ULL);
		rng_.next();
	}

	void run();
	pid_t tid() const { return tid_.load(); }
	bool done() const { return done_.load(); }
	const Hist &hist() const { return hist_; }
	std::uint64_t ops() const { return ops_; }

private:
	// Helpers.
	std::uint64_t rnd(std::uint64_t n) { return n ? rng_.next() % n : 0; }
	bool chance(unsigned percent) { return rnd(100) < percent; }
	void fail(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	void count(Kind k, int e) { hist_[k][err_slot(e)]++; }
	// Record the outcome of a system call that returns -1/errno.
	bool expect_errno(Kind k, long r, int e, std::initializer_list<int> allowed,
			  const char *what);

	size_t pick_count();
	Buf pick_buf(size_t n);
	FdRef pick_fd();
	FdRef pick_shared_fd();
	FdRef pick_device_fd();
	FdRef pick_fd_for(bool is_read);
	// @monotonic: compare with the worker's previous snapshot (only for
	// snapshots taken in program order: io_uring's complete out of order).
	void check_stats(const circbuf_stats &s, const FdRef &f, const char *via,
			 bool monotonic);

	// Operations.
	void op_open();
	void op_close();
	void op_rw(bool is_read);
	void op_rwv(bool is_read);
	void op_pread();
	void op_lseek();
	void op_mmap();
	void op_splice();
	// An ioctl @cmd (called @name) of a picked fd into local (n bytes, on
	// the caller's stack) or, once in four, a picked buffer; counted as
	// @k. On a closed or O_PATH fd it must fail with EBADF: checked, and
	// bad_fd set.
	struct Ioctl {
		FdRef f{};
		Buf b{};
		long r = 0;
		int e = 0;
		bool bad_fd = false;
	};
	Ioctl ioctl_into(Kind k, const char *name, unsigned long cmd, void *local, size_t n);
	void op_ioctl_stats();
	void op_ioctl_fionread();
	void op_ioctl_misencoded();
	void op_ioctl_generic();
	void op_ioctl_random();
	void op_span();
	void op_poll(bool ppoll_variant);
	void op_fcntl();
	void op_uring(Kind k);
	void op_uring_cmd();
	void op_uring_poll();
	void op_uring_cancel();
	void op_uring_teardown();

	// io_uring plumbing.
	bool ring_up();
	void ring_down(bool cancel_first);
	void cancel_all();
	io_uring_sqe *get_sqe();
	void submit(io_uring_sqe *sqe, Pending p);
	void reap(bool wait);
	void check_cqe(std::uint64_t id, int res);
	// A request in flight meets its file's O_NONBLOCK as it is when the
	// request runs, not as it was at submission: mark those on @fd.
	void nonblock_toggled(int fd)
	{
		for (auto &[id, q] : pending_)
			q.nonblock_toggled |= q.f.priv && q.f.fd == fd;
	}
	std::vector<iovec> make_iov(size_t &total, size_t &room, bool &bad, bool &efault,
				    bool is_read);
	size_t accessible(const void *p, bool is_read) const;

	void check_rw_result(Kind k, const FdRef &f, bool is_read, size_t n, size_t room,
			     long r, int e, bool efault_ok, bool einval_ok, bool enomem_ok,
			     const char *what);

	Shared &sh_;
	unsigned id_;
	std::byte *arena_;
	size_t arena_size_;
	Rng rng_{0};
	std::atomic<pid_t> tid_{0};
	std::atomic<bool> done_{false};
	Hist hist_{};
	std::uint64_t ops_ = 0;
	std::vector<PrivateFd> fds_;
	circbuf_stats last_{}; // this worker's newest stats snapshot
	bool have_last_ = false;

	bool ring_ok_ = false;
	io_uring ring_{};
	std::map<std::uint64_t, Pending> pending_;
	std::vector<Pending> graveyard_;
	std::uint64_t next_id_ = 1;
	int pipe_[2] = {-1, -1};
};

// ---------------------------------------------------------------------------
// The final check: the device, alone now, must be consistent and exact.

struct Final {
	std::vector<std::string> failures;
	std::uint64_t drained = 0, round_trip = 0;
	void fail(std::string s) { failures.push_back(std::move(s)); }
};

void final_check(const Shared &sh, Final &out);

} // namespace circbuf::fuzz
