// The topic rules of SPEC 3: who may publish to and read `users/...`, `groups/...` and
// `presence/...`, whatever the config ACL says (both must allow).
//
//   users/{to}/{from}[/...]    publish: only {from}             read: only {to}
//   groups/{g}/{from}[/...]    publish: members, as themselves  read: members of {g}
//   presence/{u}               publish: only {u}                read: those who may see {u}
//   presence/{u}/{x}[/...]     publish: nobody (the broker)     read: only {u}
//
// A topic is in a namespace when its first level is exactly "users", "groups" or "presence";
// a topic with fewer levels than its rule needs ("users/bob") is refused for publishing.
// Anonymous clients (no or empty username) may neither publish nor read in these namespaces.
//
// Pure functions, no broker state: the caller says who asks (the username, "" = anonymous)
// and hands in the Identity that knows group membership (null: nobody is a member). The
// topic is classified once per message (classify_topic: a first-byte test for every topic
// outside the namespaces), so the per-receiver check costs nothing for plain topics.
#pragma once

#include <cstdint>
#include <string_view>

namespace herald::core {

class Identity;

enum class TopicClass : uint8_t {
    Plain,     // not ours: only the config ACL applies
    Users,     // users/...
    Groups,    // groups/...
    Presence,  // presence/...
};

namespace detail {
inline bool first_level_is(std::string_view topic, std::string_view name) {
    return topic.starts_with(name) && (topic.size() == name.size() || topic[name.size()] == '/');
}
}  // namespace detail

// The class of a topic name (or of a filter whose first level is not a wildcard). Inline: it
// runs once per routed message.
inline TopicClass classify_topic(std::string_view topic) {
    if (topic.empty()) return TopicClass::Plain;
    switch (topic[0]) {
        case 'u': return detail::first_level_is(topic, "users") ? TopicClass::Users : TopicClass::Plain;
        case 'g': return detail::first_level_is(topic, "groups") ? TopicClass::Groups : TopicClass::Plain;
        case 'p':
            return detail::first_level_is(topic, "presence") ? TopicClass::Presence : TopicClass::Plain;
        default: return TopicClass::Plain;
    }
}

// Why a publish or a subscription is refused (Allowed when it is not), for the log line.
enum class RuleVerdict : uint8_t {
    Allowed,
    Anonymous,   // no username: these namespaces are for users
    TooShort,    // fewer levels than the rule needs, or an empty user / group level
    NotSender,   // {from} is not the publisher's username
    NotMember,   // not a member of {g}
    NotOwner,    // another user's presence / inbox / devices
    BrokerOnly,  // presence/{u}/... is written by the broker only
};

const char* rule_verdict_name(RuleVerdict v);

// May `user` publish to topic name `topic` (class `cls` = classify_topic(topic))?
RuleVerdict rule_publish(std::string_view topic, TopicClass cls, std::string_view user,
                         const Identity* identity);

// May `user` receive a message on topic name `topic`? Asked at every delivery, retained
// messages sent at SUBSCRIBE included.
bool rule_read(std::string_view topic, TopicClass cls, std::string_view user,
               const Identity* identity);

// May `user` subscribe to `filter` (without any "$share/{g}/" prefix)? A filter that names a
// concrete other user or group in a ruled position is refused; one with wildcards there
// ("users/+/#", "#", "+/+/alice") is accepted, and rule_read filters each delivery.
RuleVerdict rule_subscribe(std::string_view filter, std::string_view user,
                           const Identity* identity);

}  // namespace herald::core
