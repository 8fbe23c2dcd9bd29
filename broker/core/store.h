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
#include <utility>
#include <vector>

#include "broker/core/commit_latency.h"
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

// SPEC 5 streams: a device's cursor as loaded at start, and where the streams stand.
struct StreamCursor {
    std::string stream;  // "users/alice", "groups/devs"
    std::string user;
    std::string client_id;
    uint64_t seq = 0;  // highest acknowledged
};

// Entries of one sender in one stream: what waits at start, or what a deletion removed.
struct StreamCount {
    std::string stream;
    std::string sender;
    uint64_t count = 0;
    uint64_t bytes = 0;  // payload bytes
};
using StreamCountsDone = std::function<void(std::vector<StreamCount>)>;

struct LoadedStreams {
    std::vector<std::pair<std::string, uint64_t>> last_seqs;  // (stream, highest seq given)
    std::vector<StreamCursor> cursors;
    std::vector<StreamCount> pending;
    std::vector<StreamCursor> devices_seen;  // stream empty; seq = when last seen, wall-clock ms
};

// What a stream read hands back: the entries after the asked seq, oldest first, as messages
// (stream_seq set, the broker's seq / ts user properties included). A null message is an entry
// the reader may not see (a group message from before it joined): skipped, but counted as read.
struct StreamRead {
    bool ok = false;
    std::vector<std::pair<uint64_t, MessagePtr>> entries;
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
    // The implementation's own counters, published retained as $SYS/herald/store/{name} at
    // each $SYS round (the writer's batch sizes, for benchmarks and operators).
    virtual std::vector<std::pair<std::string_view, uint64_t>> sys_figures() const { return {}; }
    // How long its transactions took (GET /metrics); none for a store without transactions.
    // Callable from the loop thread at any time, cheaply (a scrape may come every second).
    virtual std::optional<CommitLatency> commit_latency() const { return std::nullopt; }
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

    // --- streams (SPEC 5; broker/core/streams.h). A store that keeps none says so, and
    // core then treats users/... and groups/... as plain topics. ---
    virtual bool keeps_streams() const { return false; }
    // Where the streams stood at start; called once.
    virtual LoadedStreams streams_load() { return {}; }
    // Appends `message` (stream_seq set by core) to `stream`, from user `sender`, stamped
    // `ts_wall_ms`, kept until `expiry_at_mono_ms` (0: for ever). Written like the rest:
    // after_commit() waits for it.
    virtual void stream_append(const std::string& stream, const Message& message, std::string_view sender,
                               uint64_t ts_wall_ms, uint64_t expiry_at_mono_ms) {
        (void)stream, (void)message, (void)sender, (void)ts_wall_ms, (void)expiry_at_mono_ms;
    }
    virtual void stream_cursor_set(const StreamCursor& cursor) { (void)cursor; }
    // A device that reads streams was seen (connected or left) at `wall_ms`.
    virtual void stream_device_seen(const std::string& user, const std::string& client_id, uint64_t wall_ms) {
        (void)user, (void)client_id, (void)wall_ms;
    }
    // Deletions; `done` (on the loop) gets what was deleted, per stream and sender:
    // the entries of `stream` up to and including `seq` (every reader passed them);
    virtual void stream_erase_through(const std::string& stream, uint64_t seq, StreamCountsDone done) {
        (void)stream, (void)seq, (void)done;
    }
    // the expired entries of every stream;
    virtual void stream_purge_expired(StreamCountsDone done) { (void)done; }
    // the oldest entry of `stream` (of `sender`, if not empty).
    virtual void stream_drop_oldest(const std::string& stream, const std::string& sender, StreamCountsDone done) {
        (void)stream, (void)sender, (void)done;
    }
    // Reads up to `limit` entries after `after_seq`, off the loop; `done` runs on the loop.
    // `member` non-empty (group streams): only entries from after that user joined the group.
    virtual void stream_read(const std::string& stream, uint64_t after_seq, size_t limit, std::string member,
                             std::function<void(StreamRead)> done) {
        (void)stream, (void)after_seq, (void)limit, (void)member;
        done(StreamRead{true, {}});
    }
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
