// The topic rules of SPEC 3 as three questions: may this user publish, read, subscribe.
//
// Only the first three levels of a topic ever matter, so they are cut out as string views
// (no allocation; the delivery check runs once per message per receiver in the namespaces).
#include "broker/core/topic_rules.h"

#include "broker/core/identity.h"

namespace herald::core {

namespace {

// The first three levels of a topic or filter, and how many levels it has in all (capped at
// 4: "more than three" is all a rule needs to know).
struct Head {
    std::string_view level[3];
    int count = 0;
};

Head head_of(std::string_view s) {
    Head h;
    size_t pos = 0;
    while (h.count < 4) {
        size_t slash = s.find('/', pos);
        if (h.count < 3)
            h.level[h.count] = s.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
        ++h.count;
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return h;
}

bool is_wildcard(std::string_view level) { return level == "+" || level == "#"; }

bool member(const Identity* identity, std::string_view group, std::string_view user) {
    return identity && identity->is_group_member(group, user);
}

// May `viewer` see the presence of `owner` (presence/{owner})? The one place where SPEC 4's
// presence.visibility (contacts, co-members of small groups, or all) is decided, both at
// SUBSCRIBE (a concrete presence/{owner}) and at each delivery: the Identity knows contacts
// and groups. Without one, every authenticated user may (the callers have already refused
// anonymous clients).
bool presence_visible(std::string_view owner, std::string_view viewer, const Identity* identity) {
    return !identity || identity->may_see_presence(viewer, owner);
}

}  // namespace

const char* rule_verdict_name(RuleVerdict v) {
    switch (v) {
        case RuleVerdict::Allowed: return "allowed";
        case RuleVerdict::Anonymous: return "anonymous clients may not use this namespace";
        case RuleVerdict::TooShort: return "topic too short for its namespace";
        case RuleVerdict::NotSender: return "sender level is not the username";
        case RuleVerdict::NotMember: return "not a member of the group";
        case RuleVerdict::NotOwner: return "another user's topic";
        case RuleVerdict::BrokerOnly: return "written by the broker only";
    }
    return "?";
}

RuleVerdict rule_publish(std::string_view topic, TopicClass cls, std::string_view user,
                         const Identity* identity) {
    if (cls == TopicClass::Plain) return RuleVerdict::Allowed;
    if (user.empty()) return RuleVerdict::Anonymous;
    const Head h = head_of(topic);
    switch (cls) {
        case TopicClass::Users:  // users/{to}/{from}[/...]
            if (h.count < 3 || h.level[1].empty()) return RuleVerdict::TooShort;
            return h.level[2] == user ? RuleVerdict::Allowed : RuleVerdict::NotSender;
        case TopicClass::Groups:  // groups/{g}/{from}[/...]
            if (h.count < 3 || h.level[1].empty()) return RuleVerdict::TooShort;
            if (h.level[2] != user) return RuleVerdict::NotSender;
            return member(identity, h.level[1], user) ? RuleVerdict::Allowed : RuleVerdict::NotMember;
        case TopicClass::Presence:  // presence/{u}; presence/{u}/... is the broker's
            if (h.count < 2 || h.level[1].empty()) return RuleVerdict::TooShort;
            if (h.count > 2) return RuleVerdict::BrokerOnly;
            return h.level[1] == user ? RuleVerdict::Allowed : RuleVerdict::NotOwner;
        case TopicClass::Plain: break;
    }
    return RuleVerdict::Allowed;
}

bool rule_read(std::string_view topic, TopicClass cls, std::string_view user,
               const Identity* identity) {
    if (cls == TopicClass::Plain) return true;
    if (user.empty()) return false;
    const Head h = head_of(topic);
    if (h.count < 2) return false;  // "users", "groups", "presence": nobody's
    switch (cls) {
        case TopicClass::Users: return h.level[1] == user;
        case TopicClass::Groups: return member(identity, h.level[1], user);
        case TopicClass::Presence:
            if (h.count > 2) return h.level[1] == user;  // presence/{u}/devices: only {u}
            return h.level[1] == user || presence_visible(h.level[1], user, identity);
        case TopicClass::Plain: break;
    }
    return true;
}

RuleVerdict rule_subscribe(std::string_view filter, std::string_view user,
                           const Identity* identity) {
    // A filter starting with a wildcard may match any namespace: accepted, and each delivery
    // is checked. A literal first level decides the class as for a topic.
    const TopicClass cls = classify_topic(filter);
    if (cls == TopicClass::Plain) return RuleVerdict::Allowed;
    if (user.empty()) return RuleVerdict::Anonymous;
    const Head h = head_of(filter);
    // "users" alone or "users/+/...": names nobody in particular.
    if (h.count < 2 || is_wildcard(h.level[1])) return RuleVerdict::Allowed;
    const std::string_view who = h.level[1];
    switch (cls) {
        case TopicClass::Users: return who == user ? RuleVerdict::Allowed : RuleVerdict::NotOwner;
        case TopicClass::Groups:
            return member(identity, who, user) ? RuleVerdict::Allowed : RuleVerdict::NotMember;
        case TopicClass::Presence:
            if (who == user) return RuleVerdict::Allowed;
            // presence/{u} or presence/{u}/#: may match presence/{u}, which others may see
            // (the devices below are filtered at delivery). presence/{u}/+ or .../devices
            // match only what {u} alone may read.
            if (h.count == 2 || (h.count == 3 && h.level[2] == "#"))
                return presence_visible(who, user, identity) ? RuleVerdict::Allowed
                                                             : RuleVerdict::NotOwner;
            return RuleVerdict::NotOwner;
        case TopicClass::Plain: break;
    }
    return RuleVerdict::Allowed;
}

}  // namespace herald::core
