// PresenceTracker and the presence JSON: the rules of SPEC 4 without a broker (devices, grace,
// takeover, clean and abrupt ends, status, seq, invisible, paging).
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "broker/core/presence_json.h"
#include "broker/core/presence_tracker.h"

using namespace herald::core;

namespace {

PresenceDevice device(std::string id, uint8_t protocol = 5) {
    return PresenceDevice{std::move(id), "tcp", protocol, 1000};
}

nlohmann::json record(const PresenceTracker& t, const std::string& user) {
    return nlohmann::json::parse(presence_record_json(user, *t.find(user)));
}

// What the broker does with a change (presence.cpp): a record is published, and given the
// next seq, only when what others see changed. True when published.
bool publish(PresenceTracker& t, const std::string& user, PresenceChange change) {
    if (!change.record) return false;
    return t.take_public(user, std::hash<std::string>{}(presence_record_json(user, *t.find(user), false)));
}

}  // namespace

TEST_CASE("presence: first device online, last clean disconnect offline at once") {
    PresenceTracker t;
    auto c = t.connected("alice", device("phone"), 100);
    CHECK(c.devices);
    CHECK(publish(t, "alice", c));
    CHECK(t.online_users() == 1);
    CHECK(t.find("alice")->seq == 1);
    c = t.connected("alice", device("laptop"), 200);
    CHECK(c.devices);
    CHECK(publish(t, "alice", c));  // "devices": 2
    CHECK(record(t, "alice")["devices"] == 2);
    c = t.disconnected("alice", "phone", /*clean=*/false, 5000, 10, 300);
    CHECK(c.devices);  // one device left: still online, one device fewer
    CHECK(publish(t, "alice", c));
    CHECK(record(t, "alice")["state"] == "online");
    c = t.disconnected("alice", "laptop", /*clean=*/true, 5000, 20, 400);
    CHECK(publish(t, "alice", c));
    CHECK(t.online_users() == 0);
    const UserPresence& p = *t.find("alice");
    CHECK(p.seq == 4);
    CHECK(p.last_seen_ms == 400);
    CHECK(p.devices.empty());
    CHECK(presence_record_json("alice", p).rfind(R"({"user":"alice","state":"offline","status":)", 0) == 0);
    auto j = record(t, "alice");
    CHECK(j["state"] == "offline");
    CHECK(j["last_seen"] == 400);
    CHECK(j["seq"] == 4);
}

TEST_CASE("presence: abrupt loss of the last device waits for the grace period") {
    PresenceTracker t;
    publish(t, "bob", t.connected("bob", device("phone"), 100));
    auto c = t.disconnected("bob", "phone", false, 5000, 1000, 200);
    CHECK_FALSE(c.any());
    CHECK(t.next_deadline() == 6000);
    CHECK(t.expire(5999, 300).empty());
    CHECK(t.online_users() == 1);
    auto gone = t.expire(6000, 400);
    REQUIRE(gone.size() == 1);
    CHECK(gone[0] == "bob");
    CHECK(t.online_users() == 0);
    CHECK(publish(t, "bob", PresenceChange{true, true}));
    CHECK(t.find("bob")->seq == 2);
    CHECK(t.find("bob")->last_seen_ms == 400);
    CHECK_FALSE(t.next_deadline());
}

TEST_CASE("presence: ten flaps within grace change nothing") {
    PresenceTracker t;
    publish(t, "carol", t.connected("carol", device("phone"), 100));
    const uint64_t seq = t.find("carol")->seq;
    uint64_t now = 1000;
    for (int i = 0; i < 10; ++i) {
        CHECK_FALSE(t.disconnected("carol", "phone", false, 5000, now, now).any());
        now += 3000;
        CHECK(t.expire(now, now).empty());
        CHECK_FALSE(t.connected("carol", device("phone"), now).any());
        now += 3000;
    }
    CHECK(t.find("carol")->seq == seq);
    CHECK(t.expire(now + 100000, now).empty());  // the cancelled deadlines are gone
}

TEST_CASE("presence: another device coming back within grace changes only the device list") {
    PresenceTracker t;
    t.connected("dan", device("phone"), 100);
    t.disconnected("dan", "phone", false, 5000, 1000, 200);
    auto c = t.connected("dan", device("laptop"), 300);
    CHECK_FALSE(c.record);  // still one device
    CHECK(c.devices);
    REQUIRE(t.find("dan")->devices.size() == 1);
    CHECK(t.find("dan")->devices[0].client_id == "laptop");
    CHECK(t.expire(100000, 400).empty());
}

TEST_CASE("presence: clean end during grace goes offline at once") {
    PresenceTracker t;
    t.connected("erin", device("phone"), 100);
    t.disconnected("erin", "phone", false, 5000, 1000, 200);
    auto c = t.disconnected("erin", "phone", true, 5000, 1100, 300);
    CHECK(c.record);
    CHECK(t.online_users() == 0);
    CHECK(t.expire(100000, 400).empty());
}

