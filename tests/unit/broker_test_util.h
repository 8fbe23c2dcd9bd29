// A Broker without sockets, for unit tests: a fake Connection collects output, a manual Clock
// drives timers, a Peer is one connected test client whose output is decoded packet by packet.
// broker_test.cpp uses the classes; the helper functions below serve the later test files.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/broker.h"
#include "broker/mqtt/codec.h"

namespace herald::core::test {

class FakeConnection final : public Connection {
public:
    std::string& output() override { return out; }
    size_t pending_output_bytes() const override { return out.size() + extra_pending; }
    void close() override { closed = true; }
    const std::string& peer() const override { return peer_; }
    const char* transport() const override { return "test"; }
    std::string_view certificate_identity() const override { return certificate_cn; }

    std::string out;
    std::string certificate_cn;  // as a TLS listener with use_identity_as_username sets it
    size_t extra_pending = 0;  // pretend the kernel holds this much more (slow consumers)
    bool closed = false;
    std::string peer_ = "127.0.0.1:1";
};

class ManualClock final : public Clock {
public:
    uint64_t mono_ms() const override { return now; }
    uint64_t wall_ms() const override { return 1700000000000 + now; }
    uint64_t now = 1000;
};

struct Peer {
    Broker& broker;
    mqtt::ProtocolVersion version;
    FakeConnection conn;
    Client* client = nullptr;
    bool gone = false;
    std::vector<mqtt::Packet> early;  // read by connect() after the CONNACK; take() returns them first

    Peer(Broker& b, mqtt::ProtocolVersion v) : broker(b), version(v) { client = broker.on_open(conn); }
    ~Peer() { end(); }
    // The transport closed (a network loss, unless the client sent DISCONNECT first).
    void end() {
        if (!gone) broker.on_closed(client);
        gone = true;
    }

