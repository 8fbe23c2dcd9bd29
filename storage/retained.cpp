// The retained table: the last retained message of each topic.
#include "storage/row_codec.h"
#include "storage/tables.h"

namespace herald::storage::retained {

Status set(Db& db, const RetainedRecord& m) {
    std::string props;
    Query q = db.query(
        "INSERT INTO retained (topic, payload, qos, properties, expiry_at_wall_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos, "
        "properties = excluded.properties, expiry_at_wall_ms = excluded.expiry_at_wall_ms");
    q.bind(1, m.topic).bind_blob(2, detail::payload_view(m.payload)).bind(3, int{m.qos});
    detail::bind_props(q, 4, m.props, props);
    return q.bind(5, m.expiry_at_wall_ms).run();
}

Status erase(Db& db, std::string_view topic) {
    return db.query("DELETE FROM retained WHERE topic = ?1").bind(1, topic).run();
}

Result<std::vector<RetainedRecord>> load_all(Db& db) {
    Query q = db.query("SELECT topic, payload, qos, properties, expiry_at_wall_ms FROM retained ORDER BY topic");
    std::vector<RetainedRecord> out;
    while (q.next()) {
        RetainedRecord m;
        m.topic = q.text(0);
        m.payload = detail::column_payload(q, 1);
        m.qos = static_cast<uint8_t>(q.i64(2));
        m.props = detail::column_props(q, 3);
        m.expiry_at_wall_ms = q.u64(4);
        out.push_back(std::move(m));
    }
    if (!q.status()) return q.status();
    return out;
}

Status purge_expired(Db& db, uint64_t now_ms) {
    return db.query("DELETE FROM retained WHERE expiry_at_wall_ms != 0 AND expiry_at_wall_ms <= ?1")
        .bind(1, now_ms)
        .run();
}

}  // namespace herald::storage::retained
