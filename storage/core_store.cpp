// core::Store over SqliteStore: core's values <-> records, monotonic <-> wall-clock time.
#include "storage/core_store.h"

#include "storage/tables.h"

namespace herald::storage {

uint64_t mono_to_wall(uint64_t expiry_at_mono_ms, const core::Clock& clock) {
    if (expiry_at_mono_ms == 0) return 0;
    int64_t left = static_cast<int64_t>(expiry_at_mono_ms) - static_cast<int64_t>(clock.mono_ms());
    int64_t wall = static_cast<int64_t>(clock.wall_ms()) + left;
    return wall > 0 ? static_cast<uint64_t>(wall) : 1;  // never 0, which would mean "never expires"
}

uint64_t wall_to_mono(uint64_t expiry_at_wall_ms, const core::Clock& clock) {
    if (expiry_at_wall_ms == 0) return 0;
    uint64_t now_wall = clock.wall_ms();
    uint64_t left = expiry_at_wall_ms > now_wall ? expiry_at_wall_ms - now_wall : 0;
    uint64_t mono = clock.mono_ms() + left;
    return mono > 0 ? mono : 1;
}

RetainedRecord to_retained_record(const core::Message& m, const core::Clock& clock) {
    return RetainedRecord{m.topic, m.payload, m.qos, m.props, mono_to_wall(m.expiry_at_mono_ms, clock)};
}

core::Message from_retained_record(RetainedRecord r, const core::Clock& clock) {
    core::Message m;
    m.topic = std::move(r.topic);
    m.payload = r.payload ? std::move(r.payload) : std::make_shared<const std::string>();
    m.qos = r.qos;
    m.retain = true;
    m.props = std::move(r.props);
    m.expiry_at_mono_ms = wall_to_mono(r.expiry_at_wall_ms, clock);
    return m;
}

MessageState to_message_state(core::StoredState state) {
    switch (state) {
        case core::StoredState::Queued: return MessageState::Queued;
        case core::StoredState::InflightPublish: return MessageState::InflightPublish;
        case core::StoredState::InflightPubrel: return MessageState::InflightPubrel;
    }
    return MessageState::Queued;
}

core::StoredState from_message_state(MessageState state) {
    switch (state) {
        case MessageState::Queued: return core::StoredState::Queued;
        case MessageState::InflightPublish: return core::StoredState::InflightPublish;
        case MessageState::InflightPubrel: return core::StoredState::InflightPubrel;
    }
    return core::StoredState::Queued;
}

SessionRecord to_session_record(const core::StoredSession& s, const core::Clock& clock) {
    // mono_to_wall maps any monotonic instant, past ones included, and never gives 0 for one.
    return SessionRecord{s.client_id, s.username, s.expiry_interval,
                         mono_to_wall(s.disconnected_at_mono_ms, clock)};
}

SubscriptionRecord to_subscription_record(const core::StoredSubscription& sub) {
    return SubscriptionRecord{sub.filter, pack_options(sub.options), sub.subscription_id};
}

SessionMessageRecord to_session_message_record(uint64_t seq, core::StoredState state, uint16_t packet_id,
                                               const core::Message& m, uint8_t qos, bool retain,
                                               std::span<const uint32_t> subscription_ids,
                                               const core::Clock& clock) {
    SessionMessageRecord r;
    r.seq = seq;
    r.state = to_message_state(state);
    r.packet_id = packet_id;
    r.topic = m.topic;
    r.payload = m.payload ? m.payload : std::make_shared<const std::string>();
    r.qos = qos;
    r.retain = retain;
    r.props = m.props;  // the forwarded ones; the delivery's subscription ids travel here too
    r.props.subscription_identifiers.assign(subscription_ids.begin(), subscription_ids.end());
    r.expiry_at_wall_ms = mono_to_wall(m.expiry_at_mono_ms, clock);
    return r;
}

core::StoredMessage from_session_message_record(SessionMessageRecord r, const core::Clock& clock) {
    core::StoredMessage out;
    out.seq = r.seq;
    out.state = from_message_state(r.state);
    out.packet_id = r.packet_id;
    out.qos = r.qos;
    out.retain = r.retain;
    out.subscription_ids = std::move(r.props.subscription_identifiers);
    r.props.subscription_identifiers.clear();
    auto m = std::make_shared<core::Message>();
    m->topic = std::move(r.topic);
    m->payload = r.payload ? std::move(r.payload) : std::make_shared<const std::string>();
    m->qos = r.qos;
    m->retain = r.retain;
    m->props = std::move(r.props);
    m->expiry_at_mono_ms = wall_to_mono(r.expiry_at_wall_ms, clock);
    out.message = std::move(m);
    return out;
}

core::LoadedSession from_saved_session(SavedSession saved, const core::Clock& clock) {
    core::LoadedSession out;
    SessionRecord& s = saved.session;
    if (s.expiry_interval != 0xFFFFFFFFu)  // core::kNeverExpires
        out.expires_at_mono_ms =
            wall_to_mono(s.disconnected_at_wall_ms + uint64_t(s.expiry_interval) * 1000, clock);
    // Loaded sessions are disconnected; the time is in expires_at_mono_ms.
    out.session = core::StoredSession{std::move(s.client_id), std::move(s.username), s.expiry_interval, 0};
    out.subscriptions.reserve(saved.subscriptions.size());
    for (SubscriptionRecord& sub : saved.subscriptions)
        out.subscriptions.push_back(
            core::StoredSubscription{std::move(sub.filter), unpack_options(sub.options), sub.subscription_id});
    out.messages.reserve(saved.messages.size());
    for (SessionMessageRecord& m : saved.messages) out.messages.push_back(from_session_message_record(std::move(m), clock));
    return out;
}

CoreStore::CoreStore(SqliteStore& store, const core::Clock& clock, std::vector<RetainedRecord> retained,
                     std::vector<SavedSession> sessions, StreamsStart streams)
    : store_(store), clock_(clock), retained_(std::move(retained)), sessions_(std::move(sessions)),
      streams_(std::move(streams)) {}

void CoreStore::retained_set(const core::Message& message) {
    store_.retained_set(to_retained_record(message, clock_));
}

void CoreStore::retained_erase(const std::string& topic) { store_.retained_erase(topic); }

std::vector<core::Message> CoreStore::retained_load() {
    std::vector<core::Message> out;
    out.reserve(retained_.size());
    uint64_t now_wall = clock_.wall_ms();
    for (RetainedRecord& r : retained_) {
        if (r.expiry_at_wall_ms != 0 && r.expiry_at_wall_ms <= now_wall) continue;
        out.push_back(from_retained_record(std::move(r), clock_));
    }
    retained_.clear();
    retained_.shrink_to_fit();
    return out;
}

void CoreStore::session_save(const core::StoredSession& session) {
    store_.session_save(to_session_record(session, clock_));
}

void CoreStore::session_delete(const std::string& client_id) { store_.session_delete(client_id); }

void CoreStore::subscription_set(const std::string& client_id, const core::StoredSubscription& sub) {
    store_.subscription_set(client_id, to_subscription_record(sub));
}

void CoreStore::subscription_erase(const std::string& client_id, std::string_view filter) {
    store_.subscription_erase(client_id, std::string(filter));
}

// The rows of one message for several sessions: `message` holds what they share (topic,
// payload, properties, expiry), stored once as their body; each row its own key, state and
// delivery.
struct CoreStore::MultiPut {
    const core::Message* source = nullptr;  // identity only, never read by the writer
    SessionMessageRecord message;
    std::vector<session_messages::Row> rows;

