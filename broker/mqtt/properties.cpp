// The 5.0 property block (spec 2.2.2): one table says, for every property, its wire type and
// the packets it may appear in (spec table 2-4); decoding and encoding both follow it.
#include <array>

#include "broker/mqtt/detail/decode_parts.h"
#include "broker/mqtt/topic.h"

namespace herald::mqtt::detail {
namespace {

enum class Kind : uint8_t { None, Byte, U16, U32, Varint, Utf8, Binary, Pair };

constexpr uint16_t bit(PacketType t) { return static_cast<uint16_t>(1u << static_cast<uint8_t>(t)); }
constexpr uint16_t kWill = 1u << kWillContext;
constexpr uint16_t kConnect = bit(PacketType::Connect), kConnack = bit(PacketType::Connack),
                   kPublish = bit(PacketType::Publish), kPuback = bit(PacketType::Puback),
                   kPubrec = bit(PacketType::Pubrec), kPubrel = bit(PacketType::Pubrel),
                   kPubcomp = bit(PacketType::Pubcomp), kSubscribe = bit(PacketType::Subscribe),
                   kSuback = bit(PacketType::Suback), kUnsubscribe = bit(PacketType::Unsubscribe),
                   kUnsuback = bit(PacketType::Unsuback), kDisconnect = bit(PacketType::Disconnect),
                   kAuth = bit(PacketType::Auth);
constexpr uint16_t kAcks = kPuback | kPubrec | kPubrel | kPubcomp;

struct PropSpec {
    Kind kind = Kind::None;
    uint16_t allowed = 0;  // bit per packet type, bit 0 for will properties
    const char* name = "";
};

constexpr std::array<PropSpec, 0x2B> make_table() {
    std::array<PropSpec, 0x2B> t{};
    t[0x01] = {Kind::Byte, kPublish | kWill, "payload format indicator"};
    t[0x02] = {Kind::U32, kPublish | kWill, "message expiry interval"};
    t[0x03] = {Kind::Utf8, kPublish | kWill, "content type"};
    t[0x08] = {Kind::Utf8, kPublish | kWill, "response topic"};
    t[0x09] = {Kind::Binary, kPublish | kWill, "correlation data"};
    t[0x0B] = {Kind::Varint, kPublish | kSubscribe, "subscription identifier"};
    t[0x11] = {Kind::U32, kConnect | kConnack | kDisconnect, "session expiry interval"};
    t[0x12] = {Kind::Utf8, kConnack, "assigned client identifier"};
    t[0x13] = {Kind::U16, kConnack, "server keep alive"};
    t[0x15] = {Kind::Utf8, kConnect | kConnack | kAuth, "authentication method"};
    t[0x16] = {Kind::Binary, kConnect | kConnack | kAuth, "authentication data"};
    t[0x17] = {Kind::Byte, kConnect, "request problem information"};
    t[0x18] = {Kind::U32, kWill, "will delay interval"};
    t[0x19] = {Kind::Byte, kConnect, "request response information"};
    t[0x1A] = {Kind::Utf8, kConnack, "response information"};
    t[0x1C] = {Kind::Utf8, kConnack | kDisconnect, "server reference"};
    t[0x1F] = {Kind::Utf8, kConnack | kAcks | kSuback | kUnsuback | kDisconnect | kAuth, "reason string"};
    t[0x21] = {Kind::U16, kConnect | kConnack, "receive maximum"};
    t[0x22] = {Kind::U16, kConnect | kConnack, "topic alias maximum"};
    t[0x23] = {Kind::U16, kPublish, "topic alias"};
    t[0x24] = {Kind::Byte, kConnack, "maximum QoS"};
    t[0x25] = {Kind::Byte, kConnack, "retain available"};
    t[0x26] = {Kind::Pair,
               kConnect | kConnack | kPublish | kWill | kAcks | kSubscribe | kSuback | kUnsubscribe |
                   kUnsuback | kDisconnect | kAuth,
               "user property"};
    t[0x27] = {Kind::U32, kConnect | kConnack, "maximum packet size"};
    t[0x28] = {Kind::Byte, kConnack, "wildcard subscription available"};
    t[0x29] = {Kind::Byte, kConnack, "subscription identifier available"};
    t[0x2A] = {Kind::Byte, kConnack, "shared subscription available"};
    return t;
}
constexpr auto kTable = make_table();

const char* context_name(uint8_t context) {
    return context == kWillContext ? "will properties" : packet_name(static_cast<PacketType>(context));
}

// Stores one optional value, refusing a second occurrence (each property's own rule).
template <class T, class V>
bool set_once(std::optional<T>& slot, V value, const PropSpec& spec, Ctx& ctx) {
    if (slot) return ctx.protocol(std::string(spec.name) + " appears more than once");
    slot = static_cast<T>(value);
    return true;
}

bool zero_or_one(uint32_t v, const PropSpec& spec, Ctx& ctx) {
    if (v > 1) return ctx.protocol(std::string(spec.name) + " must be 0 or 1");
    return true;
}

bool not_zero(uint32_t v, const PropSpec& spec, Ctx& ctx) {
    if (v == 0) return ctx.protocol(std::string(spec.name) + " must not be 0");
    return true;
}

// Reads the value of one property whose id and placement are already checked.
bool read_value(uint8_t id, const PropSpec& spec, uint8_t context, Reader& r, Properties& p, Ctx& ctx) {
    uint8_t b = 0;
    uint16_t s = 0;
    uint32_t w = 0;
    std::string_view str, str2;
    bool ok = true;
    switch (spec.kind) {
        case Kind::Byte: ok = r.u8(b); w = b; break;
        case Kind::U16: ok = r.u16(s); w = s; break;
        case Kind::U32: ok = r.u32(w); break;
        case Kind::Varint: ok = r.varint(w); break;
        case Kind::Binary: ok = r.str(str); break;
        case Kind::Utf8: ok = r.str(str); break;
        case Kind::Pair: ok = r.str(str) && r.str(str2); break;
        case Kind::None: break;
    }
    if (!ok) return ctx.malformed(std::string(spec.name) + " runs past the end of the properties");
    if ((spec.kind == Kind::Utf8 || spec.kind == Kind::Pair) && (!valid_utf8(str) || !valid_utf8(str2)))
        return ctx.malformed(std::string(spec.name) + " is not valid UTF-8");

    switch (static_cast<PropertyId>(id)) {
        case PropertyId::PayloadFormatIndicator:
            return zero_or_one(w, spec, ctx) && set_once(p.payload_format_indicator, w, spec, ctx);
        case PropertyId::MessageExpiryInterval: return set_once(p.message_expiry_interval, w, spec, ctx);
        case PropertyId::ContentType: return set_once(p.content_type, str, spec, ctx);
        case PropertyId::ResponseTopic:
            // [MQTT-3.3.2-14]: a topic name, so no wildcards (and not empty).
            if (!valid_topic_name(str)) return ctx.protocol("response topic is not a valid topic name");
            return set_once(p.response_topic, str, spec, ctx);
        case PropertyId::CorrelationData: return set_once(p.correlation_data, str, spec, ctx);
        case PropertyId::SubscriptionIdentifier:
            if (w == 0) return ctx.protocol("subscription identifier is 0");
            // Several only in a PUBLISH (one per matching subscription, server to client).
            if (context != static_cast<uint8_t>(PacketType::Publish) && !p.subscription_identifiers.empty())
                return ctx.protocol("subscription identifier appears more than once");
            p.subscription_identifiers.push_back(w);
            return true;
        case PropertyId::SessionExpiryInterval: return set_once(p.session_expiry_interval, w, spec, ctx);
        case PropertyId::AssignedClientIdentifier:
            return set_once(p.assigned_client_identifier, str, spec, ctx);
        case PropertyId::ServerKeepAlive: return set_once(p.server_keep_alive, w, spec, ctx);
        case PropertyId::AuthenticationMethod: return set_once(p.authentication_method, str, spec, ctx);
        case PropertyId::AuthenticationData: return set_once(p.authentication_data, str, spec, ctx);
        case PropertyId::RequestProblemInformation:
            return zero_or_one(w, spec, ctx) && set_once(p.request_problem_information, w, spec, ctx);
        case PropertyId::WillDelayInterval: return set_once(p.will_delay_interval, w, spec, ctx);
        case PropertyId::RequestResponseInformation:
            return zero_or_one(w, spec, ctx) && set_once(p.request_response_information, w, spec, ctx);
        case PropertyId::ResponseInformation: return set_once(p.response_information, str, spec, ctx);
        case PropertyId::ServerReference: return set_once(p.server_reference, str, spec, ctx);
        case PropertyId::ReasonString: return set_once(p.reason_string, str, spec, ctx);
        case PropertyId::ReceiveMaximum:
            return not_zero(w, spec, ctx) && set_once(p.receive_maximum, w, spec, ctx);
        case PropertyId::TopicAliasMaximum: return set_once(p.topic_alias_maximum, w, spec, ctx);
        // Topic alias 0 is left to the session, which checks every alias against its maximum
        // and answers 0x94 Topic Alias Invalid.
        case PropertyId::TopicAlias: return set_once(p.topic_alias, w, spec, ctx);
        case PropertyId::MaximumQoS:
            return zero_or_one(w, spec, ctx) && set_once(p.maximum_qos, w, spec, ctx);
        case PropertyId::RetainAvailable:
            return zero_or_one(w, spec, ctx) && set_once(p.retain_available, w, spec, ctx);
        case PropertyId::UserProperty:
            p.user_properties.push_back(UserProperty{std::string(str), std::string(str2)});
            return true;
        case PropertyId::MaximumPacketSize:
            return not_zero(w, spec, ctx) && set_once(p.maximum_packet_size, w, spec, ctx);
        case PropertyId::WildcardSubscriptionAvailable:
            return zero_or_one(w, spec, ctx) && set_once(p.wildcard_subscription_available, w, spec, ctx);
        case PropertyId::SubscriptionIdentifierAvailable:
            return zero_or_one(w, spec, ctx) && set_once(p.subscription_identifier_available, w, spec, ctx);
        case PropertyId::SharedSubscriptionAvailable:
            return zero_or_one(w, spec, ctx) && set_once(p.shared_subscription_available, w, spec, ctx);
    }
    return ctx.malformed("unknown property " + hex_byte(id));
}

template <class Sink>
void put_u8(Sink& s, PropertyId id, const std::optional<uint8_t>& v) {
    if (v) { s.u8(static_cast<uint8_t>(id)); s.u8(*v); }
}
template <class Sink>
void put_u16(Sink& s, PropertyId id, const std::optional<uint16_t>& v) {
    if (v) { s.u8(static_cast<uint8_t>(id)); s.u16(*v); }
}
template <class Sink>
void put_u32(Sink& s, PropertyId id, const std::optional<uint32_t>& v) {
    if (v) { s.u8(static_cast<uint8_t>(id)); s.u32(*v); }
}
template <class Sink>
void put_str(Sink& s, PropertyId id, const std::optional<std::string>& v) {
    if (v) { s.u8(static_cast<uint8_t>(id)); s.str(*v); }
}

}  // namespace

bool decode_properties(Reader& r, uint8_t context, Properties& out, Ctx& ctx) {
    uint32_t len;
    if (!r.varint(len)) return ctx.malformed("property length is not a valid variable byte integer");
    std::string_view block;
    if (!r.bytes(len, block)) return ctx.malformed("property length exceeds the packet");
    Reader pr(reinterpret_cast<const uint8_t*>(block.data()), block.size());
    while (!pr.empty()) {
        uint8_t id;
        pr.u8(id);
        const PropSpec* spec = id < kTable.size() ? &kTable[id] : nullptr;
        if (spec == nullptr || spec->kind == Kind::None)
            return ctx.malformed("unknown property " + hex_byte(id));
        if ((spec->allowed & (1u << context)) == 0)
            return ctx.malformed(std::string(spec->name) + " is not allowed in " + context_name(context));
        if (!read_value(id, *spec, context, pr, out, ctx)) return false;
    }
    if (out.authentication_data && !out.authentication_method)
        return ctx.protocol("authentication data without an authentication method");
    return true;
}

template <class Sink>
void write_properties_body(const Properties& p, Sink& s) {
    put_u8(s, PropertyId::PayloadFormatIndicator, p.payload_format_indicator);
    put_u32(s, PropertyId::MessageExpiryInterval, p.message_expiry_interval);
    put_str(s, PropertyId::ContentType, p.content_type);
    put_str(s, PropertyId::ResponseTopic, p.response_topic);
    put_str(s, PropertyId::CorrelationData, p.correlation_data);
    for (uint32_t id : p.subscription_identifiers) {
        s.u8(static_cast<uint8_t>(PropertyId::SubscriptionIdentifier));
        s.varint(id);
    }
    put_u32(s, PropertyId::SessionExpiryInterval, p.session_expiry_interval);
    put_str(s, PropertyId::AssignedClientIdentifier, p.assigned_client_identifier);
    put_u16(s, PropertyId::ServerKeepAlive, p.server_keep_alive);
    put_str(s, PropertyId::AuthenticationMethod, p.authentication_method);
    put_str(s, PropertyId::AuthenticationData, p.authentication_data);
    put_u8(s, PropertyId::RequestProblemInformation, p.request_problem_information);
    put_u32(s, PropertyId::WillDelayInterval, p.will_delay_interval);
    put_u8(s, PropertyId::RequestResponseInformation, p.request_response_information);
    put_str(s, PropertyId::ResponseInformation, p.response_information);
    put_str(s, PropertyId::ServerReference, p.server_reference);
    put_str(s, PropertyId::ReasonString, p.reason_string);
    put_u16(s, PropertyId::ReceiveMaximum, p.receive_maximum);
    put_u16(s, PropertyId::TopicAliasMaximum, p.topic_alias_maximum);
    put_u16(s, PropertyId::TopicAlias, p.topic_alias);
    put_u8(s, PropertyId::MaximumQoS, p.maximum_qos);
    put_u8(s, PropertyId::RetainAvailable, p.retain_available);
    for (const auto& up : p.user_properties) {
        s.u8(static_cast<uint8_t>(PropertyId::UserProperty));
        s.str(up.key);
        s.str(up.value);
    }
    put_u32(s, PropertyId::MaximumPacketSize, p.maximum_packet_size);
    put_u8(s, PropertyId::WildcardSubscriptionAvailable, p.wildcard_subscription_available);
    put_u8(s, PropertyId::SubscriptionIdentifierAvailable, p.subscription_identifier_available);
    put_u8(s, PropertyId::SharedSubscriptionAvailable, p.shared_subscription_available);
}

template void write_properties_body<Counter>(const Properties&, Counter&);
template void write_properties_body<Appender>(const Properties&, Appender&);

size_t properties_body_size(const Properties& props) {
    Counter c;
    write_properties_body(props, c);
    return c.n;
}

}  // namespace herald::mqtt::detail

namespace herald::mqtt {

size_t properties_size(const Properties& props) {
    size_t body = detail::properties_body_size(props);
    return varint_size(static_cast<uint32_t>(body)) + body;
}

}  // namespace herald::mqtt
