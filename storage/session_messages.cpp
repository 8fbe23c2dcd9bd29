// The session_messages table: each persistent session's outgoing QoS 1/2 messages, queued or
// in flight, ordered by the seq core gives them. A row holds the session's own fields and the
// id of its body in stored_messages, shared by every session the message was routed to; the
// trigger of schema.cpp (migration 3) deletes a body with its last row.
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

// Inserts the body of `m` counted for `refs` rows; its id, or 0 on an error (in the status).
int64_t insert_body(Db& db, const SessionMessageRecord& m, int64_t refs, Status& status) {
    // One scratch buffer for the writer thread: no allocation per message once it has grown.
    thread_local std::string props_scratch;
    thread_local mqtt::Properties props;
    Query q = db.query(
        "INSERT INTO stored_messages (refs, topic, payload, properties, expiry_at_wall_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    q.bind(1, refs).bind(2, m.topic).bind_blob(3, detail::payload_view(m.payload));
    if (m.props.subscription_identifiers.empty()) {
        detail::bind_props(q, 4, m.props, props_scratch);
    } else {  // a body never holds a delivery's identifiers: each row has its own
        props = m.props;
        props.subscription_identifiers.clear();
        detail::bind_props(q, 4, props, props_scratch);
    }
    status = q.bind(5, m.expiry_at_wall_ms).run();
    return status ? db.last_insert_rowid() : 0;
}

Status put_row(Db& db, std::string_view client_id, uint64_t seq, MessageState state, uint16_t packet_id,
               int64_t body_id, uint8_t qos, bool retain, std::span<const uint32_t> ids) {
    thread_local std::string ids_scratch;
    // A row put again under its seq (rare) is deleted first and inserted again:
    // the release trigger gives its body's count back (or the one this body counted twice).
    static constexpr const char* kInsert =
        "INSERT INTO session_messages (client_id, seq, state, packet_id, body_id, qos, retain, subscription_ids) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (client_id, seq) DO NOTHING";
    for (int attempt = 0; attempt < 2; ++attempt) {
        Query q = db.query(kInsert);
        q.bind(1, client_id).bind(2, seq).bind(3, state_name(state)).bind(4, int{packet_id}).bind(5, body_id);
        q.bind(6, int{qos}).bind(7, retain ? 1 : 0);
        bind_ids(q, 8, ids, ids_scratch);
        if (Status s = q.run(); !s) return s;
        if (db.changes() > 0) return {};
        if (Status s = erase(db, client_id, seq); !s) return s;
    }
    return Status::db_error("session '" + std::string(client_id) + "': message " + std::to_string(seq) +
                            " could not be replaced");
}

// After a row failed to go in: the body's count for it and those after it is given back.
void release(Db& db, int64_t body_id, int64_t refs) {
    db.query("UPDATE stored_messages SET refs = refs - ?2 WHERE id = ?1").bind(1, body_id).bind(2, refs).run();
    db.query("DELETE FROM stored_messages WHERE id = ?1 AND refs <= 0").bind(1, body_id).run();
}

}  // namespace

Status put(Db& db, std::string_view client_id, const SessionMessageRecord& m) {
    Status s;
    int64_t body = insert_body(db, m, 1, s);
    if (!s) return s;
    s = put_row(db, client_id, m.seq, m.state, m.packet_id, body, m.qos, m.retain, m.props.subscription_identifiers);
    if (!s) release(db, body, 1);
    return s;
}

Status put_shared(Db& db, const SessionMessageRecord& m, std::span<const Row> rows) {
    if (rows.empty()) return {};
    Status s;
    int64_t body = insert_body(db, m, static_cast<int64_t>(rows.size()), s);
    if (!s) return s;
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        s = put_row(db, r.client_id, r.seq, r.state, r.packet_id, body, r.qos, r.retain, r.subscription_ids);
        if (!s) {
            release(db, body, static_cast<int64_t>(rows.size() - i));
            return s;
        }
    }
    return {};
}

Status set_state(Db& db, std::string_view client_id, uint64_t seq, MessageState state, uint16_t packet_id) {
    Query q = db.query("UPDATE session_messages SET state = ?3, packet_id = ?4 WHERE client_id = ?1 AND seq = ?2");
    if (Status s = q.bind(1, client_id).bind(2, seq).bind(3, state_name(state)).bind(4, int{packet_id}).run(); !s)
        return s;
    if (db.changes() == 0)
        return Status::error(Code::NotFound, "session '" + std::string(client_id) + "' has no message " +
                                                 std::to_string(seq));
    return {};
}

Status erase(Db& db, std::string_view client_id, uint64_t seq) {
    return db.query("DELETE FROM session_messages WHERE client_id = ?1 AND seq = ?2").bind(1, client_id).bind(2, seq).run();
}

Status clear(Db& db, std::string_view client_id) {
    return db.query("DELETE FROM session_messages WHERE client_id = ?1").bind(1, client_id).run();
}

Result<std::vector<SessionMessageRecord>> load(Db& db, std::string_view client_id, PayloadCache* cache) {
    Query q = db.query(
        "SELECT m.seq, m.state, m.packet_id, b.topic, b.payload, m.qos, m.retain, b.properties, "
        "b.expiry_at_wall_ms, m.subscription_ids, b.id FROM session_messages m JOIN stored_messages b ON b.id = m.body_id "
        "WHERE m.client_id = ?1 ORDER BY m.seq");
    q.bind(1, client_id);
    std::vector<SessionMessageRecord> out;
    while (q.next()) {
        SessionMessageRecord m;
        m.seq = q.u64(0);
        m.state = parse_state(q.view(1)).value_or(MessageState::Queued);
        m.packet_id = static_cast<uint16_t>(q.i64(2));
        m.topic = q.text(3);
        if (cache) {
            mqtt::SharedPayload& shared = (*cache)[q.i64(10)];
            if (!shared) shared = detail::column_payload(q, 4);
            m.payload = shared;
        } else {
            m.payload = detail::column_payload(q, 4);
        }
        m.qos = static_cast<uint8_t>(q.i64(5));
        m.retain = q.i64(6) != 0;
        m.props = detail::column_props(q, 7);
        m.expiry_at_wall_ms = q.u64(8);
        // A migrated row's identifiers are in its body's blob, a new row's in its own column.
        append_ids(q, 9, m.props.subscription_identifiers);
        out.push_back(std::move(m));
    }
    if (!q.status()) return q.status();
    return out;
}

}  // namespace herald::storage::session_messages
