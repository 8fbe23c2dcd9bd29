// The devices table: (user, client id) -> when that device was last seen.
#include "storage/tables.h"

namespace herald::storage::devices {

Status seen(Db& db, const DeviceRecord& d) {
    Query q = db.query(
        "INSERT INTO devices (user, client_id, last_seen_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (user, client_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms");
    return q.bind(1, d.user).bind(2, d.client_id).bind(3, d.last_seen_ms).run();
}

Status remove(Db& db, std::string_view user, std::string_view client_id) {
    Query q = db.query("DELETE FROM devices WHERE user = ?1 AND client_id = ?2");
    if (Status s = q.bind(1, user).bind(2, client_id).run(); !s) return s;
    if (db.changes() == 0)
        return Status::error(Code::NotFound,
                             "user '" + std::string(user) + "' has no device '" + std::string(client_id) + "'");
    return {};
}

Result<std::vector<DeviceRecord>> of_user(Db& db, std::string_view user) {
    Query q = db.query("SELECT user, client_id, last_seen_ms FROM devices WHERE user = ?1 ORDER BY client_id");
    q.bind(1, user);
    std::vector<DeviceRecord> out;
    while (q.next()) out.push_back(DeviceRecord{q.text(0), q.text(1), q.u64(2)});
    if (!q.status()) return q.status();
    return out;
}

Status purge_older(Db& db, uint64_t before_ms) {
    return db.query("DELETE FROM devices WHERE last_seen_ms < ?1").bind(1, before_ms).run();
}

}  // namespace herald::storage::devices
