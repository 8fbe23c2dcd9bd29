// Core with an Identity and a ControlHandler plugged in, without sockets: CONNECT waiting for
// a verdict (AwaitAuth) and the packets held meanwhile, the user-id rules, and the
// `$CONTROL/herald/v1` round trip to admins. Fakes stand for heraldd's implementations.
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/core/broker.h"
#include "broker/mqtt/codec.h"
#include "tests/unit/broker_test_util.h"

using namespace herald;
using core::Broker;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;
using core::test::ManualClock;
using core::test::Peer;
using core::test::make_publish;

namespace {

// Answers anonymous clients at once (allowed), keeps the others' callbacks for the test.
class FakeIdentity final : public core::Identity {
public:
    struct Call {
        core::Credentials who;
        std::function<void(core::Verdict)> done;
    };
    std::vector<Call> calls;
    void authenticate_in_loop(core::Credentials who, std::function<void(core::Verdict)> done) override {
        if (!who.username) return done(core::Verdict{});
        calls.push_back(Call{std::move(who), std::move(done)});
    }
    bool is_group_member(std::string_view, std::string_view) const override { return false; }
};

class FakeControl final : public core::ControlHandler {
public:
    std::vector<core::ControlCaller> callers;
    std::vector<std::string> payloads;
    std::vector<std::function<void(std::string)>> replies;
    void handle_in_loop(const core::ControlCaller& caller, std::string payload,
                        std::function<void(std::string)> reply) override {
        callers.push_back(caller);
        payloads.push_back(std::move(payload));
        replies.push_back(std::move(reply));
    }
};

mqtt::Connect make_connect(const std::string& id, std::optional<std::string> user = std::nullopt,
                           ProtocolVersion v = ProtocolVersion::V5) {
    mqtt::Connect c;
    c.version = v;
    c.client_id = id;
    c.clean_start = true;
    c.keep_alive = 60;
    c.username = std::move(user);
    if (c.username) c.password = "pw";
    return c;
}

mqtt::Subscribe make_subscribe(const std::string& filter, uint8_t qos, uint16_t id = 1) {
    mqtt::Subscribe s;
    s.packet_id = id;
    s.subscriptions.push_back({filter, {qos}});
    return s;
}

struct Fixture {
    core::Config config;
    core::MemoryStore store;
    ManualClock clock;
    FakeIdentity identity;
    FakeControl control;
    std::unique_ptr<Broker> broker;
    Fixture() {
        spdlog::set_level(spdlog::level::warn);
        config.allow_anonymous = true;
        config.sys_interval = 0;
        broker = std::make_unique<Broker>(config, store, clock);
        broker->set_identity(&identity);
        broker->set_control_handler(&control);
    }
    // Connects `id` as `user` and has the identity accept it (admin or not).
    std::unique_ptr<Peer> login(const std::string& id, const std::string& user, bool admin,
                                ProtocolVersion v = ProtocolVersion::V5) {
        auto p = std::make_unique<Peer>(*broker, v);
        p->send(make_connect(id, user, v));
        REQUIRE(identity.calls.size() == 1);
        auto call = std::move(identity.calls.back());
        identity.calls.clear();
        call.done(core::Verdict{ReasonCode::Success, admin, {}});
        auto out = p->take();
        REQUIRE(out.size() == 1);
        REQUIRE(std::get<mqtt::Connack>(out[0]).reason == ReasonCode::Success);
        return p;
    }
};

}  // namespace

TEST_CASE("SPEC2 an anonymous client is answered at once, without a pending state") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    p.send(make_connect("anon"));
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Connack>(out[0]).reason == ReasonCode::Success);
    CHECK(f.identity.calls.empty());
}

