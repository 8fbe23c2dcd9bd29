// decode(): the fixed header rules shared by every packet (spec 2.1), the dispatch on packet
// type, and the small packets (PUBLISH, the four acks, PING*, DISCONNECT, AUTH).
// CONNECT/CONNACK live in decode_connect.cpp, the subscription packets in decode_subscribe.cpp.
#include <memory>

#include "broker/mqtt/codec.h"
#include "broker/mqtt/detail/decode_parts.h"
#include "broker/mqtt/topic.h"

namespace herald::mqtt {
namespace detail {

bool Ctx::utf8(Reader& r, std::string_view& out, const char* what) {
    if (!r.str(out)) return malformed(std::string(what) + " runs past the end of the packet");
    if (!valid_utf8(out)) return malformed(std::string(what) + " is not valid UTF-8");
    return true;
}

bool Ctx::binary(Reader& r, std::string_view& out, const char* what) {
    if (!r.str(out)) return malformed(std::string(what) + " runs past the end of the packet");
    return true;
}

bool Ctx::packet_id(Reader& r, uint16_t& out, const char* packet) {
    if (!r.u16(out)) return malformed(std::string(packet) + " is too short for a packet identifier");
    if (out == 0) return protocol(std::string(packet) + " has packet identifier 0");  // [MQTT-2.2.1-3]
    return true;
}

bool Ctx::at_end(const Reader& r, const char* packet) {
    if (!r.empty()) return malformed(std::string(packet) + " has bytes after its last field");
    return true;
}

bool decode_publish(uint8_t flags, Reader& r, Ctx& ctx, Packet& out) {
    auto& p = out.emplace<Publish>();  // built in place: a Packet is large, moving it costs
    p.retain = (flags & 0x01) != 0;
    p.qos = (flags >> 1) & 0x03;
    p.dup = (flags & 0x08) != 0;
    std::string_view topic;
    if (!ctx.utf8(r, topic, "topic name")) return false;
    if (has_wildcard(topic))
        return ctx.protocol("topic name contains a wildcard");  // [MQTT-3.3.2-2]
    if (p.qos > 0 && !ctx.packet_id(r, p.packet_id, "PUBLISH")) return false;
    if (ctx.v5() && !decode_properties(r, static_cast<uint8_t>(PacketType::Publish), p.props, ctx))
        return false;
    if (topic.empty()) {
        // 5.0: an empty topic means "use the topic alias"; the session resolves the alias.
        if (!ctx.v5()) return ctx.malformed("topic name is empty");  // [MQTT-4.7.3-1]
        if (!p.props.topic_alias) return ctx.protocol("topic name is empty and there is no topic alias");
    }
    p.topic.assign(topic);
    p.payload = std::make_shared<const std::string>(r.rest());
    return true;
}

bool decode_ack(PacketType type, Reader& r, Ctx& ctx, Packet& out) {
    const char* name = packet_name(type);
    auto& a = out.emplace<Ack>();
    a.type = type;
    if (!ctx.packet_id(r, a.packet_id, name)) return false;
    // 5.0 [spec 3.4.2.1]: the reason code may be left out (Success), then the properties.
    if (ctx.v5() && !r.empty()) {
        uint8_t code;
        r.u8(code);
        if (!reason_allowed(type, code))
            return ctx.protocol(std::string(name) + " reason code " + hex_byte(code) + " is not allowed");
        a.reason = static_cast<ReasonCode>(code);
        if (!r.empty() && !decode_properties(r, static_cast<uint8_t>(type), a.props, ctx)) return false;
    }
    if (!ctx.at_end(r, name)) return false;
    return true;
}

// DISCONNECT and AUTH: in 5.0 an empty body means Success without properties.
template <class T>
bool decode_reason_props(PacketType type, Reader& r, Ctx& ctx, Packet& out) {
    const char* name = packet_name(type);
    auto& t = out.emplace<T>();
    if (ctx.v5() && !r.empty()) {
        uint8_t code;
        r.u8(code);
        if (!reason_allowed(type, code))
            return ctx.protocol(std::string(name) + " reason code " + hex_byte(code) + " is not allowed");
        t.reason = static_cast<ReasonCode>(code);
        if (!r.empty() && !decode_properties(r, static_cast<uint8_t>(type), t.props, ctx)) return false;
    }
    if (!ctx.at_end(r, name)) return false;
    return true;
}

bool decode_disconnect(Reader& r, Ctx& ctx, Packet& out) {
    return decode_reason_props<Disconnect>(PacketType::Disconnect, r, ctx, out);
}

bool decode_auth(Reader& r, Ctx& ctx, Packet& out) {
    return decode_reason_props<Auth>(PacketType::Auth, r, ctx, out);
}

namespace {

// Fixed header flags (spec 2.1.3): PUBLISH carries DUP/QoS/RETAIN, PUBREL, SUBSCRIBE and
// UNSUBSCRIBE must carry 0010, every other packet 0000 [MQTT-2.1.3-1].
bool check_flags(PacketType type, uint8_t flags, Ctx& ctx) {
    if (type == PacketType::Publish) {
        uint8_t qos = (flags >> 1) & 0x03;
        if (qos == 3) return ctx.malformed("PUBLISH has QoS 3");  // [MQTT-3.3.1-4]
        if (qos == 0 && (flags & 0x08)) return ctx.malformed("PUBLISH has DUP set with QoS 0");  // [MQTT-3.3.1-2]
        return true;
    }
    bool two = type == PacketType::Pubrel || type == PacketType::Subscribe || type == PacketType::Unsubscribe;
    if (flags != (two ? 0x02 : 0x00))
        return ctx.malformed(std::string("reserved flags of ") + packet_name(type) + (two ? " must be 0010" : " must be 0"));
    return true;
}

bool decode_body(PacketType type, uint8_t flags, Reader& r, Ctx& ctx, Packet& out) {
    switch (type) {
        case PacketType::Connect: return decode_connect(r, ctx, out);
        case PacketType::Connack: return decode_connack(r, ctx, out);
        case PacketType::Publish: return decode_publish(flags, r, ctx, out);
        case PacketType::Puback:
        case PacketType::Pubrec:
        case PacketType::Pubrel:
        case PacketType::Pubcomp: return decode_ack(type, r, ctx, out);
        case PacketType::Subscribe: return decode_subscribe(r, ctx, out);
        case PacketType::Suback: return decode_suback(r, ctx, out);
        case PacketType::Unsubscribe: return decode_unsubscribe(r, ctx, out);
        case PacketType::Unsuback: return decode_unsuback(r, ctx, out);
        case PacketType::Pingreq:
            if (!ctx.at_end(r, "PINGREQ")) return false;
            out = Pingreq{};
            return true;
        case PacketType::Pingresp:
            if (!ctx.at_end(r, "PINGRESP")) return false;
            out = Pingresp{};
            return true;
        case PacketType::Disconnect: return decode_disconnect(r, ctx, out);
        case PacketType::Auth: return decode_auth(r, ctx, out);
    }
    return ctx.malformed("packet type 0 is reserved");
}

}  // namespace
}  // namespace detail

DecodeResult decode(std::span<const uint8_t> frame, ProtocolVersion version) {
    DecodeResult res;
    detail::Ctx ctx{version, {}};
    detail::Reader r(frame.data(), frame.size());
    uint8_t b0 = 0;
    uint32_t remaining = 0;
    bool ok = false;
    if (!r.u8(b0)) {
        ctx.malformed("packet is empty");
    } else if (!r.varint(remaining)) {
        ctx.malformed("remaining length is not a valid variable byte integer");
    } else if (remaining != r.left()) {
        ctx.malformed("remaining length does not match the packet size");
    } else if ((b0 >> 4) == 0) {
        ctx.malformed("packet type 0 is reserved");
    } else {
        auto type = static_cast<PacketType>(b0 >> 4);
        if (type == PacketType::Auth && version != ProtocolVersion::V5)
            ctx.malformed("AUTH does not exist in MQTT 3.1.1");  // packet type 15 is reserved there
        else
            ok = detail::check_flags(type, b0 & 0x0F, ctx) && detail::decode_body(type, b0 & 0x0F, r, ctx, res.packet);
    }
    res.ok = ok;
    if (!ok) res.error = std::move(ctx.err);
    return res;
}

}  // namespace herald::mqtt
