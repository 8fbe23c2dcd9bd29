// The ACL: parsing mosquitto's acl_file format, and the access test (deny wins over grants).
//
// Every check is one question, "does this rule filter cover that filter or topic?", answered
// level by level without building strings: %u / %c in patterns are compared in place, so a
// delivery-time check (once per message per subscriber) does not allocate.
#include "broker/core/acl.h"

namespace herald::core {

namespace {

// Walks the '/'-separated levels of a filter or topic; exhausted once pos passes the end
// (so "a/" has two levels, the second empty).
struct Levels {
    std::string_view s;
    size_t pos = 0;
    bool more() const { return pos <= s.size(); }
    std::string_view next() {
        size_t slash = s.find('/', pos);
        if (slash == std::string_view::npos) slash = s.size();
        std::string_view level = s.substr(pos, slash - pos);
        pos = slash + 1;
        return level;
    }
};

// What %u and %c stand for in a pattern; null for plain "topic" rules.
struct Substitution {
    std::string_view username;
    std::string_view client_id;
};

// Is rule level `r` (after substitution) exactly `f`?
bool level_equals(std::string_view r, std::string_view f, const Substitution* sub) {
    if (!sub) return r == f;
    size_t fi = 0;
    for (size_t i = 0; i < r.size(); ++i) {
        if (r[i] == '%' && i + 1 < r.size() && (r[i + 1] == 'u' || r[i + 1] == 'c')) {
            std::string_view value = r[i + 1] == 'u' ? sub->username : sub->client_id;
            if (f.substr(fi, value.size()) != value) return false;
            fi += value.size();
            ++i;
            continue;
        }
        if (fi >= f.size() || f[fi] != r[i]) return false;
        ++fi;
    }
    return fi == f.size();
}

bool is_dollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

bool covers(std::string_view rule, std::string_view filter, const Substitution* sub) {
    Levels r{rule}, f{filter};
    bool first = true;
    for (;; first = false) {
        if (!f.more()) {
            if (!r.more()) return true;
            // The filter ends here; the rule covers it only by a final '#', which also
            // matches its parent level ("a/#" covers "a").
            std::string_view rest = r.next();
            return rest == "#" && !r.more();
        }
        if (!r.more()) return false;
        std::string_view rl = r.next();
        std::string_view fl = f.next();
        if (rl == "#") return !(first && is_dollar(fl));
        if (fl == "#") return false;  // only a '#' covers "this level and any below"
        if (rl == "+") {
            if (first && is_dollar(fl)) return false;
            continue;
        }
        if (fl == "+") return false;  // a literal covers one value, not every value
        if (!level_equals(rl, fl, sub)) return false;
    }
}

// A substituted value must not change the shape of a pattern [acl: no widening by name].
bool safe_value(std::string_view v) { return v.find_first_of("+#/") == std::string_view::npos; }

// Filter syntax for rule lines: '#' alone and last, '+' alone in its level.
bool valid_rule_filter(std::string_view filter) {
    if (filter.empty() || filter.find('\0') != std::string_view::npos) return false;
    Levels l{filter};
    while (l.more()) {
        std::string_view level = l.next();
        if (level.find('#') != std::string_view::npos && (level != "#" || l.more())) return false;
        if (level.find('+') != std::string_view::npos && level != "+") return false;
    }
    return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Splits off the first word; `rest` gets what follows, leading blanks removed.
std::string_view first_word(std::string_view s, std::string_view& rest) {
    size_t end = 0;
    while (end < s.size() && !is_space(s[end])) ++end;
    rest = trim(s.substr(end));
    return s.substr(0, end);
}

std::string line_error(size_t line, std::string_view what) {
    return "line " + std::to_string(line) + ": " + std::string(what);
}

}  // namespace

bool filter_covers(std::string_view rule, std::string_view filter) {
    return covers(rule, filter, nullptr);
}

bool Acl::load(std::string_view text, std::string& error) {
    std::vector<Rule> anonymous;
    decltype(user_rules_) users;
    std::vector<Rule> patterns;
    std::vector<Rule>* current = &anonymous;  // "topic" lines before any "user": anonymous

    size_t line_no = 0;
    for (size_t pos = 0; pos <= text.size();) {
        ++line_no;
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = trim(text.substr(pos, nl - pos));
        pos = nl + 1;
        if (line.empty() || line[0] == '#') continue;

        std::string_view rest;
        std::string_view keyword = first_word(line, rest);
        if (keyword == "topic" || keyword == "pattern") {
            Rule rule;
            rule.pattern = keyword == "pattern";
            std::string_view after;
            std::string_view word = first_word(rest, after);
            if (word == "read") {
                rule.read = true;
            } else if (word == "write") {
                rule.write = true;
            } else if (word == "readwrite") {
                rule.read = rule.write = true;
            } else if (word == "deny") {
                rule.deny = true;
            } else {
                rule.read = rule.write = true;  // no access word: readwrite, topic is the rest
                after = rest;
            }
            if (after.empty()) {
                error = line_error(line_no, "missing topic");
                return false;
            }
            if (!valid_rule_filter(after)) {
                error = line_error(line_no, "invalid topic filter '" + std::string(after) + "'");
                return false;
            }
            rule.filter = std::string(after);
            if (rule.pattern) {
                rule.uses_username = after.find("%u") != std::string_view::npos;
                rule.uses_client_id = after.find("%c") != std::string_view::npos;
                patterns.push_back(std::move(rule));
            } else {
                current->push_back(std::move(rule));
            }
        } else if (keyword == "user") {
            if (rest.empty()) {
                error = line_error(line_no, "missing username");
                return false;
            }
            current = &users[std::string(rest)];  // several blocks for one user add up
        } else {
            error = line_error(line_no, "unknown keyword '" + std::string(keyword) + "'");
            return false;
        }
    }

    anonymous_rules_ = std::move(anonymous);
    user_rules_ = std::move(users);
    pattern_rules_ = std::move(patterns);
    loaded_ = true;
    return true;
}

bool Acl::allowed(Access access, std::optional<std::string_view> username,
                  std::string_view client_id, std::string_view topic) const {
    if (!loaded_) return true;

    if (access == Access::Read && topic.substr(0, 7) == "$share/") {
        size_t slash = topic.find('/', 7);
        if (slash != std::string_view::npos) topic = topic.substr(slash + 1);
    }

    const std::vector<Rule>* own = &anonymous_rules_;
    if (username) {
        auto it = user_rules_.find(*username);
        own = it == user_rules_.end() ? nullptr : &it->second;
    }

    Substitution sub{username ? *username : std::string_view(), client_id};
    bool username_ok = username && safe_value(*username);
    bool client_ok = safe_value(client_id);
    // The substitution to use for `rule`, or false when the pattern cannot apply.
    auto applies = [&](const Rule& rule, const Substitution*& s) {
        s = nullptr;
        if (!rule.pattern) return true;
        if (rule.uses_username && !username_ok) return false;
        if (rule.uses_client_id && !client_ok) return false;
        s = &sub;
        return true;
    };
    auto grants = [&](const Rule& rule) {
        return access == Access::Read ? rule.read : rule.write;
    };

    // Denials first: any matching deny wins, whatever the order of the lines.
    const std::vector<Rule>* lists[] = {own, &pattern_rules_};
    for (const auto* list : lists) {
        if (!list) continue;
        for (const Rule& rule : *list) {
            const Substitution* s;
            if (rule.deny && applies(rule, s) && covers(rule.filter, topic, s)) return false;
        }
    }
    for (const auto* list : lists) {
        if (!list) continue;
        for (const Rule& rule : *list) {
            const Substitution* s;
            if (!rule.deny && grants(rule) && applies(rule, s) && covers(rule.filter, topic, s))
                return true;
        }
    }
    return false;
}

}  // namespace herald::core