    Status run(Db& db) { return session_messages::put_shared(db, message, rows); }
};

void CoreStore::message_put(std::string_view client_id, uint64_t seq, core::StoredState state,
                            uint16_t packet_id, const core::Message& message, uint8_t qos, bool retain,
                            std::span<const uint32_t> subscription_ids) {
    session_messages::Row row{std::string(client_id), seq, to_message_state(state), packet_id, qos, retain,
                              std::vector<uint32_t>(subscription_ids.begin(), subscription_ids.end())};
    // The same message: the same object, and the same payload (which open_put_ holds, so its
    // address cannot have been reused) and topic.
    if (open_put_ && store_.mark() == open_mark_ && open_put_->source == &message &&
        open_put_->message.payload == message.payload && open_put_->message.topic == message.topic) {
        open_put_->rows.push_back(std::move(row));  // still in this turn's batch, not the writer's
        return;
    }
    auto put = std::make_shared<MultiPut>();
    put->source = &message;
    put->message = to_session_message_record(0, state, 0, message, qos, retain, {}, clock_);
    put->rows.push_back(std::move(row));
    store_.write([put](Db& db) { return put->run(db); });
    open_put_ = std::move(put);
    open_changes_.reset();
    open_mark_ = store_.mark();
}

// State changes and erases of session messages, in the order made. The client ids are kept
// end to end in one string (a session's consecutive changes share one copy).
struct CoreStore::Changes {
    struct Change {
        uint64_t seq;
        uint32_t id_offset;
        uint16_t id_length;  // client ids are at most 65535 bytes (MQTT strings)
        uint16_t packet_id;
        MessageState state;
        bool erase;
    };
    std::string ids;
    std::vector<Change> list;
    uint32_t last_offset = 0;
    uint16_t last_length = 0;

