// The Framer: splits an incoming byte stream into whole MQTT packets.
//
// Every transport (TCP, TLS, WebSocket, Unix socket) feeds its bytes here, so the maximum
// packet size is enforced in exactly one place. It is resumable: bytes may arrive one at a
// time, and several packets may arrive in one read. Pure: no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace herald::mqtt {

enum class FrameError : uint8_t {
    None,
    MalformedLength,  // remaining length varint longer than 4 bytes -> DISCONNECT 0x81
    TooLarge,         // whole packet larger than max_packet_size  -> DISCONNECT 0x95
};

class Framer {
public:
    explicit Framer(uint32_t max_packet_size) : max_packet_size_(max_packet_size) {}

    void set_max_packet_size(uint32_t max) { max_packet_size_ = max; }

    // Appends `data` and calls `on_frame` once per complete packet (the span covers the
    // fixed header, the length and the body; it is valid only during the call). Stops at the
    // first error, or when on_frame returns false (the caller is closing the connection).
    // Returns the error, or None. After an error the Framer must not be fed again.
    FrameError feed(std::span<const uint8_t> data,
                    const std::function<bool(std::span<const uint8_t>)>& on_frame);

    // Bytes held for an incomplete packet (for memory accounting and tests).
    size_t buffered() const { return buffer_.size(); }

private:
    uint32_t max_packet_size_;
    std::string buffer_;  // bytes of an incomplete packet carried between feed() calls
};

}  // namespace herald::mqtt
