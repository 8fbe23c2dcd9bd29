// A Client: the protocol state of one network connection (as opposed to the Session, which
// may outlive it). Created by Broker::on_open(), freed only in Broker::on_closed().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/core/connection.h"
#include "broker/mqtt/packets.h"

namespace herald::core {

class Session;

enum class ClientState : uint8_t {
    AwaitConnect,  // accepted; the first packet must be CONNECT [MQTT-3.1.0-1]
    Active,        // CONNECT accepted, attached to a Session; normal traffic
    Closing,       // Connection::close() requested; further frames are ignored
};

class Client {
public:
    Client(uint64_t serial_, Connection& conn_) : serial(serial_), conn(conn_) {}

    const uint64_t serial;  // key in Impl::clients_ and in timers (never reused)
    Connection& conn;
    ClientState state = ClientState::AwaitConnect;

    mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V311;
    bool connect_seen = false;  // version is known (CONNECT decoded)
    std::string client_id;
    std::optional<std::string> username;
    Session* session = nullptr;  // set while Active (cleared on takeover)

    uint16_t keep_alive = 0;  // seconds, as negotiated (0 = none)
    uint64_t last_packet_ms = 0;

    // What the client told us about itself (5.0 CONNECT properties).
    uint16_t receive_maximum = 65535;  // its inflight window towards it
    uint32_t maximum_packet_size = 0;  // 0 = no limit
    uint16_t topic_alias_maximum = 0;  // aliases we may use towards it
    bool request_problem_information = true;
    bool connect_expiry_zero = true;  // CONNECT Session Expiry Interval was 0 (5.0)

    // Topic aliases: inbound (the client's, up to the limit we advertised at CONNECT) and
    // outbound (ours, per connection, never across a reconnect).
    uint16_t alias_limit_in = 0;
    std::vector<std::string> aliases_in;  // index = alias; grown on first use
    std::unordered_map<std::string, uint16_t> aliases_out;

    std::optional<mqtt::Will> will;
    bool publish_will_on_close = true;  // false after a normal DISCONNECT or a server shutdown
    std::string end_reason = "closed its connection";  // for the one disconnect log line

    bool v5() const { return version == mqtt::ProtocolVersion::V5; }
};

}  // namespace herald::core
