// Tests of the circbuf_util helper library.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/pattern.h"
#include "circbuf/record.h"
#include "circbuf/report.h"
#include "circbuf/rings.h"
#include "circbuf/stats.h"

using namespace circbuf;
using namespace std::chrono_literals;

namespace {

bool fd_is_open(int fd)
{
	return ::fcntl(fd, F_GETFD) != -1;
}

struct Pipe {
	unique_fd rd, wr;
	Pipe()
	{
		int fds[2];
		EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
		rd.reset(fds[0]);
		wr.reset(fds[1]);
	}
};

std::vector<std::byte> bytes_of(std::string_view s)
{
	auto b = std::as_bytes(std::span(s));
	return {b.begin(), b.end()};
}

// ---- unique_fd ----

TEST(UniqueFd, DefaultOwnsNothing)
{
	unique_fd fd;
	EXPECT_FALSE(fd.ok());
	EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFd, ClosesOnDestruction)
{
	Pipe p;
	int raw = p.rd.get();
	{
		unique_fd owner(p.rd.release());
	}
	EXPECT_FALSE(fd_is_open(raw));
}

TEST(UniqueFd, MoveConstructionTransfersOwnership)
{
	Pipe p;
	int raw = p.rd.get();
	unique_fd moved(std::move(p.rd));
	EXPECT_EQ(moved.get(), raw);
	EXPECT_FALSE(p.rd.ok()); // NOLINT(bugprone-use-after-move)
	EXPECT_TRUE(fd_is_open(raw));
}

TEST(UniqueFd, MoveAssignmentClosesThePreviousFd)
{
	Pipe p;
	int old_fd = p.rd.get(), new_fd = p.wr.get();
	p.rd = std::move(p.wr);
	EXPECT_FALSE(fd_is_open(old_fd));
	EXPECT_EQ(p.rd.get(), new_fd);
	EXPECT_TRUE(fd_is_open(new_fd));
}

TEST(UniqueFd, ReleaseGivesUpOwnershipWithoutClosing)
{
	Pipe p;
	int raw = p.rd.release();
	EXPECT_FALSE(p.rd.ok());
	EXPECT_TRUE(fd_is_open(raw));
	::close(raw);
}

TEST(UniqueFd, ResetClosesAndAdoptsTheNewFd)
{
	Pipe p;
	int old_fd = p.rd.get(), new_fd = p.wr.release();
	p.rd.reset(new_fd);
	EXPECT_FALSE(fd_is_open(old_fd));
	EXPECT_EQ(p.rd.get(), new_fd);
	p.rd.reset();
	EXPECT_FALSE(fd_is_open(new_fd));
	EXPECT_FALSE(p.rd.ok());
}

TEST(UniqueFd, ResetToTheSameFdDoesNotCloseIt)
{
	Pipe p;
	int raw = p.rd.get();
	p.rd.reset(raw);
	EXPECT_TRUE(fd_is_open(raw));
}

TEST(UniqueFd, CloseDoesNotClobberErrno)
{
	Pipe p;
	errno = ENOSPC;
	p.rd.reset();
	EXPECT_EQ(errno, ENOSPC);
	{
		unique_fd bogus(1000000); // close() fails with EBADF
		errno = EPERM;
	}
	EXPECT_EQ(errno, EPERM);
}

// ---- open_fd ----

TEST(OpenFd, AlwaysSetsCloseOnExec)
{
	auto fd = open_fd("/dev/null", O_RDONLY);
	ASSERT_TRUE(fd.has_value());
	EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
}

TEST(OpenFd, MissingFileIsAnErrorValue)
{
	auto fd = open_fd("/nonexistent/circbuf", O_RDONLY);
	ASSERT_FALSE(fd.has_value());
	EXPECT_EQ(fd.error(), std::errc::no_such_file_or_directory);
	EXPECT_EQ(fd.error().message(), std::strerror(ENOENT));
}

// ---- read/write helpers ----

TEST(ReadFull, CollectsPiecesUntilTheBufferIsFull)
{
	Pipe p;
	std::thread writer([&] {
		for (char c : std::string("abcdefgh")) {
			std::this_thread::sleep_for(1ms);
			ASSERT_EQ(::write(p.wr.get(), &c, 1), 1);
		}
	});
	std::vector<std::byte> buf(8);
	auto n = read_full(p.rd.get(), buf);
	writer.join();
	ASSERT_TRUE(n.has_value());
	EXPECT_EQ(*n, 8u);
	EXPECT_EQ(buf, bytes_of("abcdefgh"));
}

TEST(ReadFull, StopsShortAtEof)
{
	Pipe p;
	ASSERT_EQ(write_full(p.wr.get(), bytes_of("xyz")).value(), 3u);
	p.wr.reset();
	std::vector<std::byte> buf(10);
	EXPECT_EQ(read_full(p.rd.get(), buf).value(), 3u);
	EXPECT_EQ(read_full(p.rd.get(), buf).value(), 0u);
}

TEST(ReadSome, ReturnsZeroAtEof)
{
	Pipe p;
	p.wr.reset();
	std::vector<std::byte> buf(4);
	EXPECT_EQ(read_some(p.rd.get(), buf).value(), 0u);
}

TEST(WriteSome, ErrorsAreValues)
{
	Pipe p;
	auto n = write_some(p.rd.get(), bytes_of("x")); // read end: EBADF
	ASSERT_FALSE(n.has_value());
	EXPECT_EQ(n.error(), std::errc::bad_file_descriptor);
}

TEST(WriteFull, NonblockingPipeReportsEagainWhenFull)
{
	Pipe p;
	ASSERT_EQ(::fcntl(p.wr.get(), F_SETFL, O_NONBLOCK), 0);
	std::vector<std::byte> big(1 << 20);
	auto n = write_full(p.wr.get(), big);
	ASSERT_FALSE(n.has_value());
	EXPECT_EQ(n.error(), std::errc::resource_unavailable_try_again);
}

TEST(Drain, DiscardsWhatIsThereAndStopsAtEagain)
{
	Pipe p;
	ASSERT_EQ(::fcntl(p.rd.get(), F_SETFL, O_NONBLOCK), 0);
	std::vector<std::byte> some(50000);
	ASSERT_EQ(write_full(p.wr.get(), some).value(), some.size());
	EXPECT_EQ(drain(p.rd.get()).value(), some.size());
	EXPECT_EQ(drain(p.rd.get()).value(), 0u) << "a writer is open: EAGAIN, nothing read";
}

TEST(Drain, StopsAtEndOfFile)
{
	Pipe p;
	ASSERT_EQ(::fcntl(p.rd.get(), F_SETFL, O_NONBLOCK), 0);
	ASSERT_EQ(write_full(p.wr.get(), bytes_of("xyz")).value(), 3u);
	p.wr.reset();
	EXPECT_EQ(drain(p.rd.get()).value(), 3u);
}

TEST(Drain, ErrorsAreValues)
{
	Pipe p;
	auto n = drain(p.wr.get()); // write end: EBADF
	ASSERT_FALSE(n.has_value());
	EXPECT_EQ(n.error(), std::errc::bad_file_descriptor);
}

// Signals with a no-op handler installed without SA_RESTART make blocking
// read(2)/write(2) fail with EINTR or return short; the helpers must hide it.
class SignalTest : public ::testing::Test {
protected:
	static inline std::atomic<int> signals{0};
	struct sigaction old_{};

