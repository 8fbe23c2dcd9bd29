// The session_messages table: each persistent session's outgoing QoS 1/2 messages, queued or
// in flight, ordered by the seq core gives them.
#include "storage/row_codec.h"
#include "storage/tables.h"

namespace herald::storage::session_messages {

Status put(Db& db, std::string_view client_id, const SessionMessageRecord& m) {
    // One scratch buffer for the writer thread: no allocation per message once it has grown.
    thread_local std::string props;
    Query q = db.query(
        "INSERT OR REPLACE INTO session_messages (client_id, seq, state, packet_id, topic, payload, qos, retain, "
        "properties, expiry_at_wall_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    q.bind(1, client_id).bind(2, m.seq).bind(3, state_name(m.state)).bind(4, int{m.packet_id}).bind(5, m.topic);
    q.bind_blob(6, detail::payload_view(m.payload)).bind(7, int{m.qos}).bind(8, m.retain ? 1 : 0);
    detail::bind_props(q, 9, m.props, props);
    return q.bind(10, m.expiry_at_wall_ms).run();
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

Result<std::vector<SessionMessageRecord>> load(Db& db, std::string_view client_id) {
    Query q = db.query(
        "SELECT seq, state, packet_id, topic, payload, qos, retain, properties, expiry_at_wall_ms "
        "FROM session_messages WHERE client_id = ?1 ORDER BY seq");
    q.bind(1, client_id);
    std::vector<SessionMessageRecord> out;
    while (q.next()) {
        SessionMessageRecord m;
        m.seq = q.u64(0);
        m.state = parse_state(q.view(1)).value_or(MessageState::Queued);
        m.packet_id = static_cast<uint16_t>(q.i64(2));
        m.topic = q.text(3);
        m.payload = detail::column_payload(q, 4);
        m.qos = static_cast<uint8_t>(q.i64(5));
        m.retain = q.i64(6) != 0;
        m.props = detail::column_props(q, 7);
        m.expiry_at_wall_ms = q.u64(8);
        out.push_back(std::move(m));
    }
    if (!q.status()) return q.status();
    return out;
}

}  // namespace herald::storage::session_messages
