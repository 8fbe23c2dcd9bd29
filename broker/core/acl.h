// Access control from a mosquitto-format ACL file: who may publish (write) and subscribe (read).
//
// File format (as mosquitto's acl_file):
//   # comment
//   topic [read|write|readwrite|deny] <filter>     rules before any "user" line: anonymous clients
//   user <username>                                 following "topic" lines apply to that user
//   pattern [read|write|readwrite|deny] <filter>    applies to every client; %u = username, %c = client id
// A "deny" rule wins over any grant that also matches. With no ACL loaded everything is allowed;
// with an ACL loaded, anything not granted is denied (mosquitto's rule).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::core {

enum class Access : uint8_t {
    Read = 1,   // subscribe / receive
    Write = 2,  // publish
};

class Acl {
public:
    // Parses the text of an ACL file. On error returns false and sets `error` to
    // "line N: <what is wrong>"; the Acl is then unchanged.
    bool load(std::string_view text, std::string& error);

    bool loaded() const { return loaded_; }

    // Is this client allowed `access` on `topic`? For Read at subscribe time `topic` is the
    // subscription filter ("$share/{g}/{f}" is checked as f); it is allowed when a read rule's
    // filter covers it (rule "a/#" covers "a/b/+"), and refused when a deny rule covers it
    // (the same filter included). A deny rule that only overlaps it (deny "a/x", filter "a/+")
    // does not refuse the subscription: the delivery-time check filters those topics out.
    // At delivery and for Write `topic` is the concrete topic name (a topic is a filter that
    // covers only itself, so the same test serves both).
    bool allowed(Access access, std::optional<std::string_view> username,
                 std::string_view client_id, std::string_view topic) const;

    struct Rule {
        std::string filter;  // may hold %u / %c for patterns
        bool read = false;
        bool write = false;
        bool deny = false;
        bool pattern = false;
        bool uses_username = false;   // pattern holding %u
        bool uses_client_id = false;  // pattern holding %c
    };

private:
    bool loaded_ = false;
    std::vector<Rule> anonymous_rules_;
    // Looked up by string_view (no copy of the username per check).
    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
    };
    std::unordered_map<std::string, std::vector<Rule>, NameHash, std::equal_to<>> user_rules_;
    std::vector<Rule> pattern_rules_;
};

// Does rule filter `rule` match every topic that filter `filter` can match? Both are valid
// filters (no $share prefix); '$' topics are matched by no leading wildcard [MQTT-4.7.2-1].
// "a/#" covers "a", "a/+/c" and "a/#"; "a/+" covers "a/b" and "a/+" but not "a/#". For a
// concrete topic this is plain MQTT matching.
bool filter_covers(std::string_view rule, std::string_view filter);

}  // namespace herald::core