	void SetUp() override
	{
		struct sigaction sa{};
		sa.sa_handler = [](int) { signals++; };
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0; // no SA_RESTART
		ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old_), 0);
		signals = 0;
	}
	void TearDown() override { ::sigaction(SIGUSR1, &old_, nullptr); }
};

TEST_F(SignalTest, ReadSomeRetriesAfterEintr)
{
	Pipe p;
	pthread_t reader = ::pthread_self();
	std::thread helper([&] {
		for (int i = 0; i < 3; i++) {
			std::this_thread::sleep_for(20ms);
			::pthread_kill(reader, SIGUSR1);
		}
		std::this_thread::sleep_for(20ms);
		ASSERT_EQ(::write(p.wr.get(), "data", 4), 4);
	});
	std::vector<std::byte> buf(16);
	auto n = read_some(p.rd.get(), buf);
	helper.join();
	EXPECT_EQ(signals, 3);
	ASSERT_TRUE(n.has_value()) << n.error().message();
	EXPECT_EQ(*n, 4u);
	EXPECT_EQ(std::vector(buf.begin(), buf.begin() + 4), bytes_of("data"));
}

TEST_F(SignalTest, WriteFullFinishesDespiteSignalsAndShortWrites)
{
	Pipe p;
	::fcntl(p.wr.get(), F_SETPIPE_SZ, 4096);
	std::vector<std::byte> data(1 << 20);
	fill_pattern(data, 0);
	pthread_t writer = ::pthread_self();
	std::atomic<bool> done{false};
	std::thread signaller([&] {
		while (!done) {
			::pthread_kill(writer, SIGUSR1);
			std::this_thread::sleep_for(200us);
		}
	});
	std::vector<std::byte> got;
	std::thread reader([&] {
		// Let the writer fill the pipe and take signals while blocked.
		while (signals < 5)
			std::this_thread::sleep_for(1ms);
		std::vector<std::byte> buf(1000);
		for (;;) {
			auto n = read_some(p.rd.get(), buf);
			ASSERT_TRUE(n.has_value());
			if (*n == 0)
				break;
			got.insert(got.end(), buf.begin(), buf.begin() + *n);
		}
	});
	auto n = write_full(p.wr.get(), data);
	done = true;
	signaller.join();
	p.wr.reset();
	reader.join();
	ASSERT_TRUE(n.has_value()) << n.error().message();
	EXPECT_EQ(*n, data.size());
	EXPECT_GT(signals, 0);
	EXPECT_TRUE(got == data);
}

