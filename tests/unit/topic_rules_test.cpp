// The topic rules of SPEC 3 as pure functions (broker/core/topic_rules.h): publish, read and
// subscribe for users/, groups/ and presence/, with a fake Identity for group membership.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>

#include "broker/core/identity.h"
#include "broker/core/topic_rules.h"

using namespace herald::core;

namespace {

// Members: (group, user) pairs. Connects everybody (nothing else is asked here).
class FakeIdentity final : public Identity {
public:
    std::set<std::pair<std::string, std::string>> members;
    void authenticate_in_loop(Credentials, std::function<void(Verdict)> done) override { done(Verdict{}); }
    bool is_group_member(std::string_view group, std::string_view user) const override {
        return members.count({std::string(group), std::string(user)}) > 0;
    }
};

RuleVerdict pub(std::string_view topic, std::string_view user, const Identity* id = nullptr) {
    return rule_publish(topic, classify_topic(topic), user, id);
}
bool read(std::string_view topic, std::string_view user, const Identity* id = nullptr) {
    return rule_read(topic, classify_topic(topic), user, id);
}
RuleVerdict sub(std::string_view filter, std::string_view user, const Identity* id = nullptr) {
    return rule_subscribe(filter, user, id);
}

constexpr auto OK = RuleVerdict::Allowed;

}  // namespace

TEST_CASE("classify_topic: only an exact first level users / groups / presence is ruled") {
    CHECK(classify_topic("users/bob/alice") == TopicClass::Users);
    CHECK(classify_topic("users") == TopicClass::Users);
    CHECK(classify_topic("users/") == TopicClass::Users);
    CHECK(classify_topic("groups/g/a") == TopicClass::Groups);
    CHECK(classify_topic("presence/bob") == TopicClass::Presence);
    CHECK(classify_topic("usersx/bob/alice") == TopicClass::Plain);
    CHECK(classify_topic("user/bob") == TopicClass::Plain);
    CHECK(classify_topic("Users/bob/alice") == TopicClass::Plain);
    CHECK(classify_topic("bench/1/2") == TopicClass::Plain);
    CHECK(classify_topic("presences/x") == TopicClass::Plain);
    CHECK(classify_topic("pres") == TopicClass::Plain);
    CHECK(classify_topic("+/bob/alice") == TopicClass::Plain);
    CHECK(classify_topic("") == TopicClass::Plain);
}

TEST_CASE("SPEC 3 users/{to}/{from}: only {from} publishes, only {to} reads") {
    CHECK(pub("users/bob/alice", "alice") == OK);
    CHECK(pub("users/bob/alice/thread/7", "alice") == OK);
    CHECK(pub("users/alice/alice", "alice") == OK);  // a note to self
    CHECK(pub("users/carol/bob", "alice") == RuleVerdict::NotSender);
    CHECK(pub("users/bob/alicex", "alice") == RuleVerdict::NotSender);
    CHECK(pub("users/bob", "alice") == RuleVerdict::TooShort);
    CHECK(pub("users/bob/", "alice") == RuleVerdict::NotSender);  // empty {from}
    CHECK(pub("users//alice", "alice") == RuleVerdict::TooShort);  // names no receiver
    CHECK(pub("users", "alice") == RuleVerdict::TooShort);
    CHECK(pub("users/bob/alice", "") == RuleVerdict::Anonymous);

    CHECK(read("users/bob/alice", "bob"));
    CHECK(read("users/bob/alice/x/y", "bob"));
    CHECK_FALSE(read("users/bob/alice", "alice"));
    CHECK_FALSE(read("users/bob/alice", "carol"));
    CHECK_FALSE(read("users/bob/alice", ""));
    CHECK(read("users/bob", "bob"));
    CHECK_FALSE(read("users", "bob"));
}

TEST_CASE("SPEC 3 groups/{g}/{from}: members publish as themselves and read") {
    FakeIdentity id;
    id.members = {{"devs", "alice"}, {"devs", "bob"}, {"ops", "carol"}};
    CHECK(pub("groups/devs/alice", "alice", &id) == OK);
    CHECK(pub("groups/devs/alice/topic", "alice", &id) == OK);
    CHECK(pub("groups/devs/bob", "alice", &id) == RuleVerdict::NotSender);
    CHECK(pub("groups/ops/alice", "alice", &id) == RuleVerdict::NotMember);
    CHECK(pub("groups/devs", "alice", &id) == RuleVerdict::TooShort);
    CHECK(pub("groups//alice", "alice", &id) == RuleVerdict::TooShort);
    CHECK(pub("groups/devs/alice", "", &id) == RuleVerdict::Anonymous);

    CHECK(read("groups/devs/alice", "bob", &id));
    CHECK(read("groups/devs/alice", "alice", &id));
    CHECK(read("groups/devs", "bob", &id));
    CHECK_FALSE(read("groups/devs/alice", "carol", &id));
    CHECK_FALSE(read("groups/devs/alice", "", &id));
    CHECK_FALSE(read("groups", "alice", &id));
}

