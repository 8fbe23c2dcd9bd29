// Decoding of CONNECT (spec 3.1) and CONNACK (spec 3.2): the packets that settle the protocol
// version, so CONNECT reads its own level instead of trusting the session's.
#include "broker/mqtt/detail/decode_parts.h"
#include "broker/mqtt/topic.h"

namespace herald::mqtt::detail {

bool decode_connect(Reader& r, Ctx& ctx, Packet& out) {
    std::string_view name;
    uint8_t level;
    if (!r.str(name)) return ctx.malformed("CONNECT is too short for a protocol name");
    if (!r.u8(level)) return ctx.malformed("CONNECT is too short for a protocol level");
    if (name == "MQIsdp")
        return ctx.fail(ReasonCode::UnsupportedProtocolVersion, "MQTT 3.1 (MQIsdp) is not supported");
    if (name != "MQTT") return ctx.malformed("protocol name is not MQTT");  // [MQTT-3.1.2-1]
    if (level != 4 && level != 5)  // [MQTT-3.1.2-2]
        return ctx.fail(ReasonCode::UnsupportedProtocolVersion,
                        "protocol level " + std::to_string(level) + " is not supported");
    ctx.version = static_cast<ProtocolVersion>(level);

    auto& c = out.emplace<Connect>();
    c.version = ctx.version;
    uint8_t flags;
    if (!r.u8(flags)) return ctx.malformed("CONNECT is too short for its flags");
    if (flags & 0x01) return ctx.malformed("reserved connect flag is set");  // [MQTT-3.1.2-3]
    c.clean_start = (flags & 0x02) != 0;
    bool will = (flags & 0x04) != 0;
    uint8_t will_qos = (flags >> 3) & 0x03;
    bool will_retain = (flags & 0x20) != 0;
    bool has_password = (flags & 0x40) != 0;
    bool has_username = (flags & 0x80) != 0;
    if (!will && (will_qos != 0 || will_retain))  // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
        return ctx.malformed("will QoS or will retain is set without a will");
    if (will_qos == 3) return ctx.malformed("will QoS is 3");  // [MQTT-3.1.2-14]
    if (!ctx.v5() && has_password && !has_username)  // [MQTT-3.1.2-22]; allowed in 5.0
        return ctx.malformed("password flag is set without the user name flag");
    if (!r.u16(c.keep_alive)) return ctx.malformed("CONNECT is too short for keep alive");
    if (ctx.v5() && !decode_properties(r, static_cast<uint8_t>(PacketType::Connect), c.props, ctx))
        return false;

    std::string_view s;
    if (!ctx.utf8(r, s, "client id")) return false;  // [MQTT-3.1.3-4]
    c.client_id.assign(s);
    if (will) {
        Will w;
        w.qos = will_qos;
        w.retain = will_retain;
        if (ctx.v5() && !decode_properties(r, kWillContext, w.props, ctx)) return false;
        if (!ctx.utf8(r, s, "will topic")) return false;  // [MQTT-3.1.3-11]
        if (!valid_topic_name(s)) return ctx.protocol("will topic is not a valid topic name");
        w.topic.assign(s);
        if (!ctx.binary(r, s, "will payload")) return false;
        w.payload.assign(s);
        c.will = std::move(w);
    }
    if (has_username) {
        if (!ctx.utf8(r, s, "user name")) return false;  // [MQTT-3.1.3-11]
        c.username.emplace(s);
    }
    if (has_password) {
        if (!ctx.binary(r, s, "password")) return false;
        c.password.emplace(s);
    }
    if (!ctx.at_end(r, "CONNECT")) return false;
    return true;
}

bool decode_connack(Reader& r, Ctx& ctx, Packet& out) {
    auto& c = out.emplace<Connack>();
    uint8_t flags, code;
    if (!r.u8(flags) || !r.u8(code)) return ctx.malformed("CONNACK is too short");
    if (flags & 0xFE) return ctx.malformed("reserved CONNACK flags are set");  // [MQTT-3.2.2-1]
    c.session_present = (flags & 0x01) != 0;
    if (ctx.v5()) {
        if (!reason_allowed(PacketType::Connack, code))
            return ctx.protocol("CONNACK reason code " + hex_byte(code) + " is not allowed");
        c.reason = static_cast<ReasonCode>(code);
        if (!decode_properties(r, static_cast<uint8_t>(PacketType::Connack), c.props, ctx)) return false;
    } else {
        static constexpr ReasonCode kV311[] = {
            ReasonCode::Success,          ReasonCode::UnsupportedProtocolVersion,
            ReasonCode::ClientIdentifierNotValid, ReasonCode::ServerUnavailable,
            ReasonCode::BadUserNameOrPassword,    ReasonCode::NotAuthorized,
        };
        if (code > 5) return ctx.malformed("CONNACK return code " + hex_byte(code) + " is not defined");
        c.reason = kV311[code];
    }
    if (!ctx.at_end(r, "CONNACK")) return false;
    return true;
}

}  // namespace herald::mqtt::detail