// ---- option parsing ----

TEST(ParseSize, AcceptsPowerOf1024Suffixes)
{
	EXPECT_EQ(parse_size("0"), 0u);
	EXPECT_EQ(parse_size("4096"), 4096u);
	EXPECT_EQ(parse_size("64K"), 65536u);
	EXPECT_EQ(parse_size("64k"), 65536u);
	EXPECT_EQ(parse_size("1M"), 1u << 20);
	EXPECT_EQ(parse_size("2G"), 2ull << 30);
}

TEST(ParseSize, RejectsJunkAndOverflow)
{
	for (const char *bad : {"", "K", "12X", "-1", "1.5K", "1KB", " 1", "0x10",
				"18446744073709551616", "17179869184G"})
		EXPECT_FALSE(parse_size(bad).has_value()) << bad;
	EXPECT_EQ(parse_size("17179869183G"), 17179869183ull << 30);
}

TEST(ParseSeconds, AcceptsFractionsAndAnSSuffix)
{
	EXPECT_EQ(parse_seconds("10"), 10.0);
	EXPECT_EQ(parse_seconds("0.5"), 0.5);
	EXPECT_EQ(parse_seconds("2s"), 2.0);
	for (const char *bad : {"", "s", "-1", "abc", "inf", "nan", "1m"})
		EXPECT_FALSE(parse_seconds(bad).has_value()) << bad;
}

struct TestOptions {
	bool json = false;
	std::uint64_t size = 4096, n = 1;
	double secs = 0;
	std::string file, mode = "a";
};

OptionParser make_parser(TestOptions &o)
{
	OptionParser p("tool", "[OPTIONS] DEVICE", "About.", "Exit status: 0.");
	p.flag("json", "print JSON", o.json);
	p.size("block-size", "bytes per block", o.size);
	p.uint("count", "how many", o.n);
	p.seconds("duration", "how long", o.secs);
	p.string("input", "FILE", "input file", o.file);
	p.choice("mode", {"a", "b"}, "which mode", o.mode);
	return p;
}

std::expected<OptionParser::Result, std::string>
parse(OptionParser &p, std::vector<std::string> args)
{
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	return p.parse(argv);
}

// The parse of args fails, with an error that names @what.
testing::AssertionResult fails_naming(OptionParser &p, std::vector<std::string> args,
				      const std::string &what)
{
	auto r = parse(p, std::move(args));
	if (r.has_value())
		return testing::AssertionFailure() << "parsed without an error";
	if (r.error().find(what) == std::string::npos)
		return testing::AssertionFailure() << "the error '" << r.error() << "' does not name " << what;
	return testing::AssertionSuccess();
}

