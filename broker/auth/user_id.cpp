// User-id and group-name checks: one rule set, two names for the messages.
#include "broker/auth/user_id.h"

#include "broker/mqtt/topic.h"

namespace herald::auth {
namespace {

std::string check_level_name(std::string_view s, size_t max_bytes, const char* what) {
    std::string w(what);
    if (s.empty()) return w + " is empty";
    if (s.size() > max_bytes)
        return w + " is longer than " + std::to_string(max_bytes) + " bytes";
    if (s[0] == '$') return w + " starts with '$'";
    for (size_t i = 0; i < s.size(); i++) {
        auto b = static_cast<unsigned char>(s[i]);
        if (b == 0) return w + " contains NUL";
        if (b < 0x20 || b == 0x7F) return w + " contains a control character";
        if (b == '/') return w + " contains '/'";
        if (b == '+') return w + " contains '+'";
        if (b == '#') return w + " contains '#'";
        // C1 controls U+0080..U+009F are encoded C2 80..C2 9F; valid_utf8 allows them.
        if (b == 0xC2 && i + 1 < s.size()) {
            auto next = static_cast<unsigned char>(s[i + 1]);
            if (next >= 0x80 && next <= 0x9F) return w + " contains a control character";
        }
    }
    if (!mqtt::valid_utf8(s)) return w + " is not valid UTF-8";
    return {};
}

}  // namespace

std::string user_id_error(std::string_view id, size_t max_bytes) {
    return check_level_name(id, max_bytes, "user id");
}

std::string group_name_error(std::string_view name, size_t max_bytes) {
    return check_level_name(name, max_bytes, "group name");
}

}  // namespace herald::auth
