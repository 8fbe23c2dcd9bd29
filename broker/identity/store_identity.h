// StoreIdentity: heraldd's core::Identity (SPEC 2), over the SQLite store, the JWT keys and
// the password file; and the keeper of the in-memory group membership (SPEC 3) and contacts,
// from which it answers SPEC 4's presence visibility (presence_visibility.h).
//
// A CONNECT with a username is decided from the in-memory users and bans (logins.h, loaded at
// start and kept current by the admin API like groups and contacts): no store read. If a
// password or token is to be checked, that is one job on the libuv thread pool
// (auth::check_async); otherwise (no password needed, an unknown user let in, a refusal, a
// ban) the verdict is given before authenticate_in_loop() returns. Nothing slow runs on the
// loop. The order of the checks is check_plan.h's; a ban (until > now) refuses first, with
// 0x8A Banned (3.1.1: 0x05). A certified CONNECT (the username is a verified client
// certificate's CN, Credentials::certified) is let in after the ban check with no password.
//
// Bounds: at most max_pending_checks hash or token checks are queued on the pool at once; one
// more is refused with 0x89 Server busy (3.1.1: 0x03), so a flood of logins cannot queue
// unbounded work behind the thread pool (four threads, 0.1-0.2 s per hash). What needs no
// check is not capped (a thousand users with no password to check, as in the chat benchmark,
// connect at once).
//
// A password accepted against a weak stored hash (an imported mosquitto "$7$" hash, fewer
// iterations than today's) is re-hashed on the pool afterwards and stored, unless the hash
// changed meanwhile (setPassword wins).
//
// Lifetime: callbacks of the store and the pool may come after the StoreIdentity is gone (at
// shutdown): they find its shared state marked dead and do nothing (the Broker, gone too,
// waits for no verdict).
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>

#include "broker/admin/control_api.h"
#include "broker/core/clock.h"
#include "broker/core/config.h"
#include "broker/core/identity.h"
#include "broker/identity/contacts.h"
#include "broker/identity/group_members.h"
#include "broker/identity/logins.h"
#include "broker/identity/presence_visibility.h"
#include "storage/store.h"

namespace herald::identity {

class StoreIdentity final : public core::Identity, public admin::ChangeListener {
public:
    // The store, the loop and the clock must outlive it. `groups`, `contacts` and `logins`:
    // loaded at start (GroupMembers::load, Contacts::load, Logins::load, before the store's
    // start()).
    StoreIdentity(storage::SqliteStore& store, uv_loop_t* loop, const core::Clock& clock, GroupMembers groups,
                  Contacts contacts = {}, Logins logins = {});
    ~StoreIdentity() override;
    StoreIdentity(const StoreIdentity&) = delete;
    StoreIdentity& operator=(const StoreIdentity&) = delete;

    // Applies `config` (allow_anonymous, [auth], password_file, presence.visibility and
    // group_limit): at start and on SIGHUP. All or nothing: on error (a key or file that
    // cannot be read) the running setup stays, and the sentence says why.
    std::string configure(const core::Config& config);

    // Password hashes made by re-hashing use this many PBKDF2 iterations (tests lower it).
    void set_hash_iterations(uint32_t iterations);

    void authenticate_in_loop(core::Credentials who, std::function<void(core::Verdict)> done) override;
    bool is_group_member(std::string_view group, std::string_view user) const override;
    bool may_see_presence(std::string_view viewer, std::string_view owner) const override;

    // admin::ChangeListener: the admin API committed a change.
    void group_deleted_in_loop(const std::string& group) override;
    void group_member_added_in_loop(const std::string& group, const std::string& user) override;
    void group_member_removed_in_loop(const std::string& group, const std::string& user) override;
    void contact_added_in_loop(const std::string& a, const std::string& b) override;
    void contact_removed_in_loop(const std::string& a, const std::string& b) override;
    void user_deleted_in_loop(const std::string& user) override;
    void user_created_in_loop(const storage::UserRecord& user) override;
    void password_changed_in_loop(const std::string& user, const std::string& hash) override;
    void user_banned_in_loop(const storage::BanRecord& ban) override;
    void user_unbanned_in_loop(const std::string& user) override;

    size_t checks_in_flight() const;
    const GroupMembers& groups() const { return groups_; }
    const Contacts& contacts() const { return contacts_; }
    const VisibilityPolicy& visibility() const { return visibility_; }
    const Logins& logins() const;

    struct State;  // shared with the callbacks in flight (store_identity.cpp)

private:
    std::shared_ptr<State> state_;
    GroupMembers groups_;
    Contacts contacts_;
    VisibilityPolicy visibility_;
};

}  // namespace herald::identity