TEST(OptionParser, AcceptsNameEqualsValueAndSeparateValue)
{
	TestOptions o;
	auto p = make_parser(o);
	auto r = parse(p, {"--block-size=64K", "--count", "7", "--duration=1.5",
			   "--input", "f.bin", "--mode=b", "--json", "dev"});
	ASSERT_TRUE(r.has_value()) << r.error();
	EXPECT_FALSE(r->help);
	EXPECT_EQ(r->positional, std::vector<std::string>{"dev"});
	EXPECT_EQ(o.size, 65536u);
	EXPECT_EQ(o.n, 7u);
	EXPECT_EQ(o.secs, 1.5);
	EXPECT_EQ(o.file, "f.bin");
	EXPECT_EQ(o.mode, "b");
	EXPECT_TRUE(o.json);
}

TEST(OptionParser, DeviceArgumentDefaultsToDevCircbuf)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_EQ(p.device_argument({}), "/dev/circbuf");
	EXPECT_EQ(p.device_argument({"/tmp/fifo"}), "/tmp/fifo");
}

TEST(OptionParserDeathTest, TwoDeviceArgumentsAreAUsageError)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_EXIT(p.device_argument({"a", "b"}), testing::ExitedWithCode(2), "too many arguments");
}

TEST(OptionParser, UnknownOptionIsAnError)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_TRUE(fails_naming(p, {"--bogus=1"}, "--bogus"));
	EXPECT_FALSE(parse(p, {"-x"}).has_value());
}

TEST(OptionParser, BadValueIsAnError)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_TRUE(fails_naming(p, {"--block-size=12X"}, "12X"));
	EXPECT_FALSE(parse(p, {"--mode=c"}).has_value());
	EXPECT_FALSE(parse(p, {"--count=-1"}).has_value());
}

TEST(OptionParser, MissingValueIsAnError)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_FALSE(parse(p, {"--count"}).has_value());
}

TEST(OptionParser, FlagWithValueIsAnError)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_FALSE(parse(p, {"--json=yes"}).has_value());
}

TEST(OptionParser, HelpIsReportedNotAnError)
{
	TestOptions o;
	auto p = make_parser(o);
	EXPECT_TRUE(parse(p, {"-h"}).value().help);
	EXPECT_TRUE(parse(p, {"x", "--help"}).value().help);
}

TEST(OptionParser, DoubleDashEndsOptions)
{
	TestOptions o;
	auto p = make_parser(o);
	auto r = parse(p, {"--json", "--", "--count=1", "-"});
	ASSERT_TRUE(r.has_value());
	EXPECT_EQ(r->positional, (std::vector<std::string>{"--count=1", "-"}));
	EXPECT_EQ(o.n, 1u);
}

TEST(OptionParser, UsageDescribesEveryOption)
{
	TestOptions o;
	auto p = make_parser(o);
	std::string u = p.usage();
	for (const char *s : {"Usage: tool [OPTIONS] DEVICE", "--json", "--block-size=BYTES",
			      "--count=N", "--duration=SECONDS", "--input=FILE",
			      "--mode=a|b", "--help", "Exit status"})
		EXPECT_NE(u.find(s), std::string::npos) << s;
}

// ---- pattern ----

TEST(Pattern, WordZeroIsSplitmix64sFirstOutput)
{
	// splitmix64 seeded with 0 first returns 0xe220a8397b1dcdaf (Vigna's
	// reference code): the mix is the published one.
	EXPECT_EQ(pattern_word(0), 0xe220a8397b1dcdafull);
}

TEST(Pattern, BytesAreTheWordsInLittleEndianOrder)
{
	for (std::uint64_t w : {0ull, 1ull, 8191ull, 1ull << 40})
		for (unsigned k = 0; k < 8; k++)
			EXPECT_EQ(pattern_byte(8 * w + k, 3), (pattern_word(w, 3) >> (8 * k)) & 0xff);
}

