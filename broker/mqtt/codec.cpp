// Variable Byte Integers (spec 1.5.5) and the PUBLISH fast path: every delivery to every
// subscriber goes through encode_publish, so it sizes the packet once, reserves once and writes
// straight into the connection's buffer without building a Publish value.
#include "broker/mqtt/codec.h"
#include "broker/mqtt/detail/decode_parts.h"

namespace herald::mqtt {

void encode_varint(uint32_t value, std::string& out) {
    // At most 4 bytes: values above 268,435,455 are the caller's bug, not representable.
    for (int i = 0; i < 4; ++i) {
        uint8_t b = value & 0x7F;
        value >>= 7;
        if (value == 0 || i == 3) {
            out.push_back(static_cast<char>(b));
            return;
        }
        out.push_back(static_cast<char>(b | 0x80));
    }
}

size_t varint_size(uint32_t value) {
    if (value < 128u) return 1;
    if (value < 16384u) return 2;
    if (value < 2097152u) return 3;
    return 4;
}

namespace {

// Remaining length of a PUBLISH, given the size of its property block body.
size_t publish_remaining(size_t topic, size_t payload, uint8_t qos, size_t props_body, ProtocolVersion v) {
    size_t rl = 2 + topic + (qos > 0 ? 2 : 0) + payload;
    if (v == ProtocolVersion::V5) rl += varint_size(static_cast<uint32_t>(props_body)) + props_body;
    return rl;
}

}  // namespace

void encode_publish(std::string_view topic, std::string_view payload, uint8_t qos, bool retain, bool dup,
                    uint16_t packet_id, const Properties* props, ProtocolVersion version, std::string& out) {
    bool v5 = version == ProtocolVersion::V5;
    size_t props_body = (v5 && props) ? detail::properties_body_size(*props) : 0;
    size_t rl = publish_remaining(topic.size(), payload.size(), qos, props_body, version);
    detail::grow(out, 1 + varint_size(static_cast<uint32_t>(rl)) + rl);
    detail::Appender a{out};
    a.u8(static_cast<uint8_t>(0x30 | (dup ? 0x08 : 0) | ((qos & 0x03) << 1) | (retain ? 0x01 : 0)));
    a.varint(static_cast<uint32_t>(rl));
    a.str(topic);
    if (qos > 0) a.u16(packet_id);
    if (v5) {
        a.varint(static_cast<uint32_t>(props_body));
        if (props) detail::write_properties_body(*props, a);
    }
    a.raw(payload);
}

size_t encoded_publish_size(std::string_view topic, size_t payload_size, uint8_t qos, const Properties* props,
                            ProtocolVersion version) {
    size_t props_body = (version == ProtocolVersion::V5 && props) ? detail::properties_body_size(*props) : 0;
    size_t rl = publish_remaining(topic.size(), payload_size, qos, props_body, version);
    return 1 + varint_size(static_cast<uint32_t>(rl)) + rl;
}

}  // namespace herald::mqtt
