// The bans table: one ban per user with its end time and reason.
#include "storage/tables.h"

namespace herald::storage::bans {

Status set(Db& db, const BanRecord& ban) {
    Query q = db.query(
        "INSERT INTO bans (user, until_ms, reason) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (user) DO UPDATE SET until_ms = excluded.until_ms, reason = excluded.reason");
    return q.bind(1, ban.user).bind(2, ban.until_ms).bind(3, ban.reason).run();
}

Status remove(Db& db, std::string_view user) {
    Query q = db.query("DELETE FROM bans WHERE user = ?1");
    if (Status s = q.bind(1, user).run(); !s) return s;
    if (db.changes() == 0) return Status::error(Code::NotFound, "user '" + std::string(user) + "' is not banned");
    return {};
}

Result<std::optional<BanRecord>> get(Db& db, std::string_view user) {
    Query q = db.query("SELECT user, until_ms, reason FROM bans WHERE user = ?1");
    std::optional<BanRecord> out;
    if (q.bind(1, user).next()) out = BanRecord{q.text(0), q.u64(1), q.text(2)};
    if (!q.status()) return q.status();
    return out;
}

Result<std::vector<BanRecord>> active(Db& db, uint64_t now_ms) {
    Query q = db.query("SELECT user, until_ms, reason FROM bans WHERE until_ms > ?1 ORDER BY user");
    q.bind(1, now_ms);
    std::vector<BanRecord> out;
    while (q.next()) out.push_back(BanRecord{q.text(0), q.u64(1), q.text(2)});
    if (!q.status()) return q.status();
    return out;
}

Status purge_expired(Db& db, uint64_t now_ms) {
    return db.query("DELETE FROM bans WHERE until_ms <= ?1").bind(1, now_ms).run();
}

}  // namespace herald::storage::bans
