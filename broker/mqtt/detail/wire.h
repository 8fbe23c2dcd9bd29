// The primitive wire types of MQTT (spec 1.5): a bounds-checked reader over one frame and two
// byte sinks that share one writing code path.
//
// Encoding goes through a template over the sink: `Counter` only counts bytes, `Appender`
// writes them. Running the same body code with both is what keeps encoded_size() and encode()
// from ever disagreeing, and lets encode() reserve once before it writes.
// Private to broker/mqtt: nothing outside the codec includes this.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "broker/mqtt/codec.h"

namespace herald::mqtt::detail {

// Reads big-endian integers, varints and length-prefixed strings; every getter returns false
// instead of reading past the end, and then consumes nothing.
class Reader {
public:
    Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}

    size_t left() const { return static_cast<size_t>(end_ - p_); }
    bool empty() const { return p_ == end_; }
    const uint8_t* pos() const { return p_; }

    bool u8(uint8_t& v) {
        if (p_ == end_) return false;
        v = *p_++;
        return true;
    }
    bool u16(uint16_t& v) {
        if (left() < 2) return false;
        v = static_cast<uint16_t>((p_[0] << 8) | p_[1]);
        p_ += 2;
        return true;
    }
    bool u32(uint32_t& v) {
        if (left() < 4) return false;
        v = (uint32_t{p_[0]} << 24) | (uint32_t{p_[1]} << 16) | (uint32_t{p_[2]} << 8) | p_[3];
        p_ += 4;
        return true;
    }
    // Variable Byte Integer: at most 4 bytes, and in the fewest bytes [MQTT-1.5.5-1].
    // Returns false for truncated, too long or non-minimal encodings.
    bool varint(uint32_t& v) {
        uint32_t value = 0;
        const uint8_t* q = p_;
        for (int i = 0; i < 4; ++i) {
            if (q == end_) return false;
            uint8_t b = *q++;
            value |= uint32_t{b & 0x7Fu} << (7 * i);
            if ((b & 0x80) == 0) {
                if (i > 0 && b == 0) return false;  // a trailing zero group: not minimal
                v = value;
                p_ = q;
                return true;
            }
        }
        return false;
    }
    bool bytes(size_t n, std::string_view& out) {
        if (left() < n) return false;
        out = std::string_view(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        return true;
    }
    // A two-byte length followed by that many bytes (UTF-8 string or binary data).
    bool str(std::string_view& out) {
        uint16_t n;
        const uint8_t* save = p_;
        if (!u16(n)) return false;
        if (!bytes(n, out)) {
            p_ = save;
            return false;
        }
        return true;
    }
    std::string_view rest() {
        std::string_view s(reinterpret_cast<const char*>(p_), left());
        p_ = end_;
        return s;
    }

private:
    const uint8_t* p_;
    const uint8_t* end_;
};

// A sink that counts the bytes it would write.
struct Counter {
    size_t n = 0;
    void u8(uint8_t) { n += 1; }
    void u16(uint16_t) { n += 2; }
    void u32(uint32_t) { n += 4; }
    void varint(uint32_t v) { n += varint_size(v); }
    void raw(std::string_view s) { n += s.size(); }
    void str(std::string_view s) { n += 2 + s.size(); }
};

// A sink that appends to a string; the caller has reserved room, so these never reallocate.
struct Appender {
    std::string& out;
    void u8(uint8_t v) { out.push_back(static_cast<char>(v)); }
    void u16(uint16_t v) {
        char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
        out.append(b, 2);
    }
    void u32(uint32_t v) {
        char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
        out.append(b, 4);
    }
    void varint(uint32_t v) { encode_varint(v, out); }
    void raw(std::string_view s) { out.append(s.data(), s.size()); }
    void str(std::string_view s) {
        u16(static_cast<uint16_t>(s.size()));
        raw(s);
    }
};

// Makes room for `extra` more bytes, growing geometrically so that many packets appended to
// one connection buffer cost amortised O(1) reallocations (a plain reserve() may grow exactly).
inline void grow(std::string& out, size_t extra) {
    size_t need = out.size() + extra;
    if (need > out.capacity()) out.reserve(std::max(need, out.capacity() * 2));
}

}  // namespace herald::mqtt::detail