    void add(std::string_view client_id, uint64_t seq, bool erase, MessageState state, uint16_t packet_id) {
        if (list.empty() || std::string_view(ids).substr(last_offset, last_length) != client_id) {
            last_offset = static_cast<uint32_t>(ids.size());
            last_length = static_cast<uint16_t>(client_id.size());
            ids.append(client_id);
        }
        list.push_back(Change{seq, last_offset, last_length, packet_id, state, erase});
    }

    // Every change is tried; the first failure is the op's (reported to the store's error
    // handler). One that aborted the transaction stops the rest, which would run outside it.
    Status run(Db& db) {
        Status first;
        for (const Change& c : list) {
            std::string_view id = std::string_view(ids).substr(c.id_offset, c.id_length);
            Status s = c.erase ? session_messages::erase(db, id, c.seq)
                               : session_messages::set_state(db, id, c.seq, c.state, c.packet_id);
            if (s.ok()) continue;
            if (first.ok()) first = std::move(s);
            if (db.autocommit()) break;
        }
        return first;
    }
};

void CoreStore::message_change(std::string_view client_id, uint64_t seq, bool erase, MessageState state,
                               uint16_t packet_id) {
    if (!open_changes_ || store_.mark() != open_mark_) {
        auto changes = std::make_shared<Changes>();
        store_.write([changes](Db& db) { return changes->run(db); });
        open_changes_ = std::move(changes);
        open_put_.reset();
        open_mark_ = store_.mark();
    }
    open_changes_->add(client_id, seq, erase, state, packet_id);
}

void CoreStore::message_state(std::string_view client_id, uint64_t seq, core::StoredState state,
                              uint16_t packet_id) {
    message_change(client_id, seq, false, to_message_state(state), packet_id);
}

void CoreStore::message_erase(std::string_view client_id, uint64_t seq) {
    message_change(client_id, seq, true, MessageState::Queued, 0);
}

std::vector<core::LoadedSession> CoreStore::sessions_load() {
    std::vector<core::LoadedSession> out;
    out.reserve(sessions_.size());
    const uint64_t now_wall = clock_.wall_ms();
    for (SavedSession& saved : sessions_) {
        if (saved.session.disconnected_at_wall_ms == 0) {
            // Connected when the broker stopped without saying goodbye: disconnected as of now.
            saved.session.disconnected_at_wall_ms = now_wall;
            store_.session_save(saved.session);
        }
        out.push_back(from_saved_session(std::move(saved), clock_));
    }
    sessions_.clear();
    sessions_.shrink_to_fit();
    return out;
}

void CoreStore::after_commit(std::function<void(bool committed)> fn) {
    store_.write([](Db&) { return Status{}; }, [fn = std::move(fn)](const Status& s) { fn(s.ok()); });
}

std::vector<std::pair<std::string_view, uint64_t>> CoreStore::sys_figures() const {
    const WriterStats w = store_.stats();
    return {{"batches", w.batches},
            {"ops", w.ops},
            {"max_batch", w.max_batch},
            {"failed_batches", w.failed_batches},
            {"ops_per_batch", w.batches ? w.ops / w.batches : 0}};
}

}  // namespace herald::storage
