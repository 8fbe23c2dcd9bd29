// The JSON of presence records, device lists and status updates (SPEC 4): written by hand
// (the hot path of presence churn), parsed with nlohmann_json (without exceptions: DESIGN.md).
#include "broker/core/presence_json.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "broker/mqtt/topic.h"

namespace herald::core {

namespace {

bool visible(const UserPresence& p) { return p.online && !p.invisible(); }

// The records are written by hand, not through nlohmann::ordered_json (a map of keys and an
// allocation per value): each user's connect and leave renders them, thousands a second in a
// churn. The bytes are nlohmann's dump() of before, word for word (tests/unit/presence_test.cpp
// compares): a string is quoted with '"', '\\', \b \f \n \r \t and the other control
// characters (\u00xx) escaped, everything else (UTF-8) as is. A string that is not valid
// UTF-8 (mqtt::valid_utf8, which refuses NUL too) makes the whole record go through nlohmann,
// whose replacement of bad bytes is not copied here.
void append_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xF];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
    out += '"';
    out += key;
    out += "\":";
    append_string(out, value);
}

void append_field(std::string& out, std::string_view key, uint64_t value) {
    out += '"';
    out += key;
    out += "\":";
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out.append(digits, end);
}

std::string dump(const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string record_json_slow(std::string_view user, const UserPresence& p, bool with_seq) {
    const bool shown = visible(p);
    const bool invisible = p.invisible();
    nlohmann::ordered_json j;  // in SPEC 4's order
    j["user"] = user;
    j["state"] = shown ? "online" : "offline";
    j["status"] = invisible ? std::string("available") : p.status;
    j["text"] = invisible ? std::string() : p.text;
    j["devices"] = shown ? p.devices.size() : 0;
    j["since"] = invisible ? p.invisible_since_ms : p.since_ms;
    j["last_seen"] = invisible ? p.invisible_since_ms : p.last_seen_ms;
    if (with_seq) j["seq"] = p.seq;
    return dump(j);
}

std::string devices_json_slow(std::string_view user, const UserPresence& p) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const PresenceDevice& d : p.devices) {
        list.push_back({{"client_id", d.client_id},
                        {"transport", d.transport},
                        {"protocol", d.protocol},
                        {"since", d.since_ms}});
    }
    nlohmann::ordered_json j;
    j["user"] = user;
    j["devices"] = std::move(list);
    return dump(j);
}

}  // namespace

std::string presence_record_json(std::string_view user, const UserPresence& p, bool with_seq) {
    const bool invisible = p.invisible();
    const std::string_view status = invisible ? std::string_view("available") : std::string_view(p.status);
    const std::string_view text = invisible ? std::string_view() : std::string_view(p.text);
    if (!mqtt::valid_utf8(user) || !mqtt::valid_utf8(status) || !mqtt::valid_utf8(text))
        return record_json_slow(user, p, with_seq);
    const bool shown = visible(p);
    std::string out;
    out.reserve(128 + user.size() + text.size());
    out += '{';
    append_field(out, "user", user);
    out += ',';
    append_field(out, "state", shown ? "online" : "offline");
    out += ',';
    append_field(out, "status", status);
    out += ',';
    append_field(out, "text", text);
    out += ',';
    append_field(out, "devices", uint64_t(shown ? p.devices.size() : 0));
    out += ',';
    append_field(out, "since", invisible ? p.invisible_since_ms : p.since_ms);
    out += ',';
    append_field(out, "last_seen", invisible ? p.invisible_since_ms : p.last_seen_ms);
    out += '}';
    if (with_seq) add_presence_seq(out, p.seq);
    return out;
}

void add_presence_seq(std::string& record, uint64_t seq) {
    if (record.empty() || record.back() != '}') return;
    record.pop_back();
    record += ',';
    append_field(record, "seq", seq);
    record += '}';
}

std::string presence_devices_json(std::string_view user, const UserPresence& p) {
    bool valid = mqtt::valid_utf8(user);
    for (const PresenceDevice& d : p.devices) valid = valid && mqtt::valid_utf8(d.client_id) && mqtt::valid_utf8(d.transport);
    if (!valid) return devices_json_slow(user, p);
    std::string out;
    out.reserve(40 + user.size() + p.devices.size() * 96);
    out += '{';
    append_field(out, "user", user);
    out += ",\"devices\":[";
    for (size_t i = 0; i < p.devices.size(); ++i) {
        const PresenceDevice& d = p.devices[i];
        if (i) out += ',';
        out += '{';
        append_field(out, "client_id", d.client_id);
        out += ',';
        append_field(out, "transport", d.transport);
        out += ',';
        append_field(out, "protocol", uint64_t(d.protocol));
        out += ',';
        append_field(out, "since", d.since_ms);
        out += '}';
    }
    out += "]}";
    return out;
}

bool parse_status_update(std::string_view payload, StatusUpdate& update, std::string& error) {
    nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        error = "a presence update must be a JSON object like {\"status\":\"away\",\"text\":\"...\"}";
        return false;
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() != "status" && it.key() != "text") {
            error = "unknown field \"" + it.key() + "\" in a presence update (only status and text)";
            return false;
        }
    }
    if (auto it = j.find("status"); it != j.end()) {
        if (!it->is_string() || !PresenceTracker::valid_status(it->get_ref<const std::string&>())) {
            error = "status must be one of available, away, busy, invisible";
            return false;
        }
        update.status = it->get<std::string>();
    }
    if (auto it = j.find("text"); it != j.end()) {
        if (!it->is_string()) {
            error = "text must be a string";
            return false;
        }
        if (it->get_ref<const std::string&>().size() > kMaxPresenceTextBytes) {
            error = "text is longer than 256 bytes";
            return false;
        }
        update.text = it->get<std::string>();
    }
    if (!update.status && !update.text) {
        error = "a presence update needs status or text";
        return false;
    }
    return true;
}

}  // namespace herald::core