TEST_CASE("presence: takeover by the same client id is not a change") {
    PresenceTracker t;
    t.connected("fay", device("phone", 5), 100);
    auto c = t.connected("fay", device("phone", 5), 200);
    CHECK_FALSE(c.any());
    CHECK(t.find("fay")->devices.size() == 1);
    CHECK(t.find("fay")->devices[0].since_ms == 1000);
    c = t.connected("fay", device("phone", 4), 300);  // now speaking 3.1.1
    CHECK_FALSE(c.record);
    CHECK(c.devices);
}

TEST_CASE("presence: status and text bump seq; invisible shows offline and hides its moves") {
    PresenceTracker t;
    publish(t, "gus", t.connected("gus", device("phone"), 100));
    auto c = t.set_status("gus", std::string("away"), std::string("In a meeting"), 150);
    CHECK(publish(t, "gus", c));
    CHECK(t.find("gus")->seq == 2);
    CHECK_FALSE(t.set_status("gus", std::string("away"), std::nullopt, 160).any());
    auto j = record(t, "gus");
    CHECK(j["state"] == "online");
    CHECK(j["status"] == "away");
    CHECK(j["text"] == "In a meeting");
    CHECK(j["devices"] == 1);
    CHECK(publish(t, "gus", t.set_status("gus", std::string("invisible"), std::nullopt, 200)));
    j = record(t, "gus");
    CHECK(j["state"] == "offline");
    CHECK(j["status"] == "available");
    CHECK(j["text"] == "");
    CHECK(j["devices"] == 0);
    CHECK(j["since"] == 200);
    CHECK(j["last_seen"] == 200);  // like a user who left at 200
    CHECK(j["seq"] == 3);
    // While invisible: a text change, another device, leaving: others see nothing new.
    CHECK_FALSE(publish(t, "gus", t.set_status("gus", std::nullopt, std::string("secret"), 300)));
    CHECK_FALSE(publish(t, "gus", t.connected("gus", device("laptop"), 400)));
    CHECK_FALSE(publish(t, "gus", t.disconnected("gus", "laptop", true, 0, 1, 500)));
    CHECK_FALSE(publish(t, "gus", t.disconnected("gus", "phone", true, 0, 1, 600)));
    CHECK(t.find("gus")->seq == 3);
    CHECK(record(t, "gus")["last_seen"] == 200);
    // Coming back visible while online shows online from now.
    publish(t, "gus", t.connected("gus", device("phone"), 700));
    CHECK(publish(t, "gus", t.set_status("gus", std::string("busy"), std::nullopt, 800)));
    j = record(t, "gus");
    CHECK(j["state"] == "online");
    CHECK(j["since"] == 800);
    CHECK(j["seq"] == 4);
}

TEST_CASE("presence: restore carries seq and last seen over a restart") {
    PresenceTracker t;
    t.restore("hal", 41, 12345, "busy", "coding");
    auto j = record(t, "hal");
    CHECK(j["state"] == "offline");
    CHECK(j["seq"] == 41);
    CHECK(j["last_seen"] == 12345);
    CHECK(publish(t, "hal", t.connected("hal", device("phone"), 20000)));
    j = record(t, "hal");
    CHECK(j["seq"] == 42);
    CHECK(j["status"] == "busy");
    CHECK(j["since"] == 20000);
}

TEST_CASE("presence: list_online pages in name order") {
    PresenceTracker t;
    for (const char* u : {"d", "b", "a", "c", "e"}) t.connected(u, device("x"), 1);
    t.disconnected("c", "x", true, 0, 1, 2);
    auto page = t.list_online("", 2);
    CHECK(page == std::vector<std::string>{"a", "b"});
    page = t.list_online("b", 2);
    CHECK(page == std::vector<std::string>{"d", "e"});
    CHECK(t.list_online("e", 2).empty());
}

TEST_CASE("presence: devices JSON lists client id, transport, protocol, since") {
    PresenceTracker t;
    t.connected("ivy", PresenceDevice{"phone", "ws", 4, 77}, 1);
    auto j = nlohmann::json::parse(presence_devices_json("ivy", *t.find("ivy")));
    REQUIRE(j["devices"].size() == 1);
    CHECK(j["devices"][0]["client_id"] == "phone");
    CHECK(j["devices"][0]["transport"] == "ws");
    CHECK(j["devices"][0]["protocol"] == 4);
    CHECK(j["devices"][0]["since"] == 77);
}

TEST_CASE("presence: status updates are validated") {
    StatusUpdate u;
    std::string error;
    CHECK(parse_status_update(R"({"status":"away","text":"lunch"})", u, error));
    CHECK(u.status == "away");
    CHECK(u.text == "lunch");
    for (const char* bad : {"", "[]", "not json", R"({"status":"sleeping"})", R"({"status":3})",
                            R"({"text":5})", R"({})", R"({"status":"away","mood":"ok"})",
                            "{\"text\":\"\xff\"}"}) {
        StatusUpdate v;
        error.clear();
        CHECK_MESSAGE(!parse_status_update(bad, v, error), bad);
        CHECK_FALSE(error.empty());
    }
    StatusUpdate v;
    CHECK_FALSE(parse_status_update("{\"text\":\"" + std::string(257, 'x') + "\"}", v, error));
}
