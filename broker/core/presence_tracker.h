// PresenceTracker: who is online, per user, across devices, with the grace period that keeps
// a flapping connection from flapping the user's presence (SPEC 4). Pure: no broker, no
// timers, no I/O; the caller gives the time and publishes what the tracker says changed.
//
// The rules it holds:
//   - A user is online while any of its devices is connected. The first device makes it
//     online; the last one leaving makes it offline.
//   - A last device that leaves without DISCONNECT (network loss, keepalive, kick excepted)
//     leaves the user online for a grace period. If any device of the user connects within
//     it, nothing changes at all: no record, no device list (the same client id coming back
//     takes its old place). Otherwise expire() turns the user offline when the grace ends.
//   - A clean DISCONNECT of the last device makes the user offline at once.
//   - A takeover (the same client id connecting again while connected) is not a change.
//   - An invisible user looks offline to others, and nothing it does while invisible (text,
//     devices, leaving) changes what they see.
//   - `seq` grows by one at every change of the published record, so consumers can drop
//     stale events; restore() carries it over a restart.
//
// Each call returns what may have changed, so that the caller renders `presence/{u}` (Record)
// and `presence/{u}/devices` (Devices) only then; take_public() then says whether the record
// others see really changed, and gives it its seq.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::core {

// One online device of a user: what `presence/{u}/devices` lists.
struct PresenceDevice {
    std::string client_id;
    std::string transport;  // "tcp", "ws", ...
    uint8_t protocol = 4;   // 4 = MQTT 3.1.1, 5 = MQTT 5.0
    uint64_t since_ms = 0;  // wall clock, connected since
};

// What a user's presence is, as the broker knows it.
struct UserPresence {
    std::vector<PresenceDevice> devices;  // in connection order, oldest first
    std::string status = "available";     // available | away | busy | invisible
    std::string text;
    uint64_t seq = 0;           // of the last record published (0: never)
    uint64_t public_hash = 0;   // of the last record published, without its seq (take_public)
    uint64_t since_ms = 0;      // wall clock: online since (state online) or offline since
    uint64_t last_seen_ms = 0;  // wall clock: when the last device left (0: never)
    bool online = false;        // any device connected (or in grace)
    // While invisible: what others are shown as since / last seen (frozen until visible).
    uint64_t invisible_since_ms = 0;
    // While the last device is gone but the grace period runs: when it ends (monotonic ms).
    // The devices list still holds that device then, so a return within grace changes nothing.
    uint64_t grace_until_ms = 0;
    bool in_grace() const { return grace_until_ms != 0; }
    bool invisible() const { return status == "invisible"; }
};

struct PresenceChange {
    bool record = false;   // presence/{u} must be republished (seq was incremented)
    bool devices = false;  // presence/{u}/devices must be republished
    bool any() const { return record || devices; }
};

class PresenceTracker {
public:
    // The status words a user may set (SPEC 4).
    static bool valid_status(std::string_view status);

    // A user's saved state at start (the store's presence row): offline, with this seq,
    // last seen, status and text. Called before any connect of that user.
    void restore(const std::string& user, uint64_t seq, uint64_t last_seen_ms, std::string status,
                 std::string text);

    // A device of `user` was accepted. The same client id already listed (takeover, or a
    // return within grace) replaces its entry.
    PresenceChange connected(const std::string& user, PresenceDevice device, uint64_t now_wall_ms);

    // A device of `user` is gone. `clean`: it sent DISCONNECT (or the broker kicked it, or
    // shuts down), so no grace. `grace_ms`: the grace period for this device (config, extended
    // by its will delay). `now_mono_ms` sets the grace deadline.
    PresenceChange disconnected(const std::string& user, std::string_view client_id, bool clean,
                                uint64_t grace_ms, uint64_t now_mono_ms, uint64_t now_wall_ms);

    // Ends the grace periods due by now: those users go offline. Returns them, in no order.
    std::vector<std::string> expire(uint64_t now_mono_ms, uint64_t now_wall_ms);
    // The earliest grace deadline (monotonic ms), if any: when to call expire() next.
    std::optional<uint64_t> next_deadline() const;

    // The user set its status and/or text (already validated).
    PresenceChange set_status(const std::string& user, std::optional<std::string> status,
                              std::optional<std::string> text, uint64_t now_wall_ms);

    // The caller rendered the record others see (without seq) to `public_hash`: true when it
    // differs from the last one published, and then seq is incremented for the new record.
    bool take_public(const std::string& user, uint64_t public_hash);

    const UserPresence* find(std::string_view user) const;
    size_t online_users() const { return online_set_.size(); }
    // Users shown online, in name order, after `cursor`, at most `limit` (admin listOnline).
    std::vector<std::string> list_online(std::string_view cursor, size_t limit) const;

private:
    UserPresence& entry(const std::string& user);
    void go_offline(UserPresence& p, uint64_t now_wall_ms);

    // Heterogeneous lookup: find() by string_view makes no string.
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, UserPresence, Hash, std::equal_to<>> users_;
    // Grace deadlines: (deadline, user). A user's entry is removed when its grace ends or is
    // cancelled, so there is at most one per user.
    std::multimap<uint64_t, std::string> graces_;
    // Users shown online (state online, invisible ones too), ordered for paging (listOnline).
    std::set<std::string, std::less<>> online_set_;
};

}  // namespace herald::core
