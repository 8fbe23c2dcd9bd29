// Broker state machines without sockets: a fake Connection collects output, a manual Clock
// drives timers. Test names carry the spec statement they check.
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
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

mqtt::Connect make_connect(const std::string& id, ProtocolVersion v = ProtocolVersion::V5,
                           bool clean = true, uint16_t keep_alive = 60) {
    mqtt::Connect c;
    c.version = v;
    c.client_id = id;
    c.clean_start = clean;
    c.keep_alive = keep_alive;
    return c;
}

std::unique_ptr<Peer> must_connect(Broker& b, const mqtt::Connect& c) {
    auto p = std::make_unique<Peer>(b, c.version);
    p->send(c);
    auto out = p->take();
    REQUIRE(out.size() == 1);
    REQUIRE(std::holds_alternative<mqtt::Connack>(out[0]));
    REQUIRE(std::get<mqtt::Connack>(out[0]).reason == ReasonCode::Success);
    return p;
}

void must_subscribe(Peer& p, const std::string& filter, uint8_t qos, uint32_t id = 0) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({filter, {qos}});
    if (id) s.props.subscription_identifiers.push_back(id);
    p.send(s);
    auto out = p.take();
    REQUIRE(!out.empty());
    REQUIRE(std::holds_alternative<mqtt::Suback>(out[0]));
}


struct Fixture {
    core::Config config;
    core::MemoryStore store;
    ManualClock clock;
    std::unique_ptr<Broker> broker;
    Fixture() {
        spdlog::set_level(spdlog::level::warn);  // connect/disconnect lines are noise here
        config.allow_anonymous = true;
        config.sys_interval = 0;
        broker = std::make_unique<Broker>(config, store, clock);
    }
    void advance(uint64_t ms) {
        clock.now += ms;
        broker->on_tick();
    }
};

}  // namespace

TEST_CASE("[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    p.send(mqtt::Pingreq{});
    CHECK(p.conn.closed);
    CHECK(p.conn.out.empty());
}

TEST_CASE("[MQTT-3.1.0-2] a second CONNECT is a protocol error (DISCONNECT 0x82)") {
    Fixture f;
    auto p = must_connect(*f.broker, make_connect("c1"));
    p->send(make_connect("c1"));
    auto out = p->take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Disconnect>(out[0]).reason == ReasonCode::ProtocolError);
    CHECK(p->conn.closed);
    p->send(mqtt::Pingreq{});  // Closing: ignored
    CHECK(p->take().empty());
}

TEST_CASE("connect timeout closes a connection that sends nothing") {
    Fixture f;
    Peer p(*f.broker, ProtocolVersion::V5);
    f.advance(f.config.connect_timeout_ms - 1);
    CHECK_FALSE(p.conn.closed);
    f.advance(2);
    CHECK(p.conn.closed);
}

TEST_CASE("[MQTT-3.1.2-22] 1.5 x keepalive of silence: DISCONNECT 0x8D; any packet resets it") {
    Fixture f;
    auto p = must_connect(*f.broker, make_connect("k", ProtocolVersion::V5, true, 10));
    f.advance(14000);
    p->send(mqtt::Pingreq{});
    p->take();
    f.advance(14000);
    CHECK_FALSE(p->conn.closed);
    f.advance(1100);
    CHECK(p->conn.closed);
    auto out = p->take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Disconnect>(out[0]).reason == ReasonCode::KeepAliveTimeout);
}

TEST_CASE("[MQTT-3.3.5-1] overlapping subscriptions: one copy at the highest QoS, all ids") {
    Fixture f;
    auto sub = must_connect(*f.broker, make_connect("s"));
    must_subscribe(*sub, "a/+", 0, 1);
    must_subscribe(*sub, "a/#", 1, 2);
    auto pub = must_connect(*f.broker, make_connect("p"));
    pub->send(make_publish("a/b", "x", 2, 7));
    auto out = sub->take();
    REQUIRE(out.size() == 1);
    auto& m = std::get<mqtt::Publish>(out[0]);
    CHECK(m.qos == 1);
    auto ids = m.props.subscription_identifiers;
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<uint32_t>{1, 2});
}

TEST_CASE("[MQTT-3.1.3-9] a delayed will is dropped when the client reconnects in time") {
    Fixture f;
    auto watch = must_connect(*f.broker, make_connect("w"));
    must_subscribe(*watch, "will/#", 1);
    auto c = make_connect("d", ProtocolVersion::V5, false);
    c.props.session_expiry_interval = 100;
    c.will = mqtt::Will{"will/d", "bye", 1, false, {}};
    c.will->props.will_delay_interval = 5;
    auto d = must_connect(*f.broker, c);
    d->end();  // network loss
    f.advance(3000);
    CHECK(watch->take().empty());
    auto again = make_connect("d", ProtocolVersion::V5, false);
    again.props.session_expiry_interval = 100;
    auto d2 = must_connect(*f.broker, again);
    f.advance(5000);
    CHECK(watch->take().empty());

    d2->end();  // no will this time: nothing
    f.advance(6000);
    CHECK(watch->take().empty());
}

