// MQTT over WebSocket (RFC 6455), the client's side, as plain functions over bytes and a small
// state: the HTTP upgrade request, the check of the server's 101 answer, masked frames out,
// and a resumable reader of the server's frames. No I/O here: client_ws.cpp wires it to a
// Client, and tests feed it bytes split anywhere.
//
// MQTT rides in binary frames as a byte stream: a packet may span frames, a frame may hold
// several packets, so the reader hands out payload pieces, not messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace herald::tools::ws {

inline constexpr uint8_t kOpContinuation = 0x0, kOpText = 0x1, kOpBinary = 0x2, kOpClose = 0x8, kOpPing = 0x9,
                         kOpPong = 0xA;

// A fresh Sec-WebSocket-Key: 16 random bytes in base64.
std::string make_key();
// What the server must answer in Sec-WebSocket-Accept: base64(SHA-1(key + RFC 6455's GUID)).
std::string accept_for(std::string_view key);
// The GET that asks `host` (as "host:port") to switch `path` to WebSocket with `protocol`.
std::string upgrade_request(std::string_view host, std::string_view path, std::string_view key,
                            std::string_view protocol);

// The server's answer to the upgrade, checked as far as it has arrived.
struct UpgradeAnswer {
    enum class Status : uint8_t {
        NeedMore,  // the headers are not complete yet
        Ok,        // 101 with the right Upgrade, Connection, Accept and protocol
        Refused,   // anything else: `error` says what
    } status = Status::NeedMore;
    size_t consumed = 0;  // Ok: the length of the headers; bytes after them are frames
    std::string error;
};
// `max_bytes`: headers longer than this are refused (a server that never ends them).
UpgradeAnswer check_upgrade_answer(std::string_view received, std::string_view key, std::string_view protocol,
                                   size_t max_bytes = 16384);

// Appends one final frame of `opcode` carrying `payload`, masked with `mask` (a client must
// mask every frame; the key should be unpredictable to the network, see next_mask()).
void append_frame(uint8_t opcode, std::string_view payload, uint32_t mask, std::string& out);
// A masking key from a cheap generator seeded from OpenSSL's RAND (xorshift; `state` != 0).
uint32_t next_mask(uint64_t& state);
uint64_t mask_seed();

// Where the reader of the server's frames stands between two reads.
struct FrameReader {
    enum class Stage : uint8_t {
        Header,   // collecting the 2..10 header bytes in `header`
        Payload,  // `remaining` payload bytes of the current frame to come
    } stage = Stage::Header;
    uint8_t header[10] = {};
    uint8_t header_have = 0;
    uint8_t opcode = 0;          // of the current frame
    bool in_message = false;     // a binary message was started and not finished (FIN)
    bool final_frame = false;    // the current frame has FIN set
    uint64_t remaining = 0;
    std::string control;         // a control frame's payload, gathered whole (at most 125 bytes)
};

// One thing the reader found.
struct FramePart {
    enum class Kind : uint8_t {
        None,     // nothing yet: every byte given was consumed into the reader's state
        Data,     // `data`: payload bytes of a binary message (a view of the input)
        Control,  // a complete control frame: `opcode` close / ping / pong, `data` its payload
        Error,    // a protocol error (`error`); feed nothing more
    } kind = Kind::None;
    uint8_t opcode = 0;
    std::span<const uint8_t> data;
    const char* error = "";
};

// Reads from `in` until one part is found or `in` is used up; returns the bytes consumed.
// Call again with the rest of `in` until it is empty. A Control part's data stays valid until
// the next call.
size_t next_part(FrameReader& reader, std::span<const uint8_t> in, FramePart& part);

}  // namespace herald::tools::ws
