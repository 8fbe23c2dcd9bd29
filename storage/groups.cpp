// The groups and group_members tables.
#include "storage/tables.h"

namespace herald::storage::groups {
namespace {

Status no_group(std::string_view name) {
    return Status::error(Code::NotFound, "group '" + std::string(name) + "' does not exist");
}

}  // namespace

Status create(Db& db, std::string_view name, uint64_t now_ms) {
    Query q = db.query("INSERT INTO groups (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING");
    if (Status s = q.bind(1, name).bind(2, now_ms).run(); !s) return s;
    if (db.changes() == 0) return Status::error(Code::Exists, "group '" + std::string(name) + "' already exists");
    return {};
}

Status remove(Db& db, std::string_view name) {
    Query q = db.query("DELETE FROM groups WHERE name = ?1");
    if (Status s = q.bind(1, name).run(); !s) return s;
    if (db.changes() == 0) return no_group(name);
    Query m = db.query("DELETE FROM group_members WHERE group_name = ?1");
    return m.bind(1, name).run();
}

Result<std::optional<GroupRecord>> get(Db& db, std::string_view name) {
    Query q = db.query("SELECT name, created_at FROM groups WHERE name = ?1");
    std::optional<GroupRecord> out;
    if (q.bind(1, name).next()) out = GroupRecord{q.text(0), q.u64(1)};
    if (!q.status()) return q.status();
    return out;
}

Result<Page<GroupRecord>> list(Db& db, std::string_view after, size_t limit) {
    Query q = db.query("SELECT name, created_at FROM groups WHERE name > ?1 ORDER BY name LIMIT ?2");
    q.bind(1, after).bind(2, static_cast<int64_t>(limit + 1));
    Page<GroupRecord> page;
    while (q.next()) page.items.push_back(GroupRecord{q.text(0), q.u64(1)});
    if (!q.status()) return q.status();
    if (page.items.size() > limit) {
        page.items.pop_back();
        page.next = page.items.empty() ? std::string() : page.items.back().name;
    }
    return page;
}

Status add_member(Db& db, std::string_view group, std::string_view user, uint64_t now_ms) {
    Result<std::optional<GroupRecord>> g = get(db, group);
    if (!g) return g.status();
    if (!g.value()) return no_group(group);
    Query q = db.query(
        "INSERT INTO group_members (group_name, user, joined_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (group_name, user) DO NOTHING");
    return q.bind(1, group).bind(2, user).bind(3, now_ms).run();
}

Status remove_member(Db& db, std::string_view group, std::string_view user) {
    Query q = db.query("DELETE FROM group_members WHERE group_name = ?1 AND user = ?2");
    if (Status s = q.bind(1, group).bind(2, user).run(); !s) return s;
    if (db.changes() == 0)
        return Status::error(Code::NotFound,
                             "'" + std::string(user) + "' is not a member of group '" + std::string(group) + "'");
    return {};
}

Result<std::vector<GroupMemberRecord>> members(Db& db, std::string_view group) {
    Query q = db.query("SELECT group_name, user, joined_at FROM group_members WHERE group_name = ?1 ORDER BY user");
    q.bind(1, group);
    std::vector<GroupMemberRecord> out;
    while (q.next()) out.push_back(GroupMemberRecord{q.text(0), q.text(1), q.u64(2)});
    if (!q.status()) return q.status();
    return out;
}

Result<std::vector<std::string>> of_user(Db& db, std::string_view user) {
    Query q = db.query("SELECT group_name FROM group_members WHERE user = ?1 ORDER BY group_name");
    q.bind(1, user);
    std::vector<std::string> out;
    while (q.next()) out.push_back(q.text(0));
    if (!q.status()) return q.status();
    return out;
}

Result<std::vector<GroupMemberRecord>> all_members(Db& db) {
    Query q = db.query("SELECT group_name, user, joined_at FROM group_members ORDER BY group_name, user");
    std::vector<GroupMemberRecord> out;
    while (q.next()) out.push_back(GroupMemberRecord{q.text(0), q.text(1), q.u64(2)});
    if (!q.status()) return q.status();
    return out;
}

}  // namespace herald::storage::groups
