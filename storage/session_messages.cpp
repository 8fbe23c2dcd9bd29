// The session_messages table: each persistent session's outgoing QoS 1/2 messages, queued or
// in flight, keyed by the seq core gives them (one counter for all sessions, so every insert
// appends to the table's last page; schema.cpp, migration 4). A message for one session holds
// its body (topic, payload, properties, expiry) in its own row; one routed to many sessions is
// one body in stored_messages, which their rows name by id, deleted with its last row by the
// trigger of migration 4.
#include "storage/row_codec.h"
#include "storage/tables.h"

namespace herald::storage::session_messages {
namespace {

// A delivery's subscription identifiers as a blob of 4-byte little-endian integers, in
// `scratch`; NULL when there are none (the usual case).
void bind_ids(Query& q, int index, std::span<const uint32_t> ids, std::string& scratch) {
    if (ids.empty()) {
        q.bind_null(index);
        return;
    }
    scratch.clear();
    for (uint32_t id : ids) {
        const char bytes[4] = {char(id & 0xFF), char((id >> 8) & 0xFF), char((id >> 16) & 0xFF), char(id >> 24)};
        scratch.append(bytes, 4);
    }
    q.bind_blob(index, scratch);
}

void append_ids(const Query& q, int column, std::vector<uint32_t>& out) {
    if (q.is_null(column)) return;
    std::string_view blob = q.view(column);
    for (size_t i = 0; i + 4 <= blob.size(); i += 4) {
        auto b = [&](size_t k) { return uint32_t(static_cast<unsigned char>(blob[i + k])); };
        out.push_back(b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24);
    }
}

// The properties of a body: never a delivery's identifiers (each row has its own). Encoded
// into `scratch`, a buffer of the writer thread: no allocation per message once it has grown.
void bind_body_props(Query& q, int index, const mqtt::Properties& props) {
    thread_local std::string scratch;
    thread_local mqtt::Properties copy;
    if (props.subscription_identifiers.empty()) {
        detail::bind_props(q, index, props, scratch);
    } else {
        copy = props;
        copy.subscription_identifiers.clear();
        detail::bind_props(q, index, copy, scratch);
    }
}

// Inserts the body of `m` counted for `refs` rows; its id, or 0 on an error (in the status).
int64_t insert_body(Db& db, const SessionMessageRecord& m, int64_t refs, Status& status) {
    Query q = db.query(
        "INSERT INTO stored_messages (refs, topic, payload, properties, expiry_at_wall_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    q.bind(1, refs).bind(2, m.topic).bind_blob(3, detail::payload_view(m.payload));
    bind_body_props(q, 4, m.props);
    status = q.bind(5, m.expiry_at_wall_ms).run();
    return status ? db.last_insert_rowid() : 0;
}

// One row, naming the body `body_id`, or holding the body of `inline_body` when it is set.
// A row put again under its seq (rare) is deleted first and inserted again: the release
// trigger gives its body's count back (or the one this body counted twice).
Status put_row(Db& db, std::string_view client_id, uint64_t seq, MessageState state, uint16_t packet_id,
               uint8_t qos, bool retain, std::span<const uint32_t> ids, int64_t body_id,
               const SessionMessageRecord* inline_body) {
    thread_local std::string ids_scratch;
    static constexpr const char* kInsert =
        "INSERT INTO session_messages (seq, client_id, state, packet_id, qos, retain, subscription_ids, body_id, "
        "topic, payload, properties, expiry_at_wall_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
        "ON CONFLICT (seq) DO NOTHING";
    for (int attempt = 0; attempt < 2; ++attempt) {
        Query q = db.query(kInsert);
        q.bind(1, seq).bind(2, client_id).bind(3, state_name(state)).bind(4, int{packet_id});
        q.bind(5, int{qos}).bind(6, retain ? 1 : 0);
        bind_ids(q, 7, ids, ids_scratch);
        if (inline_body != nullptr) {
            q.bind_null(8).bind(9, inline_body->topic).bind_blob(10, detail::payload_view(inline_body->payload));
            bind_body_props(q, 11, inline_body->props);
            q.bind(12, inline_body->expiry_at_wall_ms);
        } else {
            q.bind(8, body_id).bind_null(9).bind_null(10).bind_null(11).bind(12, 0);
        }
        if (Status s = q.run(); !s) return s;
        if (db.changes() > 0) return {};
        if (Status s = db.query("DELETE FROM session_messages WHERE seq = ?1").bind(1, seq).run(); !s) return s;
    }
    return Status::db_error("session '" + std::string(client_id) + "': message " + std::to_string(seq) +
                            " could not be replaced");
}

// After a row failed to go in: the body's count for it and those after it is given back.
void release(Db& db, int64_t body_id, int64_t refs) {
    db.query("UPDATE stored_messages SET refs = refs - ?2 WHERE id = ?1").bind(1, body_id).bind(2, refs).run();
    db.query("DELETE FROM stored_messages WHERE id = ?1 AND refs <= 0").bind(1, body_id).run();
}

// The columns every load selects, the row's and its body's (NULLs for an inline body).
#define HERALD_MESSAGE_COLUMNS                                                                       \
    "m.seq, m.state, m.packet_id, m.qos, m.retain, m.subscription_ids, m.body_id, m.topic, m.payload, " \
    "m.properties, m.expiry_at_wall_ms, b.topic, b.payload, b.properties, b.expiry_at_wall_ms, m.client_id " \
    "FROM session_messages m LEFT JOIN stored_messages b ON b.id = m.body_id "

SessionMessageRecord read_message(const Query& q, PayloadCache* cache) {
    SessionMessageRecord m;
    m.seq = q.u64(0);
    m.state = parse_state(q.view(1)).value_or(MessageState::Queued);
    m.packet_id = static_cast<uint16_t>(q.i64(2));
    m.qos = static_cast<uint8_t>(q.i64(3));
    m.retain = q.i64(4) != 0;
    const bool shared = !q.is_null(6);
    const int body = shared ? 11 : 7;  // topic, payload, properties, expiry
    m.topic = q.text(body);
    if (shared && cache) {
        mqtt::SharedPayload& p = (*cache)[q.i64(6)];
        if (!p) p = detail::column_payload(q, body + 1);
        m.payload = p;
    } else {
        m.payload = detail::column_payload(q, body + 1);
    }
    m.props = detail::column_props(q, body + 2);
    m.expiry_at_wall_ms = q.u64(body + 3);
    // A row migrated from version 2 has its identifiers in its body's blob, any other row in
    // its own column; one of the two is always empty.
    append_ids(q, 5, m.props.subscription_identifiers);
    return m;
}

}  // namespace

Status put(Db& db, std::string_view client_id, const SessionMessageRecord& m) {
    return put_row(db, client_id, m.seq, m.state, m.packet_id, m.qos, m.retain, m.props.subscription_identifiers, 0,
                   &m);
}

Status put_shared(Db& db, const SessionMessageRecord& m, std::span<const Row> rows) {
    if (rows.empty()) return {};
    if (rows.size() == 1) {  // one session: the body in the row
        const Row& r = rows[0];
        return put_row(db, r.client_id, r.seq, r.state, r.packet_id, r.qos, r.retain, r.subscription_ids, 0, &m);
    }
    Status s;
    int64_t body = insert_body(db, m, static_cast<int64_t>(rows.size()), s);
    if (!s) return s;
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        s = put_row(db, r.client_id, r.seq, r.state, r.packet_id, r.qos, r.retain, r.subscription_ids, body, nullptr);
        if (!s) {
            release(db, body, static_cast<int64_t>(rows.size() - i));
            return s;
        }
    }
    return {};
}

Status set_state(Db& db, std::string_view client_id, uint64_t seq, MessageState state, uint16_t packet_id) {
    Query q = db.query("UPDATE session_messages SET state = ?3, packet_id = ?4 WHERE seq = ?2 AND client_id = ?1");
    if (Status s = q.bind(1, client_id).bind(2, seq).bind(3, state_name(state)).bind(4, int{packet_id}).run(); !s)
        return s;
    if (db.changes() == 0)
        return Status::error(Code::NotFound, "session '" + std::string(client_id) + "' has no message " +
                                                 std::to_string(seq));
    return {};
}

Status erase(Db& db, std::string_view client_id, uint64_t seq) {
    return db.query("DELETE FROM session_messages WHERE seq = ?2 AND client_id = ?1").bind(1, client_id).bind(2, seq).run();
}

Status clear(Db& db, std::string_view client_id) {
    return db.query("DELETE FROM session_messages WHERE client_id = ?1").bind(1, client_id).run();
}

Status clear_orphans(Db& db) {
    return db.exec("DELETE FROM session_messages WHERE client_id NOT IN (SELECT client_id FROM sessions)");
}

Result<std::vector<SessionMessageRecord>> load(Db& db, std::string_view client_id, PayloadCache* cache) {
    Query q = db.query("SELECT " HERALD_MESSAGE_COLUMNS "WHERE m.client_id = ?1 ORDER BY m.seq");
    q.bind(1, client_id);
    std::vector<SessionMessageRecord> out;
    while (q.next()) out.push_back(read_message(q, cache));
    if (!q.status()) return q.status();
    return out;
}

Status load_all(Db& db, PayloadCache& cache,
                const std::function<void(std::string_view client_id, SessionMessageRecord message)>& each) {
    Query q = db.query("SELECT " HERALD_MESSAGE_COLUMNS "ORDER BY m.seq");
    while (q.next()) each(q.view(15), read_message(q, &cache));
    return q.status();
}

#undef HERALD_MESSAGE_COLUMNS

}  // namespace herald::storage::session_messages
