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

#include <optional>
#include <string>
#include <string_view>
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
    // subscription filter; a filter is allowed when a read rule's filter covers it (rule
    // "a/#" covers "a/b/+"), and denied when a deny rule could match any topic it covers.
    // At delivery `topic` is the concrete topic name.
    bool allowed(Access access, const std::optional<std::string>& username,
                 std::string_view client_id, std::string_view topic) const;

    struct Rule {
        std::string filter;  // may hold %u / %c for patterns
        bool read = false;
        bool write = false;
        bool deny = false;
        bool pattern = false;
    };

private:
    bool loaded_ = false;
    std::vector<Rule> anonymous_rules_;
    std::vector<std::pair<std::string, std::vector<Rule>>> user_rules_;
    std::vector<Rule> pattern_rules_;
};

}  // namespace herald::core
