// The users table: name, password hash, role, creation time.
#include "storage/tables.h"

namespace herald::storage::users {
namespace {

Status not_found(std::string_view name) {
    return Status::error(Code::NotFound, "user '" + std::string(name) + "' does not exist");
}

UserRecord read_user(const Query& q) {
    UserRecord u;
    u.name = q.text(0);
    u.password_hash = q.text(1);
    u.role = parse_role(q.view(2)).value_or(Role::User);
    u.created_at_ms = q.u64(3);
    return u;
}

}  // namespace

Status create(Db& db, const UserRecord& user) {
    Query q = db.query(
        "INSERT INTO users (name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (name) DO NOTHING");
    if (Status s = q.bind(1, user.name).bind(2, user.password_hash).bind(3, role_name(user.role))
                       .bind(4, user.created_at_ms).run();
        !s)
        return s;
    if (db.changes() == 0) return Status::error(Code::Exists, "user '" + user.name + "' already exists");
    return {};
}

Status remove(Db& db, std::string_view name) {
    Query q = db.query("DELETE FROM users WHERE name = ?1");
    if (Status s = q.bind(1, name).run(); !s) return s;
    if (db.changes() == 0) return not_found(name);
    // What belongs to the user alone goes with it. Sessions and stream entries expire by
    // themselves; a user created again later with this name starts clean otherwise.
    static const char* const kCascade[] = {
        "DELETE FROM contacts WHERE user_a = ?1 OR user_b = ?1",
        "DELETE FROM group_members WHERE user = ?1",
        "DELETE FROM bans WHERE user = ?1",
        "DELETE FROM devices WHERE user = ?1",
        "DELETE FROM presence WHERE user = ?1",
    };
    for (const char* sql : kCascade) {
        Query c = db.query(sql);
        if (Status s = c.bind(1, name).run(); !s) return s;
    }
    return {};
}

Status set_password_hash(Db& db, std::string_view name, std::string_view hash) {
    Query q = db.query("UPDATE users SET password_hash = ?2 WHERE name = ?1");
    if (Status s = q.bind(1, name).bind(2, hash).run(); !s) return s;
    return db.changes() == 0 ? not_found(name) : Status{};
}

Status set_role(Db& db, std::string_view name, Role role) {
    Query q = db.query("UPDATE users SET role = ?2 WHERE name = ?1");
    if (Status s = q.bind(1, name).bind(2, role_name(role)).run(); !s) return s;
    return db.changes() == 0 ? not_found(name) : Status{};
}

Result<std::optional<UserRecord>> get(Db& db, std::string_view name) {
    Query q = db.query("SELECT name, password_hash, role, created_at FROM users WHERE name = ?1");
    q.bind(1, name);
    std::optional<UserRecord> out;
    if (q.next()) out = read_user(q);
    if (!q.status()) return q.status();
    return out;
}

Result<Page<UserRecord>> list(Db& db, std::string_view after, size_t limit) {
    // One row more than asked tells whether another page follows.
    Query q = db.query(
        "SELECT name, password_hash, role, created_at FROM users WHERE name > ?1 ORDER BY name LIMIT ?2");
    q.bind(1, after).bind(2, static_cast<int64_t>(limit + 1));
    Page<UserRecord> page;
    while (q.next()) page.items.push_back(read_user(q));
    if (!q.status()) return q.status();
    if (page.items.size() > limit) {
        page.items.pop_back();
        page.next = page.items.empty() ? std::string() : page.items.back().name;
    }
    return page;
}

Result<uint64_t> count(Db& db) {
    Query q = db.query("SELECT count(*) FROM users");
    uint64_t n = q.next() ? q.u64(0) : 0;
    if (!q.status()) return q.status();
    return n;
}

}  // namespace herald::storage::users