TEST_CASE("a will is published after its delay, or when the session ends first") {
    Fixture f;
    auto watch = must_connect(*f.broker, make_connect("w"));
    must_subscribe(*watch, "will/#", 1);
    auto c = make_connect("d", ProtocolVersion::V5, false);
    c.props.session_expiry_interval = 2;  // shorter than the delay
    c.will = mqtt::Will{"will/d", "bye", 1, false, {}};
    c.will->props.will_delay_interval = 60;
    auto d = must_connect(*f.broker, c);
    d->end();
    f.advance(1000);
    CHECK(watch->take().empty());
    f.advance(1100);
    auto out = watch->take();
    REQUIRE(out.size() == 1);
    CHECK(*std::get<mqtt::Publish>(out[0]).payload == "bye");
}

TEST_CASE("a normal DISCONNECT discards the will [MQTT-3.14.4-3]") {
    Fixture f;
    auto watch = must_connect(*f.broker, make_connect("w"));
    must_subscribe(*watch, "will/#", 0);
    auto c = make_connect("d");
    c.will = mqtt::Will{"will/d", "bye", 0, false, {}};
    auto d = must_connect(*f.broker, c);
    d->send(mqtt::Disconnect{});
    CHECK(d->conn.closed);
    d->end();
    CHECK(watch->take().empty());
}

TEST_CASE("session expiry removes the session and its queue") {
    Fixture f;
    auto c = make_connect("p", ProtocolVersion::V5, false);
    c.props.session_expiry_interval = 10;
    {
        auto s = must_connect(*f.broker, c);
        must_subscribe(*s, "q/#", 1);
    }
    auto pub = must_connect(*f.broker, make_connect("pub"));
    pub->send(make_publish("q/1", "held", 1, 1));
    f.advance(5000);
    {
        auto s = std::make_unique<Peer>(*f.broker, ProtocolVersion::V5);
        s->send(c);
        auto out = s->take();
        REQUIRE(out.size() == 2);
        CHECK(std::get<mqtt::Connack>(out[0]).session_present);
        CHECK(*std::get<mqtt::Publish>(out[1]).payload == "held");
        CHECK(std::get<mqtt::Publish>(out[1]).dup == false);
    }
    f.advance(11000);
    auto s = std::make_unique<Peer>(*f.broker, ProtocolVersion::V5);
    s->send(c);
    auto out = s->take();
    REQUIRE(out.size() == 1);
    CHECK_FALSE(std::get<mqtt::Connack>(out[0]).session_present);
}

TEST_CASE("[MQTT-3.3.4-9] never more unacknowledged QoS 1 than the client's Receive Maximum") {
    Fixture f;
    auto c = make_connect("s");
    c.props.receive_maximum = 2;
    auto sub = must_connect(*f.broker, c);
    must_subscribe(*sub, "t", 1);
    auto pub = must_connect(*f.broker, make_connect("p"));
    for (uint16_t i = 1; i <= 5; ++i) pub->send(make_publish("t", std::to_string(i), 1, i));
    auto out = sub->take();
    REQUIRE(out.size() == 2);
    mqtt::Ack ack;
    ack.type = mqtt::PacketType::Puback;
    ack.packet_id = std::get<mqtt::Publish>(out[0]).packet_id;
    sub->send(ack);
    out = sub->take();
    REQUIRE(out.size() == 1);
    CHECK(*std::get<mqtt::Publish>(out[0]).payload == "3");
}

TEST_CASE("slow consumer: QoS 0 dropped, QoS 1 queued until the output drains") {
    Fixture f;
    auto sub = must_connect(*f.broker, make_connect("s"));
    must_subscribe(*sub, "t", 1);
    auto pub = must_connect(*f.broker, make_connect("p"));
    sub->conn.extra_pending = f.config.max_output_buffer + 1;
    pub->send(make_publish("t", "zero", 0));
    pub->send(make_publish("t", "one", 1, 1));
    CHECK(sub->take().empty());
    CHECK(f.broker->stats().publish_dropped == 1);
    sub->conn.extra_pending = 0;
    f.advance(100);
    auto out = sub->take();
    REQUIRE(out.size() == 1);
    CHECK(*std::get<mqtt::Publish>(out[0]).payload == "one");
}

TEST_CASE("[MQTT-3.1.4-3] takeover: the old connection gets DISCONNECT 0x8E") {
    Fixture f;
    auto a = must_connect(*f.broker, make_connect("same"));
    auto b = must_connect(*f.broker, make_connect("same"));
    auto out = a->take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Disconnect>(out[0]).reason == ReasonCode::SessionTakenOver);
    CHECK(a->conn.closed);
    a->end();
    CHECK_FALSE(b->conn.closed);
    b->send(mqtt::Pingreq{});
    CHECK(b->take().size() == 1);
}

TEST_CASE("client ids, usernames and topics with any bytes never break the broker") {
    Fixture f;
    std::string odd("a\0b\x01\xff\n", 6);
    auto c = make_connect(std::string("\x7f\x01", 2));
    auto p = std::make_unique<Peer>(*f.broker, ProtocolVersion::V5);
    p->send(c);
    p->take();
    p->send(make_publish("t/" + odd, "x", 1, 1));  // invalid UTF-8: protocol error
    CHECK(p->conn.closed);
}
