// The presence record of SPEC 4 as the tools read it, and the book of the latest record per user.
//
// `herald presence` and `herald chat` both watch `presence/{u}`: they share the parsing, the
// stale-event rule (a record whose `seq` is lower than the last one seen for that user is
// dropped) and the human wording ("online", "3 min ago").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace herald::tools::chat {

// One `presence/{u}` record. Fields the broker did not send keep their defaults.
struct PresenceRecord {
    std::string user;      // the topic's user (authoritative), else the record's "user"
    std::string state;     // "online" | "offline" (anything else is shown as sent)
    std::string status;    // "available" | "away" | "busy" | "invisible" | ""
    std::string text;
    int64_t devices = -1;  // -1: not in the record
    int64_t since = 0;     // ms since the epoch; 0: not in the record
    int64_t last_seen = 0;
    std::optional<int64_t> seq;

    bool online() const { return state == "online"; }
};

// The user named by a `presence/{u}` topic, or "" when the topic is not of that shape.
std::string presence_topic_user(std::string_view topic);

// Parses a record; returns false (and leaves `out` unspecified) when the payload is not a JSON
// object. `topic_user` fills `user` (a record naming another user is still filed under the topic).
bool parse_presence(std::string_view payload, std::string_view topic_user, PresenceRecord& out);

// What became of a record handed to PresenceBook::apply.
enum class PresenceUpdate : uint8_t {
    New,      // first record for that user
    Changed,  // replaces an older record
    Stale,    // seq lower than the last seen: dropped
    Removed,  // empty payload (retained record cleared): the user is forgotten
};

// The latest record per user, sorted by user name (the order of the views).
class PresenceBook {
public:
    // Files `rec`; `previous` (optional) receives the record it replaced. A record without
    // "state" and "seq" only updates the status and text of the user's known record.
    PresenceUpdate apply(const PresenceRecord& rec, PresenceRecord* previous = nullptr);
    PresenceUpdate remove(const std::string& user);
    const std::map<std::string, PresenceRecord>& users() const { return users_; }
    const PresenceRecord* find(const std::string& user) const;

private:
    std::map<std::string, PresenceRecord> users_;
    // Highest seq per user, kept after a removal so a late stale event stays dropped.
    std::map<std::string, int64_t> last_seq_;
};

// "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago"; "-" when `then_ms` is 0.
std::string relative_time(int64_t then_ms, int64_t now_ms);

// "12:03" in local time.
std::string clock_time(int64_t ms);

// Wall clock in ms since the epoch.
int64_t now_ms();

// The columns of a user's row in the views: state, status, quoted text, "2 devices",
// "since 3 min ago" (online) / "last seen 3 min ago" (offline). Empty strings for what the
// record lacks.
struct PresenceColumns {
    std::string state, status, text, devices, when;
};
PresenceColumns presence_columns(const PresenceRecord& rec, int64_t now);

// The columns joined by two spaces, empty ones left out: "online  away  \"In a meeting\"  ...".
std::string describe_presence(const PresenceRecord& rec, int64_t now);

}  // namespace herald::tools::chat
