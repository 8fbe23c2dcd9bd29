// The topic rules of SPEC 3 inside the broker: refused PUBLISH (5.0 0x87, 3.1.1 dropped),
// refused SUBSCRIBE, per-delivery filtering of wildcard subscriptions (live and retained),
// wills, and group membership from a fake Identity.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>

#include "broker/core/identity.h"
#include "tests/unit/broker_test_util.h"

using namespace herald;
using namespace herald::core::test;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

namespace {

class FakeIdentity final : public core::Identity {
public:
    std::set<std::pair<std::string, std::string>> members;
    void authenticate_in_loop(core::Credentials, std::function<void(core::Verdict)> done) override {
        done(core::Verdict{});
    }
    bool is_group_member(std::string_view group, std::string_view user) const override {
        return members.count({std::string(group), std::string(user)}) > 0;
    }
};

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("SPEC 3: publishing as another user is refused (5.0 PUBACK 0x87, 3.1.1 dropped)") {
    BrokerFixture f;
    auto carol = connect(*f.broker, "carol-1", "carol");
    CHECK(subscribe(*carol, "users/carol/#") == ReasonCode::GrantedQoS1);
    auto alice5 = connect(*f.broker, "alice-5", "alice");
    auto alice3 = connect(*f.broker, "alice-3", "alice", ProtocolVersion::V311);
    CHECK(publish(*alice5, "users/carol/bob", "forged") == ReasonCode::NotAuthorized);
    CHECK(publish(*alice3, "users/carol/bob", "forged") == ReasonCode::Success);  // no way to say no
    CHECK(publish(*alice5, "users/carol", "short") == ReasonCode::NotAuthorized);
    CHECK(carol->publishes().empty());
    CHECK(f.broker->stats().publish_dropped == 3);
    CHECK(publish(*alice5, "users/carol/alice", "hi") == ReasonCode::Success);
    CHECK(carol->publishes() == Lines{"users/carol/alice hi"});
}

// The lines without the broker's presence records (SPEC 4), which `#` also matches.
Lines without_presence(Lines lines) {
    std::erase_if(lines, [](const std::string& l) { return l.rfind("presence/", 0) == 0; });
    return lines;
}

TEST_CASE("SPEC 3: another user's inbox is refused at SUBSCRIBE; wildcards see only one's own") {
    BrokerFixture f;
    auto alice = connect(*f.broker, "alice-1", "alice");
    // Retained before bob subscribes: sent at SUBSCRIBE through the same check.
    CHECK(publish(*alice, "users/alice/alice", "note", 1, true) == ReasonCode::NoMatchingSubscribers);
    CHECK(publish(*alice, "users/bob/alice", "kept for bob", 1, true) ==
          ReasonCode::NoMatchingSubscribers);
    auto bob = connect(*f.broker, "bob-1", "bob");
    auto bob3 = connect(*f.broker, "bob-3", "bob", ProtocolVersion::V311);
    CHECK(subscribe(*bob, "users/alice/#") == ReasonCode::NotAuthorized);
    CHECK(uint8_t(subscribe(*bob3, "users/alice/#")) == 0x80);  // 3.1.1 Failure
    CHECK(subscribe(*bob, "users/+/#") == ReasonCode::GrantedQoS1);
    CHECK(bob->publishes() == Lines{"users/bob/alice kept for bob"});
    CHECK(subscribe(*bob3, "#") == ReasonCode::GrantedQoS1);
    CHECK(without_presence(bob3->publishes()) == Lines{"users/bob/alice kept for bob"});

    // Shared subscriptions: the filter after "$share/{group}/" is what is checked.
    auto bob_shared = connect(*f.broker, "bob-shared", "bob");
    CHECK(subscribe(*bob_shared, "$share/g/users/alice/#") == ReasonCode::NotAuthorized);
    CHECK(subscribe(*bob_shared, "$share/g/users/+/#") == ReasonCode::GrantedQoS1);

    CHECK(publish(*alice, "users/alice/alice", "live note") == ReasonCode::NoMatchingSubscribers);
    CHECK(publish(*alice, "users/bob/alice", "live") == ReasonCode::Success);
    CHECK(bob->publishes() == Lines{"users/bob/alice live"});
    CHECK(without_presence(bob3->publishes()) == Lines{"users/bob/alice live"});
    CHECK(bob_shared->publishes() == Lines{"users/bob/alice live"});
}

TEST_CASE("SPEC 3: presence/{u} only by {u}; presence/{u}/devices by nobody, read only by {u}") {
    BrokerFixture f;
    auto alice = connect(*f.broker, "alice-1", "alice");
    auto bob = connect(*f.broker, "bob-1", "bob");
    CHECK(subscribe(*alice, "presence/#") == ReasonCode::GrantedQoS1);
    CHECK(subscribe(*alice, "presence/bob/devices") == ReasonCode::NotAuthorized);
    CHECK(subscribe(*bob, "presence/bob/devices") == ReasonCode::GrantedQoS1);
    CHECK(publish(*bob, "presence/bob/devices", "[]") == ReasonCode::NotAuthorized);
    CHECK(publish(*alice, "presence/bob", "{}") == ReasonCode::NotAuthorized);
    CHECK(publish(*bob, "presence/bob", "{\"status\":\"away\"}") == ReasonCode::Success);
    // alice (her earlier output was taken by her own publish): bob's record with the status
    // merged in by the broker (SPEC 4).
    Lines seen = alice->publishes();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].rfind("presence/bob {", 0) == 0);
    CHECK(seen[0].find("\"status\":\"away\"") != std::string::npos);
    CHECK(bob->publishes().empty());  // a status change is not a device change
}