TEST_CASE("SPEC2 packets sent while the verdict is pending are processed in order after CONNACK") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    p.send(make_connect("c1", "alice"));
    REQUIRE(f.identity.calls.size() == 1);
    CHECK(*f.identity.calls[0].who.username == "alice");
    CHECK(*f.identity.calls[0].who.password == "pw");
    CHECK(f.identity.calls[0].who.client_id == "c1");
    p.send(make_subscribe("t/#", 1));
    p.send(make_publish("t/a", "one", 1, 7));
    p.send(make_publish("t/b", "two"));
    CHECK(p.conn.out.empty());  // nothing before the CONNACK

    f.identity.calls[0].done(core::Verdict{});
    auto out = p.take();
    REQUIRE(out.size() == 5);
    CHECK(std::holds_alternative<mqtt::Connack>(out[0]));
    CHECK(std::holds_alternative<mqtt::Suback>(out[1]));
    // The QoS 1 publish is delivered back (own subscription) and acked; then the QoS 0 one.
    std::vector<std::string> payloads;
    for (auto& pkt : out)
        if (auto* m = std::get_if<mqtt::Publish>(&pkt)) payloads.push_back(*m->payload);
    CHECK(payloads == std::vector<std::string>{"one", "two"});
}

TEST_CASE("SPEC2 a refused verdict: CONNACK with its reason (Banned -> 3.1.1 0x05), held packets dropped") {
    for (auto v : {ProtocolVersion::V5, ProtocolVersion::V311}) {
        Fixture f;
        auto watcher = f.login("w", "watcher", false);
        watcher->send(make_subscribe("t/#", 0));
        watcher->take();
        Peer p(*f.broker, v);
        p.send(make_connect("c1", "bob", v));
        p.send(make_publish("t/x", "leak"));
        f.identity.calls.at(0).done(core::Verdict{ReasonCode::Banned, false, "banned"});
        CHECK(p.conn.closed);
        REQUIRE(p.conn.out.size() >= 4);
        CHECK(uint8_t(p.conn.out[3]) == (v == ProtocolVersion::V5 ? 0x8A : 0x05));
        CHECK(watcher->take().empty());
    }
}

TEST_CASE("SPEC2 a client gone before its verdict: the late verdict is dropped") {
    Fixture f;
    auto p = std::make_unique<Peer>(*f.broker, ProtocolVersion::V5);
    p->send(make_connect("c1", "alice"));
    p->end();
    p.reset();
    // A new client takes the same slot; the old verdict must not touch it.
    Peer q(*f.broker, ProtocolVersion::V5);
    f.identity.calls.at(0).done(core::Verdict{});
    CHECK(q.conn.out.empty());
    CHECK(f.broker->stats().clients_connected == 0);
}

TEST_CASE("SPEC2 the connect timeout also bounds the wait for a verdict") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    p.send(make_connect("c1", "alice"));
    f.clock.now += f.config.connect_timeout_ms + 1;
    f.broker->on_tick();
    CHECK(p.conn.closed);
    CHECK(p.conn.out.empty());
}

TEST_CASE("SPEC2 a second CONNECT, or too many bytes, while waiting closes the connection") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    p.send(make_connect("c1", "alice"));
    p.send(make_connect("c1", "alice"));
    CHECK(p.conn.closed);

    Peer q(*f.broker, ProtocolVersion::V5);
    q.send(make_connect("c2", "alice"));
    const std::string big(200 * 1024, 'x');
    for (int i = 0; i < 8 && !q.conn.closed; ++i) q.send(make_publish("t", big));
    CHECK(q.conn.closed);
    CHECK(q.conn.out.empty());
}

TEST_CASE("SPEC2 user ids that cannot be topic levels are refused with 0x86 (3.1.1 0x04)") {
    for (auto v : {ProtocolVersion::V5, ProtocolVersion::V311}) {
        for (const std::string& user : std::vector<std::string>{"a/b", "$x", "a+b", "a#b", std::string(65, 'u'), ""}) {
            Fixture f;
            Peer p(*f.broker, v);
            p.send(make_connect("c1", user, v));
            CHECK(f.identity.calls.empty());  // refused before anyone checks a password
            CHECK(p.conn.closed);
            REQUIRE(p.conn.out.size() >= 4);
            CHECK(uint8_t(p.conn.out[3]) == (v == ProtocolVersion::V5 ? 0x86 : 0x04));
        }
    }
}

