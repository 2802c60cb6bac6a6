// The rings of the loaded module (/dev/circbuf, /dev/circbuf1, ...) and the
// control node that adds and removes them (/dev/circbuf-control).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "circbuf.h"

namespace circbuf {

inline constexpr const char *kControlDevice = "/dev/circbuf-control";
// Where the rings' devices are listed: one directory each, with stats/.
inline constexpr const char *kMiscClass = "/sys/class/misc";

// A ring's node name: "circbuf" for 0, "circbuf<number>" for the others.
std::string ring_name(unsigned number);
// The ring number of a node name or path ("circbuf1", "/dev/circbuf"), or
// nullopt if it names no ring ("circbuf-control", "pipe", "circbuf01").
std::optional<unsigned> ring_number(std::string_view name_or_path);

struct RingInfo {
	unsigned number = 0;
	std::string name; // circbuf, circbuf1, ...
	std::string path; // /dev/<name>
};

// Every ring the module has now, by number, from @misc_class; none when the
// module is not loaded.
std::vector<RingInfo> list_rings(const std::string &misc_class = kMiscClass);

// One value of /sys/class/misc/<name>/stats/, read with no open file.
std::optional<std::uint64_t> read_ring_stat(const std::string &name, std::string_view field,
					    const std::string &misc_class = kMiscClass);

// Every field of ring @name from its sysfs files, with no open file: so
// it takes no DMA channel and counts as no reader. Each file is a snapshot
// of its own, so under load the fields may be a moment apart (the ioctl
// gives one snapshot of all). ENOENT: no such ring (or it went meanwhile).
std::expected<circbuf_stats, std::error_code> read_ring_stats(const std::string &name,
							      const std::string &misc_class = kMiscClass);

// CIRCBUF_CTL_ADD on the control node @ctl_fd: a ring of @capacity bytes (0:
// the buffer_size parameter), numbered @number or the lowest free number.
// Returns the new ring's number.
std::expected<unsigned, std::error_code> add_ring(int ctl_fd, std::uint64_t capacity,
						  std::optional<unsigned> number = std::nullopt);
// CIRCBUF_CTL_REMOVE (EBUSY while a file of it is open, ENODEV: no such ring).
std::expected<void, std::error_code> remove_ring(int ctl_fd, unsigned number);

} // namespace circbuf