TEST(Pattern, NeverRepeatsAtARingOrBlockSize)
{
	// A stale lap of the ring, or a dropped block, is data from one of
	// these distances back: it must not verify.
	std::vector<std::byte> window(4096);
	for (std::uint64_t at : {0ull, 12345ull, 1ull << 33})
		for (std::uint64_t shift = 8; shift <= (1ull << 32); shift <<= 1) {
			fill_pattern(window, at + shift);
			EXPECT_TRUE(find_pattern_mismatch(window, at).has_value())
				<< "at " << at << " shift " << shift;
		}
}

TEST(Pattern, ADropped64KiBWriteFailsAtItsFirstByte)
{
	const size_t block = 65536;
	std::vector<std::byte> got(3 * block);
	// Blocks 0, 2 and 3 of the stream arrive; block 1 was dropped.
	fill_pattern(std::span(got).first(block), 0);
	fill_pattern(std::span(got).subspan(block), 2 * block);
	EXPECT_EQ(find_pattern_mismatch(got, 0), block);
}

TEST(Pattern, SeedsGiveDifferentStreams)
{
	std::vector<std::byte> a(256), b(256);
	fill_pattern(a, 100, 0);
	fill_pattern(b, 100, 1);
	EXPECT_NE(a, b);
	EXPECT_FALSE(find_pattern_mismatch(b, 100, 1).has_value());
	EXPECT_TRUE(find_pattern_mismatch(b, 100, 0).has_value());
}

TEST(Pattern, VerifiesWhenSplitAtAnyPoint)
{
	std::vector<std::byte> whole(3000);
	fill_pattern(whole, 12345);
	for (size_t cut = 0; cut <= whole.size(); cut += 7) {
		std::vector<std::byte> a(cut), b(whole.size() - cut);
		fill_pattern(a, 12345);
		fill_pattern(b, 12345 + cut);
		EXPECT_TRUE(std::equal(a.begin(), a.end(), whole.begin()));
		EXPECT_TRUE(std::equal(b.begin(), b.end(), whole.begin() + cut));
		EXPECT_FALSE(find_pattern_mismatch(b, 12345 + cut).has_value());
	}
}

TEST(Pattern, FindsTheFirstMismatch)
{
	std::vector<std::byte> buf(1000);
	fill_pattern(buf, 77);
	EXPECT_FALSE(find_pattern_mismatch(buf, 77).has_value());
	buf[600] ^= std::byte{1};
	buf[900] ^= std::byte{1};
	EXPECT_EQ(find_pattern_mismatch(buf, 77), 600u);
	EXPECT_TRUE(find_pattern_mismatch(buf, 78).has_value());
}

TEST(Pattern, FindsAMismatchInTheUnalignedHeadAndTail)
{
	// Offset 77 is 3 bytes before a word boundary: bytes 0-2 are the
	// head, bytes 995-999 the tail after the last whole word.
	for (size_t at : {0u, 1u, 2u, 3u, 994u, 995u, 999u}) {
		std::vector<std::byte> buf(1000);
		fill_pattern(buf, 77);
		buf[at] ^= std::byte{0x80};
		EXPECT_EQ(find_pattern_mismatch(buf, 77), at);
	}
}

// ---- stats formatting ----

circbuf_stats sample_stats()
{
	circbuf_stats s{};
	s.capacity = 4096;
	s.used = 100;
	s.available = 3996;
	s.reads = 5;
	s.writes = 6;
	s.bytes_read = 1 << 20;
	s.bytes_written = (1 << 20) + 100;
	s.readers = 2;
	s.writers = 3;
	s.dma_submitted = 7;
	s.dma_completed = 6;
	s.dma_failed = 1;
	s.dma_timeouts = 1;
	s.dma_bytes = 1 << 20;
	s.cpu_bytes = 100;
	return s;
}

TEST(StatsFormat, JsonIsOneObjectWithEveryField)
{
	EXPECT_EQ(format_stats_json(sample_stats()),
		  "{\"capacity\":4096,\"used\":100,\"available\":3996,\"reads\":5,"
		  "\"writes\":6,\"bytes_read\":1048576,\"bytes_written\":1048676,"
		  "\"readers\":2,\"writers\":3,\"dma_submitted\":7,"
		  "\"dma_completed\":6,\"dma_failed\":1,\"dma_timeouts\":1,"
		  "\"dma_bytes\":1048576,\"cpu_bytes\":100,\"flags\":0,"
		  "\"bytes_discarded\":0}");
}

