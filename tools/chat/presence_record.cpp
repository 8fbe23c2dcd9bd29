// Parsing and wording of SPEC 4 presence records, shared by `herald presence` and `herald chat`.
#include "tools/chat/presence_record.h"

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

namespace herald::tools::chat {

namespace {

// Reads a string or integer member when present with the right type; records come from the
// network, so a field of the wrong type is ignored rather than trusted.
void read_string(const nlohmann::json& j, const char* key, std::string& out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) out = it->get<std::string>();
}

bool read_int(const nlohmann::json& j, const char* key, int64_t& out) {
    auto it = j.find(key);
    if (it == j.end()) return false;
    if (it->is_number_integer()) out = it->get<int64_t>();
    else if (it->is_number_float()) out = static_cast<int64_t>(it->get<double>());
    else return false;
    return true;
}

}  // namespace

std::string presence_topic_user(std::string_view topic) {
    constexpr std::string_view prefix = "presence/";
    if (topic.substr(0, prefix.size()) != prefix) return {};
    std::string_view user = topic.substr(prefix.size());
    if (user.empty() || user.find('/') != std::string_view::npos) return {};
    return std::string(user);
}

bool parse_presence(std::string_view payload, std::string_view topic_user, PresenceRecord& out) {
    // No exceptions: parse errors come back as a discarded value.
    nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    out = PresenceRecord{};
    read_string(j, "user", out.user);
    if (!topic_user.empty()) out.user = std::string(topic_user);
    read_string(j, "state", out.state);
    read_string(j, "status", out.status);
    read_string(j, "text", out.text);
    read_int(j, "devices", out.devices);
    read_int(j, "since", out.since);
    read_int(j, "last_seen", out.last_seen);
    int64_t seq = 0;
    if (read_int(j, "seq", seq)) out.seq = seq;
    return !out.user.empty();
}

PresenceUpdate PresenceBook::apply(const PresenceRecord& rec, PresenceRecord* previous) {
    if (rec.seq) {
        auto last = last_seq_.find(rec.user);
        if (last != last_seq_.end() && *rec.seq < last->second) return PresenceUpdate::Stale;
        last_seq_[rec.user] = *rec.seq;
    }
    auto it = users_.find(rec.user);
    if (it == users_.end()) {
        users_.emplace(rec.user, rec);
        return PresenceUpdate::New;
    }
    if (previous) *previous = it->second;
    if (rec.state.empty() && !rec.seq) {
        // A bare {"status","text"} (a user's own status publish, seen on a broker that does
        // not merge it into the record): it changes only what it carries.
        it->second.status = rec.status;
        it->second.text = rec.text;
        return PresenceUpdate::Changed;
    }
    it->second = rec;
    return PresenceUpdate::Changed;
}

PresenceUpdate PresenceBook::remove(const std::string& user) {
    users_.erase(user);
    return PresenceUpdate::Removed;
}

const PresenceRecord* PresenceBook::find(const std::string& user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : &it->second;
}

std::string relative_time(int64_t then_ms, int64_t now) {
    if (then_ms <= 0) return "-";
    int64_t s = (now - then_ms) / 1000;
    if (s < 0) s = 0;  // clocks of broker and tool differ a little
    if (s < 5) return "just now";
    if (s < 60) return std::to_string(s) + " s ago";
    if (s < 3600) return std::to_string(s / 60) + " min ago";
    if (s < 86400) return std::to_string(s / 3600) + " h ago";
    return std::to_string(s / 86400) + " d ago";
}

std::string clock_time(int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[8];
    std::strftime(buf, sizeof buf, "%H:%M", &tm);
    return buf;
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

PresenceColumns presence_columns(const PresenceRecord& rec, int64_t now) {
    PresenceColumns c;
    c.state = rec.state.empty() ? "?" : rec.state;
    c.status = rec.status;
    if (!rec.text.empty()) c.text = "\"" + rec.text + "\"";
    if (rec.devices >= 0) c.devices = std::to_string(rec.devices) + (rec.devices == 1 ? " device" : " devices");
    if (rec.online()) {
        if (rec.since > 0) c.when = "since " + relative_time(rec.since, now);
    } else if (rec.last_seen > 0) {
        c.when = "last seen " + relative_time(rec.last_seen, now);
    }
    return c;
}

std::string describe_presence(const PresenceRecord& rec, int64_t now) {
    PresenceColumns c = presence_columns(rec, now);
    std::string out = c.state;
    for (const std::string* part : {&c.status, &c.text, &c.devices, &c.when}) {
        if (part->empty()) continue;
        out += "  ";
        out += *part;
    }
    return out;
}

}  // namespace herald::tools::chat
