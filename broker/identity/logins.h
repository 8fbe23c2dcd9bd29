// The broker's in-memory copy of what a CONNECT's check reads from the store (SPEC 2): each
// user's password hash and role, and each user's ban. With it, a CONNECT that needs no hash
// or signature checked (no password to check, an unknown user let in, a ban, a known user
// without a password) is answered on the loop at once, with no store read: presence churn
// (thousands of named users connecting per second) costs no trip to the writer thread.
//
// Loaded synchronously at start (before the store's writer thread starts), then kept current
// on the loop thread by the admin API's ChangeListener calls after each commit (createUser,
// setPassword, deleteUser, banUser, unbanUser) and by StoreIdentity's own hash upgrades, as
// GroupMembers and Contacts are. So the copy never holds what the store does not; it may lag a
// commit by one loop turn (the admin reply is sent after the copy changed).
//
// Bans are kept with their end time; an ended ban is ignored at once and forgotten the next
// time the user is looked up or changed (the store purges its own at start).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/records.h"
#include "storage/result.h"

namespace herald::storage {
class SqliteStore;
}

namespace herald::identity {

class Logins {
public:
    struct User {
        std::string password_hash;  // the users table's self-describing form; empty: none
        storage::Role role = storage::Role::User;
    };
    struct Ban {
        uint64_t until_ms = 0;  // wall clock
        std::string reason;
    };

    // Replaces the whole copy.
    void assign(const std::vector<storage::UserRecord>& users, const std::vector<storage::BanRecord>& bans);
    // Reads every user and every ban still running at now_ms with SqliteStore::exec_now:
    // before start() only.
    storage::Status load(storage::SqliteStore& store, uint64_t now_ms);

    // The user's row, or null.
    const User* user(std::string_view name) const;
    // The user's ban if it runs past now_ms, else null (an ended one is forgotten).
    const Ban* active_ban(std::string_view name, uint64_t now_ms);

    // The admin API's changes, after commit.
    void user_created(const storage::UserRecord& user);
    void password_changed(const std::string& name, const std::string& hash);
    // A hash upgrade: applied only if the copy still holds `old_hash` (as the store's UPDATE).
    void password_upgraded(const std::string& name, const std::string& old_hash, const std::string& hash);
    void user_deleted(const std::string& name);  // its ban goes too
    void banned(const storage::BanRecord& ban);
    void unbanned(const std::string& name);

    size_t users() const { return users_.size(); }
    size_t bans() const { return bans_.size(); }  // ended ones included until looked up

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    template <class V>
    using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;

    Map<User> users_;
    Map<Ban> bans_;
};

}  // namespace herald::identity
