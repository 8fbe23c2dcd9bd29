// The presence table (SPEC 4): each user's last published presence seq, last-seen time and
// status, so that seq keeps growing and last_seen survives a restart.
#include "storage/tables.h"

namespace herald::storage::presence {

Status set(Db& db, const PresenceRecord& p) {
    Query q = db.query(
        "INSERT INTO presence (user, seq, last_seen_ms, status, text) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (user) DO UPDATE SET seq = excluded.seq, last_seen_ms = excluded.last_seen_ms, "
        "status = excluded.status, text = excluded.text");
    return q.bind(1, p.user).bind(2, p.seq).bind(3, p.last_seen_ms).bind(4, p.status).bind(5, p.text).run();
}

Result<std::optional<PresenceRecord>> get(Db& db, std::string_view user) {
    Query q = db.query("SELECT user, seq, last_seen_ms, status, text FROM presence WHERE user = ?1");
    std::optional<PresenceRecord> out;
    if (q.bind(1, user).next()) out = PresenceRecord{q.text(0), q.u64(1), q.u64(2), q.text(3), q.text(4)};
    if (!q.status()) return q.status();
    return out;
}

}  // namespace herald::storage::presence
