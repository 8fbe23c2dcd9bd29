// The Store interface: what core persists. MemoryStore keeps nothing; storage/core_store.h is
// the SQLite implementation.
//
// Core calls it from the loop thread; an implementation must not block (it posts to its own
// writer thread). Records, never Session& (STYLE 9): the values below are core's own, in
// core's time (monotonic milliseconds); the implementation converts to its records.
//
// Sessions: only persistent ones (those that outlive their connection: 5.0 Session Expiry
// Interval > 0, 3.1.1 clean session 0) are written, and only when keeps_sessions() is true.
// Each outgoing QoS 1/2 message of such a session is a row keyed by (client id, seq), seq
// chosen by core from one counter: unique across sessions (the store may key by seq alone) and
// so increasing per session, so that a restart rebuilds the queue in order.
// Writes apply in the order they are made.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/message.h"
#include "broker/mqtt/packets.h"

namespace herald::core {

struct StoredSession {
    std::string client_id;
    std::optional<std::string> username;
    uint32_t expiry_interval = 0;          // seconds after disconnect; kNeverExpires
    uint64_t disconnected_at_mono_ms = 0;  // 0 while a client is attached
};

struct StoredSubscription {
    std::string filter;  // as subscribed ("$share/g/..." included)
    mqtt::SubscribeOptions options;
    uint32_t subscription_id = 0;  // 0 = none
};

// Where an outgoing message of a session stands.
enum class StoredState : uint8_t {
    Queued,           // not sent yet
    InflightPublish,  // PUBLISH sent with packet_id, waiting for PUBACK / PUBREC
    InflightPubrel,   // PUBREL sent, waiting for PUBCOMP (the message itself is no longer needed)
};

// One outgoing message as loaded at start: message->qos and ->retain are the delivery's.
struct StoredMessage {
    uint64_t seq = 0;
    StoredState state = StoredState::Queued;
    uint16_t packet_id = 0;
    MessagePtr message;  // never null
    uint8_t qos = 1;
    bool retain = false;
    std::vector<uint32_t> subscription_ids;
};

// A saved session as core rebuilds it at start: disconnected, expiring at expires_at_mono_ms
// (0: never; a time already past: at the first tick).
struct LoadedSession {
    StoredSession session;
    uint64_t expires_at_mono_ms = 0;
    std::vector<StoredSubscription> subscriptions;
    std::vector<StoredMessage> messages;  // by seq
};

class Store {
public:
    virtual ~Store() = default;
    // Retained messages: set replaces, erase removes; load is called once at start.
    virtual void retained_set(const Message& message) = 0;
    virtual void retained_erase(const std::string& topic) = 0;
    virtual std::vector<Message> retained_load() = 0;

    // False: core skips every session call below (nothing would be kept).
    virtual bool keeps_sessions() const = 0;
    // Persistent sessions: the session row (save inserts or replaces), delete removes the
    // session with its subscriptions; core erases its messages first (message_erase), so that
    // a store need not find messages by session (it may drop leftovers at its next start).
    virtual void session_save(const StoredSession& session) = 0;
    virtual void session_delete(const std::string& client_id) = 0;
    virtual void subscription_set(const std::string& client_id, const StoredSubscription& sub) = 0;
    virtual void subscription_erase(const std::string& client_id, std::string_view filter) = 0;
    // An outgoing message of a session: `message` is shared, its topic and payload are what
    // is delivered; qos / retain / subscription ids are the delivery's.
    // The client id is a view: valid during the call only (an implementation copies it).
    virtual void message_put(std::string_view client_id, uint64_t seq, StoredState state,
                             uint16_t packet_id, const Message& message, uint8_t qos, bool retain,
                             std::span<const uint32_t> subscription_ids) = 0;
    virtual void message_state(std::string_view client_id, uint64_t seq, StoredState state,
                               uint16_t packet_id) = 0;
    virtual void message_erase(std::string_view client_id, uint64_t seq) = 0;
    // The sessions saved before this start; called once at start.
    virtual std::vector<LoadedSession> sessions_load() = 0;

    // Runs `fn` once everything written before this call is durable (committed = true), or
    // could not be (false). Calls run in the order made. A store with nothing to wait for
    // calls `fn(true)` at once, from inside this call. A store must not call `fn` after the
    // Broker using it is destroyed (heraldd closes the store first).
    virtual void after_commit(std::function<void(bool committed)> fn) = 0;
};

// Keeps nothing: retained messages and sessions live only in the broker's memory.
class MemoryStore final : public Store {
public:
    void retained_set(const Message&) override {}
    void retained_erase(const std::string&) override {}
    std::vector<Message> retained_load() override { return {}; }

    bool keeps_sessions() const override { return false; }
    void session_save(const StoredSession&) override {}
    void session_delete(const std::string&) override {}
    void subscription_set(const std::string&, const StoredSubscription&) override {}
    void subscription_erase(const std::string&, std::string_view) override {}
    void message_put(std::string_view, uint64_t, StoredState, uint16_t, const Message&, uint8_t,
                     bool, std::span<const uint32_t>) override {}
    void message_state(std::string_view, uint64_t, StoredState, uint16_t) override {}
    void message_erase(std::string_view, uint64_t) override {}
    std::vector<LoadedSession> sessions_load() override { return {}; }
    void after_commit(std::function<void(bool)> fn) override { fn(true); }
};

}  // namespace herald::core