    void send(const mqtt::Packet& p) {
        std::string bytes;
        mqtt::encode(p, version, bytes);
        broker.on_frame(client, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    }

    // Decodes and removes everything written so far.
    std::vector<mqtt::Packet> take() {
        std::vector<mqtt::Packet> packets = std::move(early);
        early.clear();
        size_t i = 0;
        while (i < conn.out.size()) {
            size_t j = i + 1, len = 0, mult = 1;
            while (true) {
                auto b = static_cast<uint8_t>(conn.out[j++]);
                len += (b & 0x7F) * mult;
                mult *= 128;
                if (!(b & 0x80)) break;
            }
            size_t end = j + len;
            auto r = mqtt::decode({reinterpret_cast<const uint8_t*>(conn.out.data()) + i, end - i},
                                  version);
            REQUIRE_MESSAGE(r.ok, r.error.message);
            packets.push_back(std::move(r.packet));
            i = end;
        }
        conn.out.clear();
        return packets;
    }

    // The PUBLISHes written so far (other packets dropped), as "topic payload" lines.
    std::vector<std::string> publishes() {
        std::vector<std::string> lines;
        for (auto& p : take())
            if (auto* m = std::get_if<mqtt::Publish>(&p)) lines.push_back(m->topic + " " + *m->payload);
        return lines;
    }
};

inline std::unique_ptr<Peer> connect(Broker& b, const std::string& client_id,
                                     std::optional<std::string> username,
                                     mqtt::ProtocolVersion v = mqtt::ProtocolVersion::V5,
                                     std::optional<mqtt::Will> will = std::nullopt) {
    mqtt::Connect c;
    c.version = v;
    c.client_id = client_id;
    c.clean_start = true;
    c.keep_alive = 60;
    c.username = std::move(username);
    c.will = std::move(will);
    auto p = std::make_unique<Peer>(b, v);
    p->send(c);
    auto out = p->take();
    REQUIRE(out.size() == 1);
    REQUIRE(std::holds_alternative<mqtt::Connack>(out[0]));
    REQUIRE(std::get<mqtt::Connack>(out[0]).reason == mqtt::ReasonCode::Success);
    return p;
}

// Subscribes to one filter; returns the SUBACK reason code. Retained messages sent after the
// SUBACK stay in the peer's output.
inline mqtt::ReasonCode subscribe(Peer& p, const std::string& filter, uint8_t qos = 1) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({filter, {qos}});
    p.send(s);
    REQUIRE(p.conn.out.size() >= 2);
    // Decode only the SUBACK, leaving every other packet (presence records, retained
    // messages) in place, in order.
    std::string all = p.conn.out;
    std::vector<mqtt::Packet> out;
    size_t i = 0;
    for (;;) {
        REQUIRE(i < all.size());
        size_t j = i + 1, len = 0, mult = 1;
        while (true) {
            auto b = static_cast<uint8_t>(all[j++]);
            len += (b & 0x7F) * mult;
            mult *= 128;
            if (!(b & 0x80)) break;
        }
        if ((static_cast<uint8_t>(all[i]) >> 4) == 9) {  // SUBACK
            std::vector<mqtt::Packet> early = std::move(p.early);  // not the SUBACK's business
            p.early.clear();
            p.conn.out = all.substr(i, j + len - i);
            out = p.take();
            p.conn.out = all.substr(0, i) + all.substr(j + len);
            p.early = std::move(early);
            break;
        }
        i = j + len;
    }
    REQUIRE(out.size() == 1);
    auto* ack = std::get_if<mqtt::Suback>(&out[0]);
    REQUIRE(ack);
    REQUIRE(ack->reasons.size() == 1);
    return ack->reasons[0];
}

// Publishes; returns the PUBACK reason for QoS 1 (Success for QoS 0).
inline mqtt::ReasonCode publish(Peer& p, const std::string& topic, const std::string& payload,
                                uint8_t qos = 1, bool retain = false) {
    mqtt::Publish m;
    m.topic = topic;
    m.qos = qos;
    m.retain = retain;
    m.packet_id = qos ? 1 : 0;
    m.payload = std::make_shared<const std::string>(payload);
    p.send(m);
    if (qos == 0) return mqtt::ReasonCode::Success;
    for (auto& packet : p.take())  // the sender may also receive its own message: skipped
        if (auto* a = std::get_if<mqtt::Ack>(&packet)) return a->reason;
    FAIL("no PUBACK");
    return mqtt::ReasonCode::UnspecifiedError;
}

struct BrokerFixture {
    Config config;
    MemoryStore store;
    ManualClock clock;
    std::unique_ptr<Broker> broker;
    BrokerFixture() {
        spdlog::set_level(spdlog::level::warn);  // connect/disconnect lines are noise here
        config.allow_anonymous = true;
        config.sys_interval = 0;
        broker = std::make_unique<Broker>(config, store, clock);
    }
};

inline mqtt::Connect make_connect(const std::string& id, mqtt::ProtocolVersion v = mqtt::ProtocolVersion::V5,
                                  bool clean = true, uint32_t session_expiry = 0) {
    mqtt::Connect c;
    c.version = v;
    c.client_id = id;
    c.clean_start = clean;
    c.keep_alive = 60;
    if (session_expiry) c.props.session_expiry_interval = session_expiry;
    return c;
}

// Connects and returns the CONNACK's session present flag in `session_present` (if given).
inline std::unique_ptr<Peer> connect(Broker& b, const mqtt::Connect& c, bool* session_present = nullptr) {
    auto p = std::make_unique<Peer>(b, c.version);
    p->send(c);
    auto out = p->take();
    REQUIRE(!out.empty());
    REQUIRE(std::holds_alternative<mqtt::Connack>(out[0]));
    REQUIRE(std::get<mqtt::Connack>(out[0]).reason == mqtt::ReasonCode::Success);
    if (session_present) *session_present = std::get<mqtt::Connack>(out[0]).session_present;
    // What came after the CONNACK (a resumed session's messages) is for the test to take().
    p->early.assign(std::make_move_iterator(out.begin() + 1), std::make_move_iterator(out.end()));
    return p;
}

inline mqtt::Publish make_publish(const std::string& topic, const std::string& payload, uint8_t qos = 0,
                                  uint16_t id = 0) {
    mqtt::Publish p;
    p.topic = topic;
    p.qos = qos;
    p.packet_id = id;
    p.payload = std::make_shared<const std::string>(payload);
    return p;
}

inline mqtt::Ack make_ack(mqtt::PacketType type, uint16_t id) {
    mqtt::Ack a;
    a.type = type;
    a.packet_id = id;
    return a;
}

}  // namespace herald::core::test
