// Human-friendly units in the config file: durations ("500ms", "7d") and sizes ("64KiB").
//
// Kept apart from the TOML walk so that the unit grammar is tested on its own and can be
// reused by any future key that takes a duration or a size.
#pragma once

#include <cstdint>
#include <string_view>

namespace herald::config {

// "500ms", "10s", "5m", "2h", "7d" -> milliseconds. A bare number is not accepted here (the
// caller decides what an integer means). False when malformed or when it overflows.
bool parse_duration_ms(std::string_view text, uint64_t& ms);

// "512", "512B", "64KiB", "1MiB", "2GiB" -> bytes (binary units only: a size in a broker
// config is a buffer size, and "MB" would be ambiguous). False when malformed or overflowing.
bool parse_size(std::string_view text, uint64_t& bytes);

}  // namespace herald::config
