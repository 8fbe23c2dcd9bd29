// What the decoder's files share: the error-reporting context, the per-packet decoders
// (split across decode*.cpp by packet family) and the property block codec.
// Private to broker/mqtt.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/mqtt/codec.h"
#include "broker/mqtt/detail/wire.h"

namespace herald::mqtt::detail {

// Carries the first error found; every decoding step returns false after calling fail(), so
// the error travels up without exceptions and the message is built only on the error path.
struct Ctx {
    ProtocolVersion version;
    DecodeError err;

    bool fail(ReasonCode reason, std::string message) {
        err.reason = reason;
        err.message = std::move(message);
        return false;
    }
    bool malformed(std::string message) { return fail(ReasonCode::MalformedPacket, std::move(message)); }
    bool protocol(std::string message) { return fail(ReasonCode::ProtocolError, std::move(message)); }

    bool v5() const { return version == ProtocolVersion::V5; }

    // Reads a UTF-8 string field and checks it against [MQTT-1.5.4-1..3]; `what` names the
    // field in the error message ("client id").
    bool utf8(Reader& r, std::string_view& out, const char* what);
    // Reads a binary data field.
    bool binary(Reader& r, std::string_view& out, const char* what);
    // Reads a packet identifier that must not be 0 [MQTT-2.2.1-3].
    bool packet_id(Reader& r, uint16_t& out, const char* packet);
    // Fails with MalformedPacket when bytes are left after the last field.
    bool at_end(const Reader& r, const char* packet);
};

// Where a property block sits: a packet type (1..15), or the will properties of CONNECT.
inline constexpr uint8_t kWillContext = 0;

// Decodes a 5.0 property block (its length varint first) for `context`. Enforces the allowed set
// of spec table 2-4 (others: Malformed, spec 2.2.2.2), no duplicates (Protocol Error) except user
// properties and PUBLISH subscription identifiers, and the value rules of each property.
bool decode_properties(Reader& r, uint8_t context, Properties& out, Ctx& ctx);

// Writes the property block body (without its length); instantiated for Counter and Appender.
template <class Sink>
void write_properties_body(const Properties& props, Sink& s);

// Size of the property block body (without its length varint).
size_t properties_body_size(const Properties& props);

// Is `code` a reason code the spec allows in a packet of type `type` (5.0)?
bool reason_allowed(PacketType type, uint8_t code);

// Name of a packet type for messages ("SUBSCRIBE").
const char* packet_name(PacketType type);

// Two hex digits with 0x prefix, for messages.
std::string hex_byte(uint8_t b);

// The per-packet decoders. `flags` is the low nibble of the first byte, already checked
// against the fixed rules; `r` covers exactly the variable header and payload.
bool decode_connect(Reader& r, Ctx& ctx, Packet& out);
bool decode_connack(Reader& r, Ctx& ctx, Packet& out);
bool decode_publish(uint8_t flags, Reader& r, Ctx& ctx, Packet& out);
bool decode_ack(PacketType type, Reader& r, Ctx& ctx, Packet& out);
bool decode_subscribe(Reader& r, Ctx& ctx, Packet& out);
bool decode_suback(Reader& r, Ctx& ctx, Packet& out);
bool decode_unsubscribe(Reader& r, Ctx& ctx, Packet& out);
bool decode_unsuback(Reader& r, Ctx& ctx, Packet& out);
bool decode_disconnect(Reader& r, Ctx& ctx, Packet& out);
bool decode_auth(Reader& r, Ctx& ctx, Packet& out);

}  // namespace herald::mqtt::detail
