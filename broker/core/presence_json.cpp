// The JSON of presence records, device lists and status updates (SPEC 4), with nlohmann_json
// (parsed without exceptions: DESIGN.md).
#include "broker/core/presence_json.h"

#include <nlohmann/json.hpp>

namespace herald::core {

namespace {

bool visible(const UserPresence& p) { return p.online && !p.invisible(); }

}  // namespace

std::string presence_record_json(std::string_view user, const UserPresence& p, bool with_seq) {
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
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string presence_devices_json(std::string_view user, const UserPresence& p) {
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
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
