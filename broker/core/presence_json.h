// The JSON of presence (SPEC 4): the retained `presence/{u}` record, the `presence/{u}/devices`
// list, and the status update a user publishes to its own `presence/{u}`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "broker/core/presence_tracker.h"

namespace herald::core {

inline constexpr size_t kMaxPresenceTextBytes = 256;

// {"user":"alice","state":"online","status":"away","text":"...","devices":2,"since":...,
//  "last_seen":...,"seq":17}. An offline user keeps the status and text it set (they come
// back with it). An invisible user is rendered as an offline one with the default status
// (available, no text, no devices, since = last_seen = when it disappeared), so that others
// cannot tell.
// Without seq (with_seq = false): what take_public() compares.
std::string presence_record_json(std::string_view user, const UserPresence& p, bool with_seq = true);
// A record rendered without seq -> the same record with it (render once, compare, then add).
void add_presence_seq(std::string& record, uint64_t seq);

// {"user":"alice","devices":[{"client_id":"phone","transport":"tcp","protocol":5,
//  "since":...}, ...]}
std::string presence_devices_json(std::string_view user, const UserPresence& p);

// A status update: {"status":"away","text":"In a meeting"}, either field optional, nothing
// else allowed to be wrong. Sets `error` (a sentence) and returns false when refused.
struct StatusUpdate {
    std::optional<std::string> status;
    std::optional<std::string> text;
};
bool parse_status_update(std::string_view payload, StatusUpdate& update, std::string& error);

}  // namespace herald::core
