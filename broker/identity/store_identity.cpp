// StoreIdentity: one CONNECT's way through ban, users row, plan, and the thread-pool check.
#include "broker/identity/store_identity.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "broker/auth/auth_worker.h"
#include "broker/auth/password_hash.h"
#include "broker/identity/auth_setup.h"
#include "broker/identity/check_plan.h"
#include "storage/tables.h"

namespace herald::identity {

using core::Verdict;
using mqtt::ReasonCode;

struct StoreIdentity::State {
    State(storage::SqliteStore& s, uv_loop_t* l, const core::Clock& c, Logins lg)
        : store(s), loop(l), clock(c), logins(std::move(lg)) {}
    storage::SqliteStore& store;
    uv_loop_t* loop;
    const core::Clock& clock;
    bool alive = true;  // false once the StoreIdentity is destroyed
    size_t in_flight = 0;
    size_t max_in_flight = 64;
    Policy policy;
    AuthSetup setup;
    uint32_t hash_iterations = auth::kDefaultPbkdf2Iterations;
    Logins logins;  // users and bans, as the store has them
};

namespace {

using StatePtr = std::shared_ptr<StoreIdentity::State>;

// One CONNECT whose check went to the pool.
struct Job {
    core::Credentials who;
    std::function<void(Verdict)> done;
};
using JobPtr = std::shared_ptr<Job>;

void wipe(std::optional<std::string>& secret) {
    if (!secret) return;
    OPENSSL_cleanse(secret->data(), secret->size());
    secret.reset();
}

// A verdict given on the loop, before authenticate_in_loop() returns.
void answer(core::Credentials& who, const std::function<void(Verdict)>& done, Verdict v) {
    wipe(who.password);
    done(std::move(v));
}

void finish_pooled(const StatePtr& st, const JobPtr& job, Verdict v) {
    --st->in_flight;
    answer(job->who, job->done, std::move(v));
}

Verdict refused(ReasonCode reason, std::string why) { return Verdict{reason, false, std::move(why)}; }

std::string ban_sentence(const Logins::Ban& ban, uint64_t now_ms) {
    std::string s = "banned for " + std::to_string((ban.until_ms - now_ms + 999) / 1000) + " more seconds";
    if (!ban.reason.empty()) s += " (" + ban.reason + ")";
    return s;
}

// After a good password against a weak hash: hash it again, store it if the row still holds
// the old hash (a setPassword meanwhile wins), and then the in-memory copy likewise.
void rehash(const StatePtr& st, std::string user, std::string password, std::string old_hash) {
    auth::Request req;
    req.kind = auth::Request::Kind::MakeHash;
    req.secret = std::move(password);
    req.iterations = st->hash_iterations;
    int rc = auth::check_async(st->loop, std::move(req), [st, user, old_hash](auth::Result r) {
        if (!st->alive || !r.ok) return;
        st->store.write(
            [user, old_hash, hash = r.hash](storage::Db& db) {
                storage::Query q = db.query("UPDATE users SET password_hash = ?3 WHERE name = ?1 AND password_hash = ?2");
                return q.bind(1, user).bind(2, old_hash).bind(3, hash).run();
            },
            [st, user, old_hash, hash = std::move(r.hash)](const storage::Status& s) {
                if (!s) return spdlog::warn("cannot upgrade the password hash of user '{}': {}", user, s.message());
                if (st->alive) st->logins.password_upgraded(user, old_hash, hash);
                spdlog::info("password hash of user '{}' upgraded", user);
            });
    });
    if (rc < 0) spdlog::warn("cannot upgrade the password hash of user '{}': {}", user, uv_strerror(rc));
}

// A named CONNECT: decided from the in-memory users and bans, on the loop at once unless a
// hash or a token is to be checked, which goes to the pool.
void check(const StatePtr& st, core::Credentials& who, std::function<void(Verdict)>& done) {
    const uint64_t now_ms = st->clock.wall_ms();
    const std::string& username = *who.username;
    if (const Logins::Ban* ban = st->logins.active_ban(username, now_ms))
        return answer(who, done, refused(ReasonCode::Banned, ban_sentence(*ban, now_ms)));

    const Logins::User* user = st->logins.user(username);
    // The listener's CA vouched for the name: no password, known user or not (mosquitto's
    // use_identity_as_username); the users table still says whether it is an admin.
    if (who.certified) return answer(who, done, Verdict{ReasonCode::Success, user && user->role == storage::Role::Admin, {}});
    const bool has_password = who.password.has_value();
    Claim claim;
    claim.has_username = true;
    claim.has_password = has_password;
    claim.looks_like_jwt = has_password && auth::looks_like_jwt(*who.password);
    claim.in_users_table = user != nullptr;
    claim.in_password_file = st->setup.password_file && st->setup.password_file->contains(username);
    const Plan plan = plan_check(claim, st->policy);

    auth::Request req;
    req.username = username;
    switch (plan) {
        case Plan::AcceptAnonymous:
        case Plan::AcceptUnknown: return answer(who, done, Verdict{});
        case Plan::RefuseAnonymous: return answer(who, done, refused(ReasonCode::NotAuthorized, "anonymous not allowed"));
        case Plan::RefuseNoPassword:
            return answer(who, done, refused(ReasonCode::BadUserNameOrPassword, "no password given"));
        case Plan::RefuseUnknown: return answer(who, done, refused(ReasonCode::BadUserNameOrPassword, "unknown user"));
        case Plan::Token:
            req.kind = auth::Request::Kind::Token;
            req.jwt = st->setup.jwt;
            req.now_unix = static_cast<int64_t>(now_ms / 1000);
            break;
        case Plan::StoredHash: {
            // A hash that cannot be read (none at all) matches no password: no need to pay
            // for the pool to learn it (the pool's answer, word for word).
            auth::ParsedHash parsed;
            if (!auth::parse_password_hash(user->password_hash, parsed))
                return answer(who, done, refused(ReasonCode::BadUserNameOrPassword, "bad user name or password"));
            req.kind = auth::Request::Kind::StoredHash;
            req.stored_hash = user->password_hash;
            break;
        }
        case Plan::PasswordFile:
            req.kind = auth::Request::Kind::PasswordFile;
            req.password_file = st->setup.password_file;
            break;
    }
    // The pool is the scarce part (0.1-0.2 s per hash): only what goes there is capped.
    if (st->in_flight >= st->max_in_flight)
        return answer(who, done, refused(ReasonCode::ServerBusy, "too many logins being checked (max_pending_checks = " +
                                                                     std::to_string(st->max_in_flight) + ")"));
    ++st->in_flight;
    const bool admin = user && user->role == storage::Role::Admin;
    // The password is kept past the check only when a weak stored hash will be replaced.
    std::optional<std::string> keep;
    if (plan == Plan::StoredHash && auth::needs_rehash(req.stored_hash, st->hash_iterations)) keep = *who.password;
    std::string old_hash = plan == Plan::StoredHash ? req.stored_hash : std::string();
    req.secret = std::move(*who.password);
    wipe(who.password);
    auto job = std::make_shared<Job>(Job{std::move(who), std::move(done)});

    int rc = auth::check_async(
        st->loop, std::move(req),
        [st, job, admin, plan, keep = std::move(keep), old_hash = std::move(old_hash)](auth::Result r) mutable {
            if (!st->alive) return wipe(keep);
            if (!r.ok) {
                wipe(keep);
                const bool token = plan == Plan::Token;
                return finish_pooled(st, job,
                                     refused(ReasonCode::BadUserNameOrPassword,
                                             (token ? "token refused: " : "") +
                                                 (r.reason.empty() ? std::string("bad user name or password") : r.reason)));
            }
            if (keep) {
                rehash(st, *job->who.username, std::move(*keep), std::move(old_hash));
                wipe(keep);
            }
            finish_pooled(st, job, Verdict{ReasonCode::Success, admin, {}});
        });
    if (rc < 0)
        finish_pooled(st, job, refused(ReasonCode::ServerUnavailable, std::string("cannot queue the check: ") + uv_strerror(rc)));
}

}  // namespace

StoreIdentity::StoreIdentity(storage::SqliteStore& store, uv_loop_t* loop, const core::Clock& clock,
                             GroupMembers groups, Contacts contacts, Logins logins)
    : state_(std::make_shared<State>(store, loop, clock, std::move(logins))),
      groups_(std::move(groups)),
      contacts_(std::move(contacts)) {}

StoreIdentity::~StoreIdentity() { state_->alive = false; }

std::string StoreIdentity::configure(const core::Config& config) {
    AuthSetup setup;
    if (std::string error = load_auth_setup(config, setup); !error.empty()) return error;
    State& st = *state_;
    st.setup = std::move(setup);
    st.policy.allow_anonymous = config.allow_anonymous;
    st.policy.jwt_configured = st.setup.jwt != nullptr;
    st.policy.have_password_file = st.setup.password_file != nullptr;
    st.max_in_flight = config.auth.max_pending_checks;
    visibility_ = visibility_policy(config.presence_visibility, config.presence_group_limit);
    return {};
}

void StoreIdentity::set_hash_iterations(uint32_t iterations) { state_->hash_iterations = iterations; }

size_t StoreIdentity::checks_in_flight() const { return state_->in_flight; }

void StoreIdentity::authenticate_in_loop(core::Credentials who, std::function<void(Verdict)> done) {
    State& st = *state_;
    if (!who.username) {
        // The fast path: no store, no pool, answered before returning.
        if (st.policy.allow_anonymous) return done(Verdict{});
        return done(refused(ReasonCode::NotAuthorized, "anonymous not allowed"));
    }
    check(state_, who, done);
}

bool StoreIdentity::is_group_member(std::string_view group, std::string_view user) const {
    return groups_.contains(group, user);
}

bool StoreIdentity::may_see_presence(std::string_view viewer, std::string_view owner) const {
    return identity::may_see_presence(visibility_, contacts_, groups_, viewer, owner);
}

void StoreIdentity::group_deleted_in_loop(const std::string& group) { groups_.remove_group(group); }

void StoreIdentity::group_member_added_in_loop(const std::string& group, const std::string& user) {
    groups_.add(group, user);
}

void StoreIdentity::group_member_removed_in_loop(const std::string& group, const std::string& user) {
    groups_.remove(group, user);
}

void StoreIdentity::contact_added_in_loop(const std::string& a, const std::string& b) { contacts_.add(a, b); }

void StoreIdentity::contact_removed_in_loop(const std::string& a, const std::string& b) { contacts_.remove(a, b); }

void StoreIdentity::user_deleted_in_loop(const std::string& user) {
    groups_.remove_user(user);
    contacts_.remove_user(user);
    state_->logins.user_deleted(user);
}

void StoreIdentity::user_created_in_loop(const storage::UserRecord& user) { state_->logins.user_created(user); }

void StoreIdentity::password_changed_in_loop(const std::string& user, const std::string& hash) {
    state_->logins.password_changed(user, hash);
}

void StoreIdentity::user_banned_in_loop(const storage::BanRecord& ban) { state_->logins.banned(ban); }

void StoreIdentity::user_unbanned_in_loop(const std::string& user) { state_->logins.unbanned(user); }

const Logins& StoreIdentity::logins() const { return state_->logins; }

}  // namespace herald::identity
