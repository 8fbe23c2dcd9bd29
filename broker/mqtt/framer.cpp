// The Framer: turns a byte stream into whole packets, and the one place where the maximum
// packet size is enforced for every transport.
//
// Whole packets inside the caller's buffer are handed on as spans into it, with no copy; only
// the tail of an incomplete packet is copied into buffer_, to be completed by later feeds.
// The size limit is checked as soon as the remaining length is known, before any body byte is
// buffered, so a peer announcing a huge packet costs us nothing.
#include "broker/mqtt/framer.h"

#include <algorithm>

namespace herald::mqtt {
namespace {

enum class Header { NeedMore, Bad, Ok };

// Reads the fixed header at p[0..n): on Ok, `total` is the size of the whole packet
// (first byte + length bytes + remaining length).
Header parse_header(const uint8_t* p, size_t n, size_t& total) {
    uint32_t remaining = 0;
    for (size_t i = 1; i <= 4; ++i) {
        if (i >= n) return Header::NeedMore;
        uint8_t b = p[i];
        remaining |= uint32_t{b & 0x7Fu} << (7 * (i - 1));
        if ((b & 0x80) == 0) {
            total = 1 + i + remaining;
            return Header::Ok;
        }
    }
    return Header::Bad;  // a fourth length byte with its continuation bit set [MQTT-1.5.5]
}

// A big packet's buffer is not kept for the life of a mostly idle connection.
constexpr size_t kKeepCapacity = 64 * 1024;

}  // namespace

FrameError Framer::feed(std::span<const uint8_t> data,
                        const std::function<bool(std::span<const uint8_t>)>& on_frame) {
    const uint8_t* p = data.data();
    size_t n = data.size();
    size_t total = 0;

    if (!buffer_.empty()) {
        // Finish the packet begun by an earlier feed. Its header may itself be incomplete:
        // take header bytes one at a time (at most 5) until the length is known.
        Header h;
        auto buf = [this] { return reinterpret_cast<const uint8_t*>(buffer_.data()); };
        while ((h = parse_header(buf(), buffer_.size(), total)) == Header::NeedMore) {
            if (n == 0) return FrameError::None;
            buffer_.push_back(static_cast<char>(*p++));
            --n;
        }
        if (h == Header::Bad) return FrameError::MalformedLength;
        if (total > max_packet_size_) return FrameError::TooLarge;
        size_t take = std::min(total - buffer_.size(), n);
        buffer_.append(reinterpret_cast<const char*>(p), take);
        p += take;
        n -= take;
        if (buffer_.size() < total) return FrameError::None;
        bool go = on_frame(std::span<const uint8_t>(buf(), total));
        buffer_.clear();
        if (buffer_.capacity() > kKeepCapacity) std::string().swap(buffer_);
        if (!go) return FrameError::None;
    }

    while (n > 0) {
        Header h = parse_header(p, n, total);
        if (h == Header::Bad) return FrameError::MalformedLength;
        if (h == Header::Ok && total > max_packet_size_) return FrameError::TooLarge;
        if (h == Header::NeedMore || total > n) {
            buffer_.assign(reinterpret_cast<const char*>(p), n);
            return FrameError::None;
        }
        if (!on_frame(std::span<const uint8_t>(p, total))) return FrameError::None;
        p += total;
        n -= total;
    }
    return FrameError::None;
}

}  // namespace herald::mqtt
