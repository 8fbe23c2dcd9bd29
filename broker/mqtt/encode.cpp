// encode() and encoded_size() for every packet: one body writer per packet type, templated on
// the sink, so that sizing (Counter) and writing (Appender) can never disagree.
// 3.1.1 output drops properties and maps reason codes at this edge (reason_codes.h).
#include <type_traits>

#include "broker/mqtt/codec.h"
#include "broker/mqtt/detail/decode_parts.h"

namespace herald::mqtt {
namespace detail {
namespace {

bool no_props(const Properties& p) { return properties_body_size(p) == 0; }

// The property block (length + body) in 5.0; nothing in 3.1.1.
template <class S>
void props(const Properties& p, ProtocolVersion v, S& s) {
    if (v != ProtocolVersion::V5) return;
    if constexpr (std::is_same_v<S, Counter>) {
        s.n += properties_size(p);
    } else {
        s.varint(static_cast<uint32_t>(properties_body_size(p)));
        write_properties_body(p, s);
    }
}

uint8_t u8(ReasonCode r) { return static_cast<uint8_t>(r); }

uint8_t first_byte(const Connect&) { return 0x10; }
uint8_t first_byte(const Connack&) { return 0x20; }
// PUBLISH goes through encode_publish (codec.cpp), which writes its own first byte.
uint8_t first_byte(const Ack& a) {
    return static_cast<uint8_t>((static_cast<uint8_t>(a.type) << 4) | (a.type == PacketType::Pubrel ? 0x02 : 0));
}
uint8_t first_byte(const Subscribe&) { return 0x82; }
uint8_t first_byte(const Suback&) { return 0x90; }
uint8_t first_byte(const Unsubscribe&) { return 0xA2; }
uint8_t first_byte(const Unsuback&) { return 0xB0; }
uint8_t first_byte(const Pingreq&) { return 0xC0; }
uint8_t first_byte(const Pingresp&) { return 0xD0; }
uint8_t first_byte(const Disconnect&) { return 0xE0; }
uint8_t first_byte(const Auth&) { return 0xF0; }

template <class S>
void body(const Connect& c, ProtocolVersion v, S& s) {
    s.str("MQTT");
    s.u8(static_cast<uint8_t>(v));
    uint8_t flags = c.clean_start ? 0x02 : 0;
    if (c.will) {
        flags |= static_cast<uint8_t>(0x04 | ((c.will->qos & 0x03) << 3) | (c.will->retain ? 0x20 : 0));
    }
    if (c.password) flags |= 0x40;
    if (c.username) flags |= 0x80;
    s.u8(flags);
    s.u16(c.keep_alive);
    props(c.props, v, s);
    s.str(c.client_id);
    if (c.will) {
        props(c.will->props, v, s);
        s.str(c.will->topic);
        s.str(c.will->payload);
    }
    if (c.username) s.str(*c.username);
    if (c.password) s.str(*c.password);
}

template <class S>
void body(const Connack& c, ProtocolVersion v, S& s) {
    s.u8(c.session_present ? 1 : 0);
    if (v == ProtocolVersion::V5) {
        s.u8(u8(c.reason));
        props(c.props, v, s);
    } else {
        s.u8(static_cast<uint8_t>(connack_code_v311(c.reason)));
    }
}

template <class S>
void body(const Publish& p, ProtocolVersion v, S& s) {
    s.str(p.topic);
    if (p.qos > 0) s.u16(p.packet_id);
    props(p.props, v, s);
    if (p.payload) s.raw(*p.payload);
}

// 5.0 short forms: the reason code is left out when it is Success with no properties, and the
// property length when there are no properties (spec 3.4.2.1, 3.14.2.1).
template <class S>
void reason_and_props(ReasonCode reason, const Properties& p, ProtocolVersion v, S& s) {
    if (v != ProtocolVersion::V5) return;
    bool empty = no_props(p);
    if (reason == ReasonCode::Success && empty) return;
    s.u8(u8(reason));
    if (!empty) props(p, v, s);
}

template <class S>
void body(const Ack& a, ProtocolVersion v, S& s) {
    s.u16(a.packet_id);
    reason_and_props(a.reason, a.props, v, s);
}

template <class S>
void body(const Subscribe& sub, ProtocolVersion v, S& s) {
    s.u16(sub.packet_id);
    props(sub.props, v, s);
    for (const auto& e : sub.subscriptions) {
        s.str(e.filter);
        const auto& o = e.options;
        uint8_t opt = o.qos & 0x03;
        if (v == ProtocolVersion::V5) {
            opt |= static_cast<uint8_t>((o.no_local ? 0x04 : 0) | (o.retain_as_published ? 0x08 : 0) |
                                        ((o.retain_handling & 0x03) << 4));
        }
        s.u8(opt);
    }
}

template <class S>
void body(const Suback& a, ProtocolVersion v, S& s) {
    s.u16(a.packet_id);
    props(a.props, v, s);
    for (ReasonCode r : a.reasons) s.u8(v == ProtocolVersion::V5 ? u8(r) : suback_code_v311(r));
}

template <class S>
void body(const Unsubscribe& u, ProtocolVersion v, S& s) {
    s.u16(u.packet_id);
    props(u.props, v, s);
    for (const auto& f : u.filters) s.str(f);
}

template <class S>
void body(const Unsuback& a, ProtocolVersion v, S& s) {
    s.u16(a.packet_id);
    if (v != ProtocolVersion::V5) return;  // 3.1.1 UNSUBACK is only the packet id
    props(a.props, v, s);
    for (ReasonCode r : a.reasons) s.u8(u8(r));
}

template <class S>
void body(const Pingreq&, ProtocolVersion, S&) {}
template <class S>
void body(const Pingresp&, ProtocolVersion, S&) {}

template <class S>
void body(const Disconnect& d, ProtocolVersion v, S& s) {
    reason_and_props(d.reason, d.props, v, s);
}

// AUTH has no form with a reason code alone: either empty, or reason code and properties.
template <class S>
void body(const Auth& a, ProtocolVersion v, S& s) {
    if (v != ProtocolVersion::V5) return;
    if (a.reason == ReasonCode::Success && no_props(a.props)) return;
    s.u8(u8(a.reason));
    props(a.props, v, s);
}

template <class T>
size_t body_size(const T& p, ProtocolVersion v) {
    Counter c;
    body(p, v, c);
    return c.n;
}

}  // namespace
}  // namespace detail

void encode(const Packet& packet, ProtocolVersion version, std::string& out) {
    std::visit(
        [&](const auto& p) {
            using T = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<T, Publish>) {
                std::string_view payload = p.payload ? std::string_view(*p.payload) : std::string_view();
                encode_publish(p.topic, payload, p.qos, p.retain, p.dup, p.packet_id, &p.props, version, out);
            } else {
                size_t rl = detail::body_size(p, version);
                detail::grow(out, 1 + varint_size(static_cast<uint32_t>(rl)) + rl);
                out.push_back(static_cast<char>(detail::first_byte(p)));
                encode_varint(static_cast<uint32_t>(rl), out);
                detail::Appender a{out};
                detail::body(p, version, a);
            }
        },
        packet);
}

size_t encoded_size(const Packet& packet, ProtocolVersion version) {
    return std::visit(
        [&](const auto& p) {
            size_t rl = detail::body_size(p, version);
            return 1 + varint_size(static_cast<uint32_t>(rl)) + rl;
        },
        packet);
}

}  // namespace herald::mqtt
