// UTF-8 validation (spec 1.5.4) and topic name / filter syntax and matching (spec 4.7).
// valid_utf8 runs on every string of every packet, so plain ASCII is checked 8 bytes at a time.
#include "broker/mqtt/topic.h"

#include <cstdint>
#include <cstring>

namespace herald::mqtt {
namespace {

constexpr std::string_view kSharePrefix = "$share/";

// True when none of the 8 bytes has its high bit set and none is zero.
inline bool ascii_no_nul(uint64_t w) {
    constexpr uint64_t lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
    return ((w | ((w - lo) & ~w)) & hi) == 0;
}

inline bool cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// Checks the levels of a non-shared filter: '#' only as the whole last level, '+' only as a
// whole level [MQTT-4.7.1-1..2].
bool valid_filter_levels(std::string_view f) {
    size_t start = 0;
    while (true) {
        size_t end = f.find('/', start);
        std::string_view level = f.substr(start, end == std::string_view::npos ? f.npos : end - start);
        if (level.find('#') != std::string_view::npos) {
            if (level.size() != 1 || end != std::string_view::npos) return false;
        }
        if (level.find('+') != std::string_view::npos && level.size() != 1) return false;
        if (end == std::string_view::npos) return true;
        start = end + 1;
    }
}

}  // namespace

bool has_wildcard(std::string_view s) {
    // A plain loop: find_first_of("+#") costs a memchr call per byte of `s`.
    for (char c : s)
        if (c == '+' || c == '#') return true;
    return false;
}

bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const uint8_t* end = p + s.size();
    while (p < end) {
        if (end - p >= 8) {
            uint64_t w;
            std::memcpy(&w, p, 8);
            if (ascii_no_nul(w)) {
                p += 8;
                continue;
            }
        }
        uint8_t b = *p;
        if (b < 0x80) {
            if (b == 0) return false;  // [MQTT-1.5.4-2]
            ++p;
            continue;
        }
        size_t n = static_cast<size_t>(end - p);
        // Ranges of the second byte per lead byte (RFC 3629 table), which exclude overlong
        // forms, surrogates (ED A0..BF) and code points above U+10FFFF.
        if (b >= 0xC2 && b <= 0xDF) {
            if (n < 2 || !cont(p[1])) return false;
            p += 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            if (n < 3 || !cont(p[1]) || !cont(p[2])) return false;
            if (b == 0xE0 && p[1] < 0xA0) return false;  // overlong
            if (b == 0xED && p[1] > 0x9F) return false;  // surrogate [MQTT-1.5.4-1]
            p += 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            if (n < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return false;
            if (b == 0xF0 && p[1] < 0x90) return false;  // overlong
            if (b == 0xF4 && p[1] > 0x8F) return false;  // above U+10FFFF
            p += 4;
        } else {
            return false;  // continuation byte as lead, C0/C1 (overlong), F5..FF
        }
    }
    return true;
}

bool valid_topic_name(std::string_view topic) {
    if (topic.empty() || topic.size() > 65535) return false;  // [MQTT-4.7.3-1]
    if (has_wildcard(topic)) return false;  // [MQTT-3.3.2-2]
    return valid_utf8(topic);
}

bool valid_topic_filter(std::string_view filter) {
    if (filter.empty() || filter.size() > 65535) return false;
    if (!valid_utf8(filter)) return false;
    std::string_view group, real;
    if (split_shared(filter, group, real)) {
        // [MQTT-4.8.2-1], [MQTT-4.8.2-2]: a non-empty share name without wildcards, then a filter.
        if (group.empty() || has_wildcard(group)) return false;
        if (real.empty()) return false;
        return valid_filter_levels(real);
    }
    return valid_filter_levels(filter);
}

bool split_shared(std::string_view filter, std::string_view& group, std::string_view& real_filter) {
    if (filter.substr(0, kSharePrefix.size()) != kSharePrefix) return false;
    std::string_view rest = filter.substr(kSharePrefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
        group = rest;
        real_filter = std::string_view();
    } else {
        group = rest.substr(0, slash);
        real_filter = rest.substr(slash + 1);
    }
    return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
    // [MQTT-4.7.2-1]: '$' topics are not matched by a leading wildcard.
    if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#'))
        return false;
    size_t fi = 0, ti = 0;
    while (true) {
        size_t fe = filter.find('/', fi);
        std::string_view flevel = filter.substr(fi, fe == std::string_view::npos ? filter.npos : fe - fi);
        if (flevel == "#") return true;  // the rest, including the parent level itself
        size_t te = topic.find('/', ti);
        std::string_view tlevel = topic.substr(ti, te == std::string_view::npos ? topic.npos : te - ti);
        if (flevel != "+" && flevel != tlevel) return false;
        bool flast = fe == std::string_view::npos, tlast = te == std::string_view::npos;
        if (flast || tlast) {
            if (flast && tlast) return true;
            // The topic ended first: "a/#" still matches "a" [MQTT-4.7.1-2].
            return tlast && filter.substr(fe + 1) == "#";
        }
        fi = fe + 1;
        ti = te + 1;
    }
}

}  // namespace herald::mqtt
