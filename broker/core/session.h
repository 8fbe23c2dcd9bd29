// A session: the MQTT state that outlives one network connection (spec 4.1).
//
// Subscriptions, the outgoing QoS 1/2 messages in flight and those queued behind them, the
// incoming QoS 2 packet ids awaiting PUBREL, and a will waiting for its delay. A session
// belongs to one client id; at most one Client (connection) is attached at a time. Owned by
// Broker::Impl; freed only by Impl::end_session(), which first removes it from the
// subscription tree (the tree holds Session pointers).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/core/message.h"
#include "broker/mqtt/packets.h"

namespace herald::core {

class Client;

// Session Expiry Interval meaning "never" (5.0: 0xFFFFFFFF; 3.1.1 clean session 0).
inline constexpr uint32_t kNeverExpires = 0xFFFFFFFF;

// One message on its way to one session: the shared message plus what this receiver's
// subscriptions made of it (delivery QoS, retain flag out, subscription identifiers).
struct Delivery {
    MessagePtr message;
    uint8_t qos = 0;
    bool retain = false;
    std::vector<uint32_t> subscription_ids;  // empty for most: no allocation then
};

enum class InflightState : uint8_t {
    AwaitPuback,   // QoS 1 PUBLISH sent, waiting for PUBACK
    AwaitPubrec,   // QoS 2 PUBLISH sent, waiting for PUBREC
    AwaitPubcomp,  // PUBREL sent, waiting for PUBCOMP (the message itself is released)
};

struct InflightEntry {
    uint16_t packet_id = 0;
    InflightState state = InflightState::AwaitPuback;
    Delivery delivery;
};

// A will that outlived its connection, waiting for its Will Delay Interval (5.0).
struct PendingWill {
    mqtt::Will will;
    std::optional<std::string> username;  // of the connection that set it, for the ACL check
};

struct SessionSubscription {
    mqtt::SubscribeOptions options;
    uint32_t subscription_id = 0;
};

class Session {
public:
    uint64_t id = 0;  // increasing, never reused: Message::origin_id for no-local
    std::string client_id;
    std::optional<std::string> username;  // of the last connection, for ACL checks offline
    Client* client = nullptr;              // the attached connection, if any
    uint32_t expiry_interval = 0;          // seconds after disconnect; kNeverExpires
    uint64_t expiry_gen = 0;               // bumps invalidate scheduled expiry timers

    std::unordered_map<std::string, SessionSubscription> subscriptions;  // full filter -> options

    // Outgoing QoS 1/2 in the order sent; small (the inflight window), so searched linearly
    // from the front, where acks usually match.
    std::deque<InflightEntry> inflight;
    std::deque<Delivery> queue;  // waiting for the window / the client to come back
    uint64_t queued_bytes = 0;   // payload bytes in queue
    uint16_t next_packet_id = 1;

    // Incoming QoS 2 packet ids routed and PUBREC'd, awaiting PUBREL (exactly once: a
    // duplicate PUBLISH with one of these ids is not routed again).
    std::unordered_set<uint16_t> incoming_qos2;

    std::optional<PendingWill> pending_will;
    uint64_t will_gen = 0;  // bumps invalidate scheduled will timers

    // Routing scratch: set by Impl::route() so that a session matched by several filters
    // is merged into one delivery without a map lookup.
    uint64_t route_epoch = 0;
    size_t route_slot = 0;

    bool in_backlog = false;  // listed in Impl::backlog_ (queue waiting for output room)

    // The next packet id not used by an inflight entry. The window is far smaller than
    // 65535, so this terminates quickly.
    uint16_t alloc_packet_id() {
        for (;;) {
            uint16_t id = next_packet_id++;
            if (next_packet_id == 0) next_packet_id = 1;
            if (id == 0) continue;
            bool used = false;
            for (const auto& e : inflight) {
                if (e.packet_id == id) {
                    used = true;
                    break;
                }
            }
            if (!used) return id;
        }
    }
};

}  // namespace herald::core
