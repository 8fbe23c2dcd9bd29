// A session: the MQTT state that outlives one network connection (spec 4.1).
//
// Subscriptions, the outgoing QoS 1/2 messages in flight and those queued behind them, the
// incoming QoS 2 packet ids awaiting PUBREL, and a will waiting for its delay. A session
// belongs to one client id; at most one Client (connection) is attached at a time. Owned by
// Broker::Impl; freed only by Impl::end_session(), which first removes it from the
// subscription tree (the tree holds Session pointers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/message.h"
#include "broker/core/packed_string.h"
#include "broker/core/ring.h"
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
    uint64_t seq = 0;  // its row in the Store (persistent sessions only; see persist.cpp)
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

// The filters a session is subscribed to (the options live in the subscription tree), so
// that they can be removed from the tree when the session ends. The tree says whether a
// filter is new or was there, so this never has to reject a duplicate. A sorted vector: one
// word-triple while empty, binary search, and an insert or erase moves at most the filters
// after it (cheap even for a session with thousands).
class SubscriptionSet {
public:
    size_t size() const { return filters_.size(); }

    void add(std::string_view filter) {  // filter not in the set
        auto it = std::lower_bound(filters_.begin(), filters_.end(), filter,
                                   [](const std::string& a, std::string_view b) { return a < b; });
        filters_.emplace(it, filter);
    }

    void remove(std::string_view filter) {
        auto it = std::lower_bound(filters_.begin(), filters_.end(), filter,
                                   [](const std::string& a, std::string_view b) { return a < b; });
        if (it != filters_.end() && *it == filter) filters_.erase(it);
    }

    template <typename F>
    void for_each(F&& f) const {
        for (const auto& filter : filters_) f(filter);
    }

    void clear() { std::vector<std::string>().swap(filters_); }

private:
    std::vector<std::string> filters_;
};

// What few sessions ever use, allocated on first use.
struct SessionRare {
    // A will that outlived its connection, waiting for its Will Delay Interval (5.0). Its
    // ACL check uses Session::username (a resumed session cancels it: same user).
    std::unique_ptr<mqtt::Will> pending_will;
    // Incoming QoS 2 packet ids routed and PUBREC'd, awaiting PUBREL (exactly once: a
    // duplicate PUBLISH with one of these ids is not routed again). Sorted.
    std::vector<uint16_t> incoming_qos2;
};

// Laid out for size: a broker holds one per client id, most of them idle, so everything
// that is usually empty costs no allocation (Ring, vector, unique_ptr), and the will waiting
// for its delay (a large struct) is allocated only when there is one.
class Session {
public:
    // (sequence << 32) | slot in Impl::session_slots: unique for the life of the process
    // (Message::origin_id for no-local, backlog entries) and an O(1) lookup.
    uint64_t id = 0;
    PackedString client_id;                // the key in Impl::sessions (which views it)
    std::optional<PackedString> username;  // of the last connection, for ACL checks
    Client* client = nullptr;              // the attached connection, if any
    Session* index_next = nullptr;         // SessionIndex's chain

    // Outgoing QoS 1/2 in the order sent; small (the inflight window), so searched linearly
    // from the front, where acks usually match.
    Ring<InflightEntry> inflight;
    Ring<Delivery> queue;        // waiting for the window / the client to come back
    uint64_t queued_bytes = 0;   // payload bytes in queue

    SubscriptionSet subscriptions;
    std::unique_ptr<SessionRare> rare;  // pending will, incoming QoS 2 ids

    // Routing scratch: set by Impl::route() so that a session matched by several filters
    // is merged into one delivery without a map lookup.
    uint64_t route_epoch = 0;
    uint32_t route_slot = 0;

    uint32_t expiry_interval = 0;  // seconds after disconnect; kNeverExpires
    // Generations of scheduled timers, drawn from Impl::next_timer_gen (unique across
    // sessions, so a timer key needs only the slot): a new value invalidates older entries.
    uint32_t expiry_gen = 0;
    uint32_t will_gen = 0;
    uint16_t next_packet_id = 1;
    bool in_backlog = false;  // listed in Impl::backlog (queue waiting for output room)
    bool admin = false;       // the user had the admin role at the last CONNECT (SPEC 7)
    // The Store holds this session (it is persistent and the store keeps sessions): its
    // changes are written through (persist.cpp). Fits in padding: no extra bytes.
    bool stored = false;

    SessionRare& rare_state() {
        if (!rare) rare = std::make_unique<SessionRare>();
        return *rare;
    }
    mqtt::Will* pending_will() const { return rare ? rare->pending_will.get() : nullptr; }

    size_t incoming_qos2_count() const { return rare ? rare->incoming_qos2.size() : 0; }
    bool has_incoming_qos2(uint16_t packet_id) const {
        return rare && std::binary_search(rare->incoming_qos2.begin(), rare->incoming_qos2.end(),
                                          packet_id);
    }
    void add_incoming_qos2(uint16_t packet_id) {
        auto& ids = rare_state().incoming_qos2;
        auto it = std::lower_bound(ids.begin(), ids.end(), packet_id);
        if (it == ids.end() || *it != packet_id) ids.insert(it, packet_id);
    }
    bool remove_incoming_qos2(uint16_t packet_id) {
        if (!rare) return false;
        auto& ids = rare->incoming_qos2;
        auto it = std::lower_bound(ids.begin(), ids.end(), packet_id);
        if (it == ids.end() || *it != packet_id) return false;
        ids.erase(it);
        return true;
    }

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
