// Decoding of the subscription packets: SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (spec 3.8-3.11).
#include "broker/mqtt/detail/decode_parts.h"
#include "broker/mqtt/topic.h"

namespace herald::mqtt::detail {
namespace {

// Reads one topic filter: bad UTF-8 or bad wildcard placement makes the packet malformed.
bool read_filter(Reader& r, Ctx& ctx, std::string_view& f) {
    if (!ctx.utf8(r, f, "topic filter")) return false;
    if (!valid_topic_filter(f))
        return ctx.malformed("topic filter is not valid");  // [MQTT-4.7.1-1..2], [MQTT-4.8.2-1..2]
    return true;
}

// The list of reason codes that ends SUBACK and UNSUBACK.
bool read_reasons(PacketType type, Reader& r, Ctx& ctx, std::vector<ReasonCode>& out) {
    const char* name = packet_name(type);
    if (r.empty()) return ctx.protocol(std::string(name) + " has no reason codes");
    out.reserve(r.left());
    while (!r.empty()) {
        uint8_t code;
        r.u8(code);
        bool ok = ctx.v5() ? reason_allowed(type, code) : (code <= 0x02 || code == 0x80);  // [MQTT-3.9.3-2]
        if (!ok) return ctx.protocol(std::string(name) + " reason code " + hex_byte(code) + " is not allowed");
        out.push_back(static_cast<ReasonCode>(code));
    }
    return true;
}

}  // namespace

bool decode_subscribe(Reader& r, Ctx& ctx, Packet& out) {
    auto& s = out.emplace<Subscribe>();
    if (!ctx.packet_id(r, s.packet_id, "SUBSCRIBE")) return false;
    if (ctx.v5() && !decode_properties(r, static_cast<uint8_t>(PacketType::Subscribe), s.props, ctx))
        return false;
    if (r.empty()) return ctx.protocol("SUBSCRIBE has no topic filters");  // [MQTT-3.8.3-3]
    while (!r.empty()) {
        Subscription sub;
        std::string_view f;
        if (!read_filter(r, ctx, f)) return false;
        uint8_t o;
        if (!r.u8(o)) return ctx.malformed("SUBSCRIBE topic filter has no options byte");
        // 3.1.1 reserves bits 2-7 [MQTT-3.8.3-4]; 5.0 reserves bits 6-7 [MQTT-3.8.3-5].
        if (o & (ctx.v5() ? 0xC0 : 0xFC)) return ctx.malformed("reserved subscription option bits are set");
        sub.options.qos = o & 0x03;
        if (sub.options.qos == 3) return ctx.malformed("subscription QoS is 3");
        if (ctx.v5()) {
            sub.options.no_local = (o & 0x04) != 0;
            sub.options.retain_as_published = (o & 0x08) != 0;
            sub.options.retain_handling = (o >> 4) & 0x03;
            if (sub.options.retain_handling == 3) return ctx.protocol("retain handling is 3");
            std::string_view group, real;
            if (sub.options.no_local && split_shared(f, group, real))  // [MQTT-3.8.3-4] (5.0)
                return ctx.protocol("no local is set on a shared subscription");
        }
        sub.filter.assign(f);
        s.subscriptions.push_back(std::move(sub));
    }
    return true;
}

bool decode_suback(Reader& r, Ctx& ctx, Packet& out) {
    auto& s = out.emplace<Suback>();
    if (!ctx.packet_id(r, s.packet_id, "SUBACK")) return false;
    if (ctx.v5() && !decode_properties(r, static_cast<uint8_t>(PacketType::Suback), s.props, ctx)) return false;
    if (!read_reasons(PacketType::Suback, r, ctx, s.reasons)) return false;
    return true;
}

bool decode_unsubscribe(Reader& r, Ctx& ctx, Packet& out) {
    auto& u = out.emplace<Unsubscribe>();
    if (!ctx.packet_id(r, u.packet_id, "UNSUBSCRIBE")) return false;
    if (ctx.v5() && !decode_properties(r, static_cast<uint8_t>(PacketType::Unsubscribe), u.props, ctx))
        return false;
    if (r.empty()) return ctx.protocol("UNSUBSCRIBE has no topic filters");  // [MQTT-3.10.3-2]
    while (!r.empty()) {
        std::string_view f;
        if (!read_filter(r, ctx, f)) return false;
        u.filters.emplace_back(f);
    }
    return true;
}

bool decode_unsuback(Reader& r, Ctx& ctx, Packet& out) {
    auto& u = out.emplace<Unsuback>();
    if (!ctx.packet_id(r, u.packet_id, "UNSUBACK")) return false;
    if (ctx.v5()) {
        if (!decode_properties(r, static_cast<uint8_t>(PacketType::Unsuback), u.props, ctx)) return false;
        if (!read_reasons(PacketType::Unsuback, r, ctx, u.reasons)) return false;
    }
    if (!ctx.at_end(r, "UNSUBACK")) return false;  // 3.1.1 UNSUBACK is only the packet id
    return true;
}

}  // namespace herald::mqtt::detail
