// Formatting of received messages for `herald sub`: -v, -F (mosquitto_sub's codes), --json.
#include "tools/sub_output.h"

#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "broker/mqtt/topic.h"

namespace herald::tools {

namespace {

// A string for JSON: UTF-8 as is, anything else as base64 under a "<key>_base64" key.
void put_bytes(nlohmann::json& obj, const std::string& key, std::string_view bytes) {
    if (mqtt::valid_utf8(bytes) || bytes.empty()) obj[key] = std::string(bytes);
    else obj[key + "_base64"] = base64(bytes);
}

nlohmann::json properties_json(const mqtt::Properties& p) {
    nlohmann::json j = nlohmann::json::object();
    if (p.payload_format_indicator) j["payload-format-indicator"] = *p.payload_format_indicator;
    if (p.message_expiry_interval) j["message-expiry-interval"] = *p.message_expiry_interval;
    if (p.content_type) put_bytes(j, "content-type", *p.content_type);
    if (p.response_topic) put_bytes(j, "response-topic", *p.response_topic);
    if (p.correlation_data) put_bytes(j, "correlation-data", *p.correlation_data);
    if (!p.subscription_identifiers.empty()) j["subscription-identifier"] = p.subscription_identifiers;
    if (p.topic_alias) j["topic-alias"] = *p.topic_alias;
    if (!p.user_properties.empty()) {
        nlohmann::json users = nlohmann::json::array();
        for (const auto& u : p.user_properties) {
            if (mqtt::valid_utf8(u.key) && mqtt::valid_utf8(u.value)) users.push_back({u.key, u.value});
        }
        j["user-property"] = std::move(users);
    }
    return j;
}

void append_json(const mqtt::Publish& m, std::string_view topic, std::string& out) {
    nlohmann::json j;
    j["topic"] = std::string(topic);
    put_bytes(j, "payload", m.payload ? std::string_view(*m.payload) : std::string_view());
    j["qos"] = m.qos;
    j["retain"] = m.retain;
    j["properties"] = properties_json(m.props);
    // Invalid UTF-8 was routed to *_base64 above, so dump() cannot throw.
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_time(char code, std::string& out) {
    auto now = std::chrono::system_clock::now();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    time_t secs = static_cast<time_t>(ns / 1000000000);
    char buf[64];
    if (code == 'U') {
        std::snprintf(buf, sizeof buf, "%lld.%09lld", (long long)secs, (long long)(ns % 1000000000));
    } else {  // 'I': ISO 8601 local time with offset, as mosquitto_sub
        struct tm tm;
        localtime_r(&secs, &tm);
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
    }
    out += buf;
}

void append_hex(std::string_view bytes, bool upper, std::string& out) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
}

void append_format(const std::string& f, const mqtt::Publish& m, std::string_view topic, std::string& out) {
    std::string_view payload = m.payload ? std::string_view(*m.payload) : std::string_view();
    const mqtt::Properties& p = m.props;
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if (c == '%' && i + 1 < f.size()) {
            char code = f[++i];
            switch (code) {
                case '%': out += '%'; break;
                case 't': out += topic; break;
                case 'p': out += payload; break;
                case 'q': out += std::to_string(m.qos); break;
                case 'r': out += m.retain ? '1' : '0'; break;
                case 'l': out += std::to_string(payload.size()); break;
                case 'm': out += std::to_string(m.packet_id); break;
                case 'I':
                case 'U': append_time(code, out); break;
                case 'x': append_hex(payload, false, out); break;
                case 'X': append_hex(payload, true, out); break;
                case 'j': append_json(m, topic, out); break;
                case 'C': if (p.content_type) out += *p.content_type; break;
                case 'D': if (p.correlation_data) out += *p.correlation_data; break;
                case 'E': if (p.message_expiry_interval) out += std::to_string(*p.message_expiry_interval); break;
                case 'F': if (p.payload_format_indicator) out += std::to_string(*p.payload_format_indicator); break;
                case 'R': if (p.response_topic) out += *p.response_topic; break;
                case 'S':
                    for (size_t k = 0; k < p.subscription_identifiers.size(); ++k)
                        out += (k ? "," : "") + std::to_string(p.subscription_identifiers[k]);
                    break;
                case 'P':
                    for (size_t k = 0; k < p.user_properties.size(); ++k)
                        out += (k ? " " : "") + p.user_properties[k].key + ":" + p.user_properties[k].value;
                    break;
                default: out += '%'; out += code; break;  // unknown: print as written
            }
        } else if (c == '\\' && i + 1 < f.size()) {
            char e = f[++i];
            switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case '\\': out += '\\'; break;
                case '0': out += '\0'; break;
                case 'a': out += '\a'; break;
                case 'e': out += '\033'; break;
                case 'v': out += '\v'; break;
                default: out += '\\'; out += e; break;
            }
        } else {
            out += c;
        }
    }
}

}  // namespace

std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

void format_message(const OutputOptions& o, const mqtt::Publish& m, std::string_view topic, std::string& out) {
    std::string_view payload = m.payload ? std::string_view(*m.payload) : std::string_view();
    switch (o.mode) {
        case OutputMode::Payload: out += payload; break;
        case OutputMode::Verbose:
            out += topic;
            out += ' ';
            out += payload;
            break;
        case OutputMode::Format: append_format(o.format, m, topic, out); break;
        case OutputMode::Json: append_json(m, topic, out); break;
    }
    if (o.newline) out += '\n';
}

}  // namespace herald::tools
