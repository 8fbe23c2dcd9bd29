// The user-id rules of SPEC 2: user ids (MQTT usernames) and group names become topic levels
// (users/{to}/{from}/..., groups/{g}/...), so they must be safe as one level.
//
// Checked at CONNECT (refused with 5.0 0x86 Bad user name or password / 3.1.1 0x04), and by the
// admin API before creating a user or group. Pure functions; cheap; callable on the loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace herald::auth {

inline constexpr size_t kDefaultMaxUserIdBytes = 64;

// Empty when `id` is a valid user id, else the reason as a sentence for the log and for
// admin API errors ("user id contains '/'"). Rules: 1..max_bytes bytes of valid UTF-8
// (herald::mqtt::valid_utf8), no '/', '+', '#', no NUL or other control character (C0,
// DEL, C1 U+0080..U+009F), no leading '$' (reserved for $SYS / $CONTROL topics).
std::string user_id_error(std::string_view id, size_t max_bytes = kDefaultMaxUserIdBytes);

// Same rules for group names (they are topic levels too); sentences say "group name".
std::string group_name_error(std::string_view name, size_t max_bytes = kDefaultMaxUserIdBytes);

inline bool valid_user_id(std::string_view id, size_t max_bytes = kDefaultMaxUserIdBytes) {
    return user_id_error(id, max_bytes).empty();
}
inline bool valid_group_name(std::string_view name, size_t max_bytes = kDefaultMaxUserIdBytes) {
    return group_name_error(name, max_bytes).empty();
}

}  // namespace herald::auth
