// Driving a Broker without sockets in unit tests: a fake Connection that collects output, a
// manual Clock, a connected test client (Peer) that decodes what it was sent, packet makers.
// (broker_test.cpp has its own copy of these from before this header; new tests use this one.)
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/core/broker.h"
#include "broker/mqtt/codec.h"

namespace herald::core::test {

class FakeConnection final : public Connection {
public:
    std::string& output() override { return out; }
    size_t pending_output_bytes() const override { return out.size(); }
    void close() override { closed = true; }
    const std::string& peer() const override { return peer_; }
    const char* transport() const override { return "test"; }

    std::string out;
    bool closed = false;
    std::string peer_ = "127.0.0.1:1";
};

class ManualClock final : public Clock {
public:
    uint64_t mono_ms() const override { return now; }
    uint64_t wall_ms() const override { return 1700000000000 + now; }
    uint64_t now = 1000;
};

// One test client: its connection, its Client*, and its decoded output.
struct Peer {
    Broker& broker;
    mqtt::ProtocolVersion version;
    FakeConnection conn;
    Client* client = nullptr;
    bool gone = false;
    std::vector<mqtt::Packet> early;  // read by connect() after the CONNACK; take() returns them first

    Peer(Broker& b, mqtt::ProtocolVersion v) : broker(b), version(v) { client = broker.on_open(conn); }
    ~Peer() { end(); }
    void end() {  // the connection is gone (network loss unless a DISCONNECT was sent)
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
            auto r = mqtt::decode({reinterpret_cast<const uint8_t*>(conn.out.data()) + i, end - i}, version);
            REQUIRE_MESSAGE(r.ok, r.error.message);
            packets.push_back(std::move(r.packet));
            i = end;
        }
        conn.out.clear();
        return packets;
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

inline void subscribe(Peer& p, const std::string& filter, uint8_t qos) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({filter, {qos}});
    p.send(s);
    auto out = p.take();
    REQUIRE(!out.empty());
    REQUIRE(std::holds_alternative<mqtt::Suback>(out[0]));
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
