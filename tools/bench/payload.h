// The bench payload header: who sent a message, its sequence number in its stream, and when
// (uv_hrtime nanoseconds). The sender and the receiver are the same process, so the clock is
// shared and the latency is the receive time minus the send time. The wire layout is
// little-endian [u32 source][u32 seq][u64 send_ns], then filler up to --size.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace herald::tools::bench {

constexpr size_t kHeaderSize = 16;

struct PayloadHeader {
    uint32_t source = 0;  // publisher index (chat: the sending user)
    uint32_t seq = 0;     // position in the stream (chat: per sender -> receiver pair)
    uint64_t send_ns = 0;
};

// Writes the header into the first kHeaderSize bytes of `buf` (which holds at least that many).
inline void write_header(char* buf, const PayloadHeader& h) {
    std::memcpy(buf, &h.source, 4);
    std::memcpy(buf + 4, &h.seq, 4);
    std::memcpy(buf + 8, &h.send_ns, 8);
}

// False when the payload is too short to be one of ours.
inline bool read_header(std::string_view payload, PayloadHeader& h) {
    if (payload.size() < kHeaderSize) return false;
    std::memcpy(&h.source, payload.data(), 4);
    std::memcpy(&h.seq, payload.data() + 4, 4);
    std::memcpy(&h.send_ns, payload.data() + 8, 8);
    return true;
}

// What a receiver remembers of one stream: the next sequence number expected and which of the
// 64 before it have arrived, enough to tell a late message from a duplicate.
struct StreamState {
    uint32_t next = 0;
    uint64_t seen = 0;  // bit i: seq next-1-i arrived

    enum class Kind : uint8_t { InOrder, Gap, Late, Duplicate };

    Kind accept(uint32_t seq) {
        if (seq >= next) {
            uint32_t jump = seq - next + 1;
            seen = jump >= 64 ? 1 : (seen << jump) | 1;
            Kind k = seq == next ? Kind::InOrder : Kind::Gap;
            next = seq + 1;
            return k;
        }
        uint32_t back = next - 1 - seq;
        if (back >= 64) return Kind::Late;  // too old to tell; a duplicate is far less likely
        uint64_t bit = uint64_t(1) << back;
        if (seen & bit) return Kind::Duplicate;
        seen |= bit;
        return Kind::Late;
    }
};

}  // namespace herald::tools::bench
