// The contacts table: each symmetric pair stored once, as (smaller name, larger name), so
// that "a and b are contacts" has one row to find, add or remove whichever way it is asked.
#include "storage/tables.h"

#include <algorithm>

namespace herald::storage::contacts {
namespace {

std::pair<std::string_view, std::string_view> ordered(std::string_view a, std::string_view b) {
    return a < b ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace

Status add(Db& db, std::string_view a, std::string_view b, uint64_t now_ms) {
    if (a == b) return Status::error(Code::Invalid, "a user cannot be its own contact");
    auto [x, y] = ordered(a, b);
    Query q = db.query(
        "INSERT INTO contacts (user_a, user_b, created_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (user_a, user_b) DO NOTHING");
    return q.bind(1, x).bind(2, y).bind(3, now_ms).run();
}

Status remove(Db& db, std::string_view a, std::string_view b) {
    auto [x, y] = ordered(a, b);
    Query q = db.query("DELETE FROM contacts WHERE user_a = ?1 AND user_b = ?2");
    if (Status s = q.bind(1, x).bind(2, y).run(); !s) return s;
    if (db.changes() == 0)
        return Status::error(Code::NotFound,
                             "'" + std::string(a) + "' and '" + std::string(b) + "' are not contacts");
    return {};
}

Result<bool> are_contacts(Db& db, std::string_view a, std::string_view b) {
    auto [x, y] = ordered(a, b);
    Query q = db.query("SELECT 1 FROM contacts WHERE user_a = ?1 AND user_b = ?2");
    bool found = q.bind(1, x).bind(2, y).next();
    if (!q.status()) return q.status();
    return found;
}

Result<std::vector<std::string>> of_user(Db& db, std::string_view user) {
    Query q = db.query(
        "SELECT user_b FROM contacts WHERE user_a = ?1 UNION ALL "
        "SELECT user_a FROM contacts WHERE user_b = ?1 ORDER BY 1");
    q.bind(1, user);
    std::vector<std::string> out;
    while (q.next()) out.push_back(q.text(0));
    if (!q.status()) return q.status();
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> all_pairs(Db& db) {
    Query q = db.query("SELECT user_a, user_b FROM contacts ORDER BY user_a, user_b");
    std::vector<std::pair<std::string, std::string>> out;
    while (q.next()) out.emplace_back(q.text(0), q.text(1));
    if (!q.status()) return q.status();
    return out;
}

}  // namespace herald::storage::contacts