TEST(StatsFormat, JsonPrintsFull64BitValues)
{
	circbuf_stats s{};
	s.bytes_written = UINT64_MAX;
	EXPECT_NE(format_stats_json(s).find("\"bytes_written\":18446744073709551615"),
		  std::string::npos);
}

TEST(StatsFormat, TableHasOneLinePerField)
{
	std::string t = format_stats_table(sample_stats());
	EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 17);
	for (const char *name : {"capacity", "used", "available", "reads", "writes",
				 "bytes_read", "bytes_written", "readers", "writers",
				 "dma_submitted", "dma_completed", "dma_failed",
				 "dma_timeouts", "dma_bytes", "cpu_bytes", "flags",
				 "bytes_discarded"})
		EXPECT_NE(t.find(std::string(name) + " "), std::string::npos) << name;
	EXPECT_NE(t.find("(1.0 MiB)"), std::string::npos);
	EXPECT_EQ(t.find("no-dma"), std::string::npos) << "a module with DMA";
}

TEST(StatsFormat, TableSaysWhenTheModuleHasNoDma)
{
	circbuf_stats s = sample_stats();
	s.flags = CIRCBUF_STATS_NO_DMA;
	EXPECT_NE(format_stats_table(s).find("no-dma: kernel without dmaengine"), std::string::npos);
}

TEST(FormatBytes, PicksTheLargestUnitBelow1024)
{
	EXPECT_EQ(format_bytes(0), "0 B");
	EXPECT_EQ(format_bytes(1023), "1023 B");
	EXPECT_EQ(format_bytes(1536), "1.5 KiB");
	EXPECT_EQ(format_bytes(3ull << 30), "3.0 GiB");
}

TEST(Report, StrprintfFormatsLongStrings)
{
	std::string long_arg(1000, 'x');
	EXPECT_EQ(strprintf("%s-%d", long_arg.c_str(), 42), long_arg + "-42");
}

// ---- stress records ----

TEST(Record, RoundTripsItsIdentity)
{
	for (size_t size : {kMinRecordSize, size_t(64), size_t(100), kMaxRecordSize}) {
		std::vector<std::byte> rec(size);
		encode_record(rec, {7, 123456789012ull, 4000000000u, 62, 63});
		auto id = decode_record(rec);
		ASSERT_TRUE(id.has_value()) << size;
		EXPECT_EQ(id->writer, 7u);
		EXPECT_EQ(id->seq, 123456789012ull);
		EXPECT_EQ(id->write, 4000000000u);
		EXPECT_EQ(id->index, 62u);
		EXPECT_EQ(id->count, 63u);
	}
}

TEST(Record, AnyFlippedBitIsDetected)
{
	std::vector<std::byte> rec(64);
	encode_record(rec, {3, 42, 9, 1, 2});
	for (size_t i = 0; i < rec.size(); i++)
		for (int bit = 0; bit < 8; bit++) {
			auto bad = rec;
			bad[i] ^= std::byte(1u << bit);
			EXPECT_FALSE(decode_record(bad).has_value()) << i << ":" << bit;
		}
}

TEST(Record, WrongLengthIsDetected)
{
	std::vector<std::byte> rec(128);
	encode_record(rec, {1, 1});
	EXPECT_FALSE(decode_record(std::span(rec).first(64)).has_value());
}

TEST(Record, AnIndexOutsideItsWriteIsRejected)
{
	std::vector<std::byte> rec(64);
	encode_record(rec, {1, 1, 1, 3, 3});
	EXPECT_FALSE(decode_record(rec).has_value());
	encode_record(rec, {1, 1, 1, 0, 0});
	EXPECT_FALSE(decode_record(rec).has_value());
}

TEST(Record, PayloadDependsOnWriterAndSeq)
{
	std::vector<std::byte> a(64), b(64), c(64);
	encode_record(a, {1, 5});
	encode_record(b, {2, 5});
	encode_record(c, {1, 6});
	auto payload = [](const std::vector<std::byte> &r) {
		return std::vector(r.begin() + kRecordHeaderSize, r.end());
	};
	EXPECT_NE(payload(a), payload(b));
	EXPECT_NE(payload(a), payload(c));
}

