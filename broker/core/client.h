// A Client: the protocol state of one network connection (as opposed to the Session, which
// may outlive it). Created by Broker::on_open(), freed only in Broker::on_closed().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/core/connection.h"
#include "broker/mqtt/packets.h"

namespace herald::core {

class Session;

enum class ClientState : uint8_t {
    AwaitConnect,  // accepted; the first packet must be CONNECT [MQTT-3.1.0-1]
    AwaitAuth,     // CONNECT passed the protocol checks; the Identity is checking who it is
                   // (off the loop). Packets sent meanwhile are held (Impl::awaiting_auth)
                   // and processed in order after the CONNACK.
    Active,        // CONNECT accepted, attached to a Session; normal traffic
    Closing,       // Connection::close() requested; further frames are ignored
};

// Topic aliases: inbound (the client's, up to the limit we advertised at CONNECT) and
// outbound (ours, per connection, never across a reconnect). Allocated on first use.
struct TopicAliases {
    std::vector<std::string> in;  // index = alias; grown on first use
    std::unordered_map<std::string, uint16_t> out;
};

// What few connections use, allocated on first use.
struct ClientRare {
    TopicAliases aliases;
    std::string end_reason;  // for the one disconnect log line, set when we close
    uint32_t held_acks = 0;  // entries of this client in Impl::held_acks (persist_acks.cpp)
};

// Laid out for size (a broker holds one per connection, most of them idle): the will and the
// topic aliases are allocated only when used; the client id and username live in the Session.
// 72 bytes: 80 with glibc's chunk header.
class Client {
public:
    Client(uint32_t serial_, Connection& conn_) : serial(serial_), conn(conn_) {}

    const uint32_t serial;  // with `slot`, the key of this client's timers (wraps after 2^32)
    uint32_t slot = 0;      // index in Impl::client_slots
    Connection& conn;
    Session* session = nullptr;  // set while Active (cleared on takeover)
    uint64_t last_packet_ms = 0;
    // When the pending ConnectTimeout timer fires (0: none). Once Active, that same entry
    // serves as the first keepalive check if it comes first: one heap entry, not two.
    uint64_t connect_deadline_ms = 0;

    std::unique_ptr<mqtt::Will> will;
    std::unique_ptr<ClientRare> rare;  // topic aliases, end reason

    uint32_t maximum_packet_size = 0;  // 0 = no limit (what the client told us, 5.0)
    uint16_t keep_alive = 0;           // seconds, as negotiated (0 = none)
    uint16_t receive_maximum = 65535;  // its inflight window towards it
    uint16_t topic_alias_maximum = 0;  // aliases we may use towards it
    uint16_t alias_limit_in = 0;       // aliases it may use towards us

    ClientState state = ClientState::AwaitConnect;
    mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V311;
    // One byte for the five flags (bit-fields) keeps the Client at 72 bytes.
    bool connect_seen : 1 = false;  // version is known (CONNECT decoded)
    bool request_problem_information : 1 = true;
    bool connect_expiry_zero : 1 = true;    // CONNECT Session Expiry Interval was 0 (5.0)
    bool publish_will_on_close : 1 = true;  // false after a normal DISCONNECT or a shutdown
    bool topic_rule_logged : 1 = false;     // a topic-rule refusal was logged at info
    bool presence_clean_end : 1 = false;    // kicked or replaced: offline without grace
    bool acks_held : 1 = false;  // an ack to it waits for a commit: later acks queue behind

    bool v5() const { return version == mqtt::ProtocolVersion::V5; }
    ClientRare& rare_state() {
        if (!rare) rare = std::make_unique<ClientRare>();
        return *rare;
    }
    const TopicAliases* aliases() const { return rare ? &rare->aliases : nullptr; }
    TopicAliases& topic_aliases() { return rare_state().aliases; }
    std::string_view end_reason() const {
        return rare && !rare->end_reason.empty() ? std::string_view(rare->end_reason)
                                                 : "closed its connection";
    }
};

}  // namespace herald::core
