// Properties <-> blob in the MQTT 5.0 property encoding (see properties_blob.h for the format).
#include "storage/properties_blob.h"

#include <cstdint>

namespace herald::storage {
namespace {

using mqtt::PropertyId;

void put_id(std::string& out, PropertyId id) { out.push_back(static_cast<char>(id)); }

void put_str(std::string& out, std::string_view s) {
    // MQTT strings are at most 65535 bytes (the decoder guarantees it for anything received).
    size_t n = s.size() > 0xFFFF ? 0xFFFF : s.size();
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
    out.append(s.data(), n);
}

void put_varint(std::string& out, uint32_t v) {
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        if (v != 0) b |= 0x80;
        out.push_back(static_cast<char>(b));
    } while (v != 0);
}

struct In {
    std::string_view s;
    size_t pos = 0;

    bool u8(uint8_t& v) {
        if (pos >= s.size()) return false;
        v = static_cast<uint8_t>(s[pos++]);
        return true;
    }
    bool str(std::string& v) {
        if (s.size() - pos < 2) return false;
        size_t n = (size_t{static_cast<uint8_t>(s[pos])} << 8) | static_cast<uint8_t>(s[pos + 1]);
        pos += 2;
        if (s.size() - pos < n) return false;
        v.assign(s.data() + pos, n);
        pos += n;
        return true;
    }
    bool varint(uint32_t& v) {
        v = 0;
        for (int i = 0; i < 4; ++i) {
            uint8_t b;
            if (!u8(b)) return false;
            v |= uint32_t{b & 0x7Fu} << (7 * i);
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }
};

}  // namespace

void encode_properties_blob(const mqtt::Properties& p, std::string& out) {
    if (p.payload_format_indicator) {
        put_id(out, PropertyId::PayloadFormatIndicator);
        out.push_back(static_cast<char>(*p.payload_format_indicator));
    }
    if (p.content_type) {
        put_id(out, PropertyId::ContentType);
        put_str(out, *p.content_type);
    }
    if (p.response_topic) {
        put_id(out, PropertyId::ResponseTopic);
        put_str(out, *p.response_topic);
    }
    if (p.correlation_data) {
        put_id(out, PropertyId::CorrelationData);
        put_str(out, *p.correlation_data);
    }
    for (uint32_t id : p.subscription_identifiers) {
        put_id(out, PropertyId::SubscriptionIdentifier);
        put_varint(out, id);
    }
    for (const auto& up : p.user_properties) {
        put_id(out, PropertyId::UserProperty);
        put_str(out, up.key);
        put_str(out, up.value);
    }
}

bool decode_properties_blob(std::string_view blob, mqtt::Properties& p) {
    In in{blob};
    while (in.pos < blob.size()) {
        uint8_t id = 0;
        in.u8(id);
        switch (static_cast<PropertyId>(id)) {
            case PropertyId::PayloadFormatIndicator: {
                uint8_t v;
                if (!in.u8(v)) return false;
                p.payload_format_indicator = v;
                break;
            }
            case PropertyId::ContentType:
                if (!in.str(p.content_type.emplace())) return false;
                break;
            case PropertyId::ResponseTopic:
                if (!in.str(p.response_topic.emplace())) return false;
                break;
            case PropertyId::CorrelationData:
                if (!in.str(p.correlation_data.emplace())) return false;
                break;
            case PropertyId::SubscriptionIdentifier: {
                uint32_t v;
                if (!in.varint(v)) return false;
                p.subscription_identifiers.push_back(v);
                break;
            }
            case PropertyId::UserProperty: {
                mqtt::UserProperty up;
                if (!in.str(up.key) || !in.str(up.value)) return false;
                p.user_properties.push_back(std::move(up));
                break;
            }
            default: return false;
        }
    }
    return true;
}

}  // namespace herald::storage