TEST_CASE("SPEC 3 groups: without an Identity nobody is a member") {
    CHECK(pub("groups/devs/alice", "alice") == RuleVerdict::NotMember);
    CHECK_FALSE(read("groups/devs/alice", "alice"));
    CHECK(sub("groups/devs/#", "alice") == RuleVerdict::NotMember);
    CHECK(sub("groups/+/#", "alice") == OK);  // accepted; each delivery is refused
}

TEST_CASE("SPEC 3/4 presence/{u}: only {u} publishes; presence/{u}/devices: only {u} reads") {
    CHECK(pub("presence/alice", "alice") == OK);
    CHECK(pub("presence/bob", "alice") == RuleVerdict::NotOwner);
    CHECK(pub("presence/alice/devices", "alice") == RuleVerdict::BrokerOnly);
    CHECK(pub("presence/bob/devices", "alice") == RuleVerdict::BrokerOnly);
    CHECK(pub("presence", "alice") == RuleVerdict::TooShort);
    CHECK(pub("presence/", "alice") == RuleVerdict::TooShort);
    CHECK(pub("presence/alice", "") == RuleVerdict::Anonymous);

    CHECK(read("presence/bob", "alice"));  // visibility (SPEC 4) comes with the presence issue
    CHECK(read("presence/bob", "bob"));
    CHECK_FALSE(read("presence/bob", ""));
    CHECK(read("presence/bob/devices", "bob"));
    CHECK_FALSE(read("presence/bob/devices", "alice"));
    CHECK_FALSE(read("presence/bob/devices/x", "alice"));
    CHECK_FALSE(read("presence", "alice"));
}

TEST_CASE("SPEC 3 plain topics are not ruled, for anonymous clients too") {
    CHECK(pub("bench/1/2", "") == OK);
    CHECK(pub("chat/users/bob", "alice") == OK);
    CHECK(read("bench/1/2", ""));
    CHECK(sub("bench/#", "") == OK);
    CHECK(sub("chat/users/bob", "alice") == OK);
}

TEST_CASE("SPEC 3 subscribe: a concrete other user or group is refused, wildcards accepted") {
    FakeIdentity id;
    id.members = {{"devs", "bob"}};
    // users/
    CHECK(sub("users/bob/#", "bob") == OK);
    CHECK(sub("users/bob/alice", "bob") == OK);
    CHECK(sub("users/alice/#", "bob") == RuleVerdict::NotOwner);
    CHECK(sub("users/alice/+", "bob") == RuleVerdict::NotOwner);
    CHECK(sub("users/alice/bob", "bob") == RuleVerdict::NotOwner);  // its own sent messages: no
    CHECK(sub("users/+/#", "bob") == OK);
    CHECK(sub("users/#", "bob") == OK);
    CHECK(sub("users/+/bob", "bob") == OK);
    CHECK(sub("users", "bob") == OK);  // names nobody; matches only "users", read by nobody
    CHECK(sub("#", "bob") == OK);
    CHECK(sub("+/+/alice", "bob") == OK);
    CHECK(sub("+/alice/#", "bob") == OK);
    // groups/
    CHECK(sub("groups/devs/#", "bob", &id) == OK);
    CHECK(sub("groups/devs/alice", "bob", &id) == OK);
    CHECK(sub("groups/ops/#", "bob", &id) == RuleVerdict::NotMember);
    CHECK(sub("groups/+/+", "bob", &id) == OK);
    // presence/
    CHECK(sub("presence/+", "alice") == OK);
    CHECK(sub("presence/#", "alice") == OK);
    CHECK(sub("presence/bob", "alice") == OK);
    CHECK(sub("presence/bob/#", "alice") == OK);  // presence/bob itself; devices filtered out
    CHECK(sub("presence/bob/devices", "alice") == RuleVerdict::NotOwner);
    CHECK(sub("presence/bob/+", "alice") == RuleVerdict::NotOwner);
    CHECK(sub("presence/bob/devices", "bob") == OK);
    CHECK(sub("presence/+/devices", "alice") == OK);  // accepted; only alice's delivered
    // Anonymous clients: refused where the namespace is named, filtered where it is not.
    CHECK(sub("users/+/#", "") == RuleVerdict::Anonymous);
    CHECK(sub("presence/+", "") == RuleVerdict::Anonymous);
    CHECK(sub("groups/#", "") == RuleVerdict::Anonymous);
    CHECK(sub("#", "") == OK);
    CHECK(sub("+/bob/#", "") == OK);
}

TEST_CASE("every verdict has a name for the log") {
    for (auto v : {RuleVerdict::Allowed, RuleVerdict::Anonymous, RuleVerdict::TooShort,
                   RuleVerdict::NotSender, RuleVerdict::NotMember, RuleVerdict::NotOwner,
                   RuleVerdict::BrokerOnly})
        CHECK(std::string(rule_verdict_name(v)) != "?");
}
