// CoreStore: core::Store (broker/core/store.h) over a SqliteStore: retained messages and
// persistent sessions, converted from core's values to the store's records (records.h).
//
// The one translation it owns besides the shapes is time: core keeps expiry and
// disconnect times as monotonic milliseconds, which mean nothing after a restart, so records
// carry wall-clock times and the conversion uses the broker's Clock at the moment of each call.
//
// One message routed to many persistent sessions is one op with one row per session
// (message_put coalesces while nothing else was posted in between): the topic, payload and
// properties are converted once, and the loop allocates once per message, not per receiver;
// the writer stores them once too, as one body row the session rows point at. State changes
// and erases coalesce the same way, into one op of small records (no closure and no client id
// string per call): a draining session's acks cost the loop a vector append each.
//
// Acknowledgement after commit (core::Store::after_commit) is a no-op op whose completion is
// the callback: completions run in posting order, and an op posted in the same loop turn as
// the writes it waits for shares their transaction, so "this op committed" means "they did".
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "broker/core/clock.h"
#include "broker/core/message.h"
#include "broker/core/store.h"
#include "storage/store.h"

namespace herald::storage {

class CoreStore final : public core::Store {
public:
    // `retained` and `sessions` are StartState's from SqliteStore::open(), handed out once by
    // retained_load() and sessions_load().
    CoreStore(SqliteStore& store, const core::Clock& clock, std::vector<RetainedRecord> retained,
              std::vector<SavedSession> sessions = {}, StreamsStart streams = {});

    void retained_set(const core::Message& message) override;
    void retained_erase(const std::string& topic) override;
    // The messages loaded at open(), minus those expired since; once (later calls: empty).
    std::vector<core::Message> retained_load() override;

    bool keeps_sessions() const override { return true; }
    // batches, ops, max_batch, failed_batches and ops_per_batch (the mean, rounded down).
    std::vector<std::pair<std::string_view, uint64_t>> sys_figures() const override;
    std::optional<core::CommitLatency> commit_latency() const override { return store_.commit_latency(); }
    void session_save(const core::StoredSession& session) override;
    void session_delete(const std::string& client_id) override;
    void subscription_set(const std::string& client_id, const core::StoredSubscription& sub) override;
    void subscription_erase(const std::string& client_id, std::string_view filter) override;
    void message_put(std::string_view client_id, uint64_t seq, core::StoredState state,
                     uint16_t packet_id, const core::Message& message, uint8_t qos, bool retain,
                     std::span<const uint32_t> subscription_ids) override;
    void message_state(std::string_view client_id, uint64_t seq, core::StoredState state,
                       uint16_t packet_id) override;
    void message_erase(std::string_view client_id, uint64_t seq) override;
    // The sessions loaded at open(); once. A session that was still connected when the broker
    // stopped (a crash) counts as disconnected now, and is saved so.
    std::vector<core::LoadedSession> sessions_load() override;
    void after_commit(std::function<void(bool committed)> fn) override;

    // Streams (SPEC 5): core_store_streams.cpp.
    bool keeps_streams() const override { return true; }
    core::LoadedStreams streams_load() override;
    void stream_append(const std::string& stream, const core::Message& message, std::string_view sender,
                       uint64_t ts_wall_ms, uint64_t expiry_at_mono_ms) override;
    void stream_cursor_set(const core::StreamCursor& cursor) override;
    void stream_device_seen(const std::string& user, const std::string& client_id, uint64_t wall_ms) override;
    void stream_erase_through(const std::string& stream, uint64_t seq, core::StreamCountsDone done) override;
    void stream_purge_expired(core::StreamCountsDone done) override;
    void stream_drop_oldest(const std::string& stream, const std::string& sender, core::StreamCountsDone done) override;
    void stream_read(const std::string& stream, uint64_t after_seq, size_t limit, std::string member,
                     std::function<void(core::StreamRead)> done) override;

    struct MultiPut;  // core_store.cpp
    struct Changes;   // core_store.cpp

private:
    void message_change(std::string_view client_id, uint64_t seq, bool erase, MessageState state,
                        uint16_t packet_id);

    SqliteStore& store_;
    // The multi-row put, or the changes, posted last: open for more while store_.mark() is
    // open_mark_ (nothing posted since, so the op still waits in this loop turn's batch).
    std::shared_ptr<MultiPut> open_put_;
    std::shared_ptr<Changes> open_changes_;
    SqliteStore::Mark open_mark_;
    const core::Clock& clock_;
    std::vector<RetainedRecord> retained_;
    std::vector<SavedSession> sessions_;
    StreamsStart streams_;
};

// The conversions, exposed for tests.
uint64_t mono_to_wall(uint64_t expiry_at_mono_ms, const core::Clock& clock);  // 0 stays 0
uint64_t wall_to_mono(uint64_t expiry_at_wall_ms, const core::Clock& clock);  // 0 stays 0; past -> now
RetainedRecord to_retained_record(const core::Message& message, const core::Clock& clock);
core::Message from_retained_record(RetainedRecord record, const core::Clock& clock);

MessageState to_message_state(core::StoredState state);
core::StoredState from_message_state(MessageState state);
SessionRecord to_session_record(const core::StoredSession& session, const core::Clock& clock);
SubscriptionRecord to_subscription_record(const core::StoredSubscription& sub);
SessionMessageRecord to_session_message_record(uint64_t seq, core::StoredState state, uint16_t packet_id,
                                               const core::Message& message, uint8_t qos, bool retain,
                                               std::span<const uint32_t> subscription_ids,
                                               const core::Clock& clock);
core::StoredMessage from_session_message_record(SessionMessageRecord record, const core::Clock& clock);
// `saved.session.disconnected_at_wall_ms` must be set (sessions_load() sets it for those that
// were connected): the expiry is counted from it.
core::LoadedSession from_saved_session(SavedSession saved, const core::Clock& clock);

}  // namespace herald::storage