TEST_CASE("SPEC 3: anonymous clients may not publish to or read the ruled namespaces") {
    BrokerFixture f;
    auto anon = connect(*f.broker, "anon", std::nullopt);
    auto bob = connect(*f.broker, "bob-1", "bob");
    CHECK(subscribe(*bob, "users/bob/#") == ReasonCode::GrantedQoS1);
    CHECK(publish(*anon, "users/bob/anon", "x") == ReasonCode::NotAuthorized);
    CHECK(publish(*anon, "presence/anon", "x") == ReasonCode::NotAuthorized);
    CHECK(subscribe(*anon, "users/+/#") == ReasonCode::NotAuthorized);
    CHECK(subscribe(*anon, "presence/+") == ReasonCode::NotAuthorized);
    CHECK(subscribe(*anon, "#") == ReasonCode::GrantedQoS1);
    auto alice = connect(*f.broker, "alice-1", "alice");
    CHECK(publish(*alice, "users/bob/alice", "hi") == ReasonCode::Success);
    CHECK(publish(*alice, "plain/topic", "for all") == ReasonCode::Success);
    CHECK(anon->publishes() == Lines{"plain/topic for all"});
    CHECK(bob->publishes() == Lines{"users/bob/alice hi"});
}

TEST_CASE("SPEC 3: groups need membership (Identity); without one nobody is a member") {
    SUBCASE("no Identity") {
        BrokerFixture f;
        auto alice = connect(*f.broker, "alice-1", "alice");
        CHECK(subscribe(*alice, "groups/devs/#") == ReasonCode::NotAuthorized);
        CHECK(subscribe(*alice, "groups/+/#") == ReasonCode::GrantedQoS1);
        CHECK(publish(*alice, "groups/devs/alice", "hi") == ReasonCode::NotAuthorized);
        CHECK(alice->publishes().empty());
    }
    SUBCASE("members publish as themselves and read; others do not") {
        BrokerFixture f;
        FakeIdentity id;
        id.members = {{"devs", "alice"}, {"devs", "bob"}};
        f.broker->set_identity(&id);
        auto alice = connect(*f.broker, "alice-1", "alice");
        auto bob = connect(*f.broker, "bob-1", "bob");
        auto carol = connect(*f.broker, "carol-1", "carol");
        CHECK(subscribe(*bob, "groups/devs/#") == ReasonCode::GrantedQoS1);
        CHECK(subscribe(*carol, "groups/devs/#") == ReasonCode::NotAuthorized);
        CHECK(subscribe(*carol, "groups/#") == ReasonCode::GrantedQoS1);
        CHECK(publish(*alice, "groups/devs/bob", "forged") == ReasonCode::NotAuthorized);
        CHECK(publish(*carol, "groups/devs/carol", "intruder") == ReasonCode::NotAuthorized);
        CHECK(publish(*alice, "groups/devs/alice", "hi devs") == ReasonCode::Success);
        CHECK(bob->publishes() == Lines{"groups/devs/alice hi devs"});
        CHECK(carol->publishes().empty());
        // Membership is asked at each delivery: bob leaves, he gets no more.
        id.members.erase({"devs", "bob"});
        CHECK(publish(*alice, "groups/devs/alice", "again") == ReasonCode::NoMatchingSubscribers);
        CHECK(bob->publishes().empty());
    }
}

TEST_CASE("SPEC 3: a will to another user's inbox is not published") {
    BrokerFixture f;
    auto carol = connect(*f.broker, "carol-1", "carol");
    CHECK(subscribe(*carol, "users/carol/#") == ReasonCode::GrantedQoS1);
    {
        mqtt::Will w;
        w.topic = "users/carol/bob";
        w.payload = "forged will";
        auto alice = connect(*f.broker, "alice-1", "alice", ProtocolVersion::V5, w);
    }  // closed without DISCONNECT: the will is due, and refused
    CHECK(carol->publishes().empty());
    {
        mqtt::Will w;
        w.topic = "users/carol/alice";
        w.payload = "alice's will";
        auto alice = connect(*f.broker, "alice-2", "alice", ProtocolVersion::V5, w);
    }
    CHECK(carol->publishes() == Lines{"users/carol/alice alice's will"});
}