TEST(Record, AWritesRecordsMayOnlyBeFollowedByTheirNext)
{
	const RecordId first{1, 10, 5, 0, 3}, middle{1, 11, 5, 1, 3}, last{1, 12, 5, 2, 3};
	EXPECT_TRUE(first.may_precede(middle));
	EXPECT_TRUE(middle.may_precede(last));
	EXPECT_FALSE(first.may_precede(last));		      // a record skipped
	EXPECT_FALSE(middle.may_precede({2, 0, 0, 0, 1}));    // another writer between
	EXPECT_FALSE(middle.may_precede({1, 11, 6, 1, 3}));   // another write
}

TEST(Record, TheLastRecordOfAWriteMayOnlyBeFollowedByAFirst)
{
	const RecordId last{1, 12, 5, 2, 3};
	EXPECT_TRUE(last.may_precede({2, 0, 0, 0, 4}));
	EXPECT_TRUE(last.may_precede({1, 13, 6, 0, 1}));
	EXPECT_FALSE(last.may_precede({2, 7, 3, 1, 4}));      // the rest of a split write
}

TEST(Rng, BetweenStaysInBounds)
{
	Rng r{1};
	for (int i = 0; i < 10000; i++) {
		auto v = r.between(3, 9);
		EXPECT_GE(v, 3u);
		EXPECT_LE(v, 9u);
	}
}

// ---- rings ----

TEST(RingNames, RingZeroIsTheFirstDeviceAndTheOthersCarryTheirNumber)
{
	EXPECT_EQ(ring_name(0), "circbuf");
	EXPECT_EQ(ring_name(1), "circbuf1");
	EXPECT_EQ(ring_name(63), "circbuf63");
}

TEST(RingNames, NumberIsReadFromANameOrAPath)
{
	EXPECT_EQ(ring_number("circbuf"), 0u);
	EXPECT_EQ(ring_number("/dev/circbuf"), 0u);
	EXPECT_EQ(ring_number("circbuf12"), 12u);
	EXPECT_EQ(ring_number("/dev/circbuf63"), 63u);
	for (unsigned n : {0u, 1u, 9u, 10u, 63u})
		EXPECT_EQ(ring_number(ring_name(n)), n);
}

TEST(RingNames, OtherNamesAreNoRing)
{
	for (const char *name : {"circbuf-control", "/dev/circbuf-control", "circbuf01", "circbuf64",
				 "circbuf1x", "pipe", "", "/dev/", "circbu", "circbuf99999999999"})
		EXPECT_EQ(ring_number(name), std::nullopt) << name;
}

TEST(RingList, ListsTheRingsOfAClassDirectoryInNumberOrder)
{
	char tmpl[] = "/tmp/circbuf-rings-XXXXXX";
	ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
	const std::string dir = tmpl;
	for (const char *d : {"circbuf10", "circbuf", "circbuf2", "circbuf-control", "loop-control"})
		ASSERT_EQ(::mkdir((dir + "/" + d).c_str(), 0755), 0);
	// Only rings have stats/ (the control node has none).
	for (const char *d : {"circbuf10", "circbuf", "circbuf2"})
		ASSERT_EQ(::mkdir((dir + "/" + d + "/stats").c_str(), 0755), 0);
	{
		FILE *f = std::fopen((dir + "/circbuf2/stats/used").c_str(), "w");
		ASSERT_NE(f, nullptr);
		std::fputs("1234\n", f);
		std::fclose(f);
	}
	const auto rings = list_rings(dir);
	ASSERT_EQ(rings.size(), 3u);
	EXPECT_EQ(rings[0].number, 0u);
	EXPECT_EQ(rings[0].path, "/dev/circbuf");
	EXPECT_EQ(rings[1].number, 2u);
	EXPECT_EQ(rings[2].number, 10u);
	EXPECT_EQ(rings[2].name, "circbuf10");
	EXPECT_EQ(read_ring_stat("circbuf2", "used", dir), 1234u);
	EXPECT_EQ(read_ring_stat("circbuf", "used", dir), std::nullopt);
	std::filesystem::remove_all(dir);
	EXPECT_TRUE(list_rings(dir).empty());
}

} // namespace
