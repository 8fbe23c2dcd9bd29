// Logins: users and bans by name, their loading from the store and the admin API's changes.
#include "broker/identity/logins.h"

#include "storage/store.h"
#include "storage/tables.h"

namespace herald::identity {

namespace {
constexpr size_t kLoadPage = 10000;  // users read per query at start
}

void Logins::assign(const std::vector<storage::UserRecord>& users, const std::vector<storage::BanRecord>& bans) {
    users_.clear();
    bans_.clear();
    for (const storage::UserRecord& u : users) user_created(u);
    for (const storage::BanRecord& b : bans) banned(b);
}

storage::Status Logins::load(storage::SqliteStore& store, uint64_t now_ms) {
    std::vector<storage::UserRecord> users;
    std::vector<storage::BanRecord> bans;
    storage::Status s = store.exec_now([&](storage::Db& db) {
        std::string after;
        do {
            auto page = storage::users::list(db, after, kLoadPage);
            if (!page) return page.status();
            for (storage::UserRecord& u : page->items) users.push_back(std::move(u));
            after = page->next;
        } while (!after.empty());
        auto active = storage::bans::active(db, now_ms);
        if (!active) return active.status();
        bans = std::move(active.value());
        return storage::Status{};
    });
    if (s) assign(users, bans);
    return s;
}

const Logins::User* Logins::user(std::string_view name) const {
    auto it = users_.find(name);
    return it == users_.end() ? nullptr : &it->second;
}

const Logins::Ban* Logins::active_ban(std::string_view name, uint64_t now_ms) {
    if (bans_.empty()) return nullptr;  // the usual case: one test, no hash
    auto it = bans_.find(name);
    if (it == bans_.end()) return nullptr;
    if (it->second.until_ms > now_ms) return &it->second;
    bans_.erase(it);
    return nullptr;
}

void Logins::user_created(const storage::UserRecord& user) {
    users_.insert_or_assign(user.name, User{user.password_hash, user.role});
}

void Logins::password_changed(const std::string& name, const std::string& hash) {
    auto it = users_.find(name);
    if (it != users_.end()) it->second.password_hash = hash;
}

void Logins::password_upgraded(const std::string& name, const std::string& old_hash, const std::string& hash) {
    auto it = users_.find(name);
    if (it != users_.end() && it->second.password_hash == old_hash) it->second.password_hash = hash;
}

void Logins::user_deleted(const std::string& name) {
    users_.erase(name);
    bans_.erase(name);
}

void Logins::banned(const storage::BanRecord& ban) { bans_.insert_or_assign(ban.user, Ban{ban.until_ms, ban.reason}); }

void Logins::unbanned(const std::string& name) { bans_.erase(name); }

}  // namespace herald::identity
