// Encoding and decoding of whole MQTT packets: bytes <-> values. Pure functions, no I/O.
//
// decode() takes exactly one complete packet (as split by the Framer, framer.h) and returns
// the packet value or "malformed" with the reason code to send (0x81 Malformed Packet or
// 0x82 Protocol Error) and a sentence for the log / reason string.
// encode() appends the bytes of one packet to a buffer, which is how all output is built.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "broker/mqtt/packets.h"

namespace herald::mqtt {

struct DecodeError {
    ReasonCode reason = ReasonCode::MalformedPacket;  // 0x81 or 0x82 (or 0x84 for a bad version)
    std::string message;                              // "topic name contains U+0000", ...
};

struct DecodeResult {
    bool ok = false;
    Packet packet;       // valid when ok
    DecodeError error;   // valid when !ok
};

// Decodes one complete packet: `frame` holds the fixed header, the remaining length and
// exactly the remaining bytes. `version` is the session's negotiated protocol version; it is
// ignored for CONNECT, which carries its own protocol level (an unknown level gives
// error.reason = UnsupportedProtocolVersion, and the caller answers CONNACK 0x84 / 0x01).
// Enforces every well-formedness rule of the specs that needs no session state: reserved
// flag bits, UTF-8 rules [MQTT-1.5.4-1..3], topic name/filter syntax, property placement and
// duplication, QoS 3, packet id 0 where one is required, empty SUBSCRIBE/UNSUBSCRIBE payloads.
DecodeResult decode(std::span<const uint8_t> frame, ProtocolVersion version);

// Appends the encoding of `packet` for `version`. 3.1.1 drops properties and maps reason
// codes (see reason_codes.h). The packet must be valid for that version (the caller's job).
void encode(const Packet& packet, ProtocolVersion version, std::string& out);

// The number of bytes encode() would append; used to honour a client's Maximum Packet Size.
size_t encoded_size(const Packet& packet, ProtocolVersion version);

// Fast path for delivery: appends a PUBLISH without building a Publish value. `topic` may be
// empty when a topic alias (in props) is used. `props` may be null (no properties).
void encode_publish(std::string_view topic, std::string_view payload, uint8_t qos, bool retain,
                    bool dup, uint16_t packet_id, const Properties* props, ProtocolVersion version,
                    std::string& out);
size_t encoded_publish_size(std::string_view topic, size_t payload_size, uint8_t qos,
                            const Properties* props, ProtocolVersion version);

// --- building blocks, exposed for tests and for the framer ---

// Variable Byte Integer (spec 1.5.5): at most 4 bytes, value <= 268,435,455.
void encode_varint(uint32_t value, std::string& out);
size_t varint_size(uint32_t value);

// Encoded length of a Properties block including its own length varint (0 props -> 1 byte).
size_t properties_size(const Properties& props);

}  // namespace herald::mqtt
