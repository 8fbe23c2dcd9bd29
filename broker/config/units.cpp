// Durations and sizes written with units in the config file (see units.h).
#include "broker/config/units.h"

#include <charconv>
#include <limits>

namespace herald::config {

namespace {

// Splits "  64 KiB " into the number 64 and the unit "KiB". The number must be a whole
// decimal number: "1.5h" is refused rather than rounded, so nothing is silently changed.
bool split_number_unit(std::string_view text, uint64_t& number, std::string_view& unit) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, number);
    if (ec != std::errc() || ptr == begin) return false;
    unit = std::string_view(ptr, static_cast<size_t>(end - ptr));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    return true;
}

bool multiply(uint64_t number, uint64_t factor, uint64_t& out) {
    if (factor != 0 && number > std::numeric_limits<uint64_t>::max() / factor) return false;
    out = number * factor;
    return true;
}

}  // namespace

bool parse_duration_ms(std::string_view text, uint64_t& ms) {
    uint64_t number = 0;
    std::string_view unit;
    if (!split_number_unit(text, number, unit)) return false;
    uint64_t factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60 * 1000;
    else if (unit == "h") factor = 3600 * 1000;
    else if (unit == "d") factor = 24 * 3600 * 1000;
    else return false;
    return multiply(number, factor, ms);
}

bool parse_size(std::string_view text, uint64_t& bytes) {
    uint64_t number = 0;
    std::string_view unit;
    if (!split_number_unit(text, number, unit)) return false;
    uint64_t factor = 0;
    if (unit.empty() || unit == "B") factor = 1;
    else if (unit == "KiB") factor = uint64_t{1} << 10;
    else if (unit == "MiB") factor = uint64_t{1} << 20;
    else if (unit == "GiB") factor = uint64_t{1} << 30;
    else return false;
    return multiply(number, factor, bytes);
}

}  // namespace herald::config