TEST_CASE("SPEC7 $CONTROL: requests go to the handler, answers to admin subscribers only") {
    Fixture f;
    auto admin = f.login("a1", "root", true);
    auto user = f.login("u1", "joe", false);

    admin->send(make_subscribe("$CONTROL/herald/v1/response", 1));
    auto out = admin->take();
    CHECK(std::get<mqtt::Suback>(out.at(0)).reasons == std::vector<ReasonCode>{ReasonCode::GrantedQoS1});
    user->send(make_subscribe("$CONTROL/#", 1));
    out = user->take();
    CHECK(std::get<mqtt::Suback>(out.at(0)).reasons == std::vector<ReasonCode>{ReasonCode::NotAuthorized});

    auto req = make_publish("$CONTROL/herald/v1", "{\"commands\":[]}", 1, 3);
    req.props.correlation_data = std::string("\x01\x02", 2);
    user->send(req);
    out = user->take();
    REQUIRE(out.size() == 1);  // PUBACK 0x00, not routed
    CHECK(std::get<mqtt::Ack>(out[0]).reason == ReasonCode::Success);
    REQUIRE(f.control.callers.size() == 1);
    CHECK(f.control.callers[0].user == "joe");
    CHECK(f.control.callers[0].client_id == "u1");
    CHECK_FALSE(f.control.callers[0].admin);
    CHECK(f.control.payloads[0] == "{\"commands\":[]}");

    user->end();  // the answer still goes out after its requester left
    f.control.replies[0]("{\"responses\":[]}");
    out = admin->take();
    REQUIRE(out.size() == 1);
    auto& m = std::get<mqtt::Publish>(out[0]);
    CHECK(m.topic == "$CONTROL/herald/v1/response");
    CHECK(*m.payload == "{\"responses\":[]}");
    CHECK(m.qos == 1);
    CHECK_FALSE(m.retain);
    CHECK(m.props.correlation_data == std::string("\x01\x02", 2));

    auto admin_req = make_publish("$CONTROL/herald/v1", "x");
    admin->send(admin_req);
    REQUIRE(f.control.callers.size() == 2);
    CHECK(f.control.callers[1].admin);
    // Other $ topics stay closed to clients (5.0 PUBACK 0x87).
    admin->send(make_publish("$CONTROL/other", "x", 1, 4));
    out = admin->take();
    CHECK(std::get<mqtt::Ack>(out.at(0)).reason == ReasonCode::NotAuthorized);
}

TEST_CASE("SPEC7 an answer after the Broker is gone is dropped") {
    auto f = std::make_unique<Fixture>();
    auto a = f->login("a1", "root", true);
    a->send(make_publish("$CONTROL/herald/v1", "x"));
    auto reply = f->control.replies.at(0);
    a->gone = true;  // the broker goes first, as at shutdown
    a.reset();
    f->broker.reset();
    reply("{}");  // must not touch the freed broker
}

TEST_CASE("SPEC2 use_identity_as_username: the certificate's CN replaces the username, no password") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    p.conn.certificate_cn = "alice";
    p.send(make_connect("c-cert", "mallory"));  // claims mallory, with a password
    REQUIRE(f.identity.calls.size() == 1);
    const core::Credentials& who = f.identity.calls[0].who;
    CHECK(*who.username == "alice");
    CHECK_FALSE(who.password);
    CHECK(who.certified);
    f.identity.calls[0].done(core::Verdict{});
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Connack>(out[0]).reason == ReasonCode::Success);
}

TEST_CASE("SPEC2 use_identity_as_username: a CN that breaks the user-id rules is refused") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V311);
    p.conn.certificate_cn = "bad/name";
    p.send(make_connect("c-bad", std::nullopt, ProtocolVersion::V311));
    CHECK(f.identity.calls.empty());
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Connack>(out[0]).reason == ReasonCode::BadUserNameOrPassword);
    CHECK(p.conn.closed);
}

TEST_CASE("SPEC2 without an Identity, a certified client needs no password file entry") {
    core::test::BrokerFixture f;
    f.config.allow_anonymous = false;
    f.broker = std::make_unique<Broker>(f.config, f.store, f.clock);
    Peer p(*f.broker, ProtocolVersion::V5);
    p.conn.certificate_cn = "alice";
    p.send(make_connect("c-core"));
    auto out = p.take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Connack>(out[0]).reason == ReasonCode::Success);
    Peer anonymous(*f.broker, ProtocolVersion::V5);
    anonymous.send(make_connect("c-anon"));
    auto refused = anonymous.take();
    REQUIRE(refused.size() == 1);
    CHECK(std::get<mqtt::Connack>(refused[0]).reason == ReasonCode::NotAuthorized);
}
