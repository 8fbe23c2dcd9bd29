// StoreIdentity: one CONNECT's way through ban, users row, plan, and the thread-pool check.
#include "broker/identity/store_identity.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "broker/auth/auth_worker.h"
#include "broker/identity/auth_setup.h"
#include "broker/identity/check_plan.h"
#include "storage/tables.h"

namespace herald::identity {

using core::Verdict;
using mqtt::ReasonCode;

struct StoreIdentity::State {
    State(storage::SqliteStore& s, uv_loop_t* l, const core::Clock& c) : store(s), loop(l), clock(c) {}
    storage::SqliteStore& store;
    uv_loop_t* loop;
    const core::Clock& clock;
    bool alive = true;  // false once the StoreIdentity is destroyed
    size_t in_flight = 0;
    size_t max_in_flight = 64;
    Policy policy;
    AuthSetup setup;
    uint32_t hash_iterations = auth::kDefaultPbkdf2Iterations;
};

namespace {

using StatePtr = std::shared_ptr<StoreIdentity::State>;

// One CONNECT being checked.
struct Job {
    core::Credentials who;
    std::function<void(Verdict)> done;
    bool on_pool = false;  // counted in State::in_flight (a hash or token check queued)
};
using JobPtr = std::shared_ptr<Job>;

// What the store knows about a username.
struct Known {
    std::optional<storage::BanRecord> ban;
    std::optional<storage::UserRecord> user;
};

void wipe(std::optional<std::string>& secret) {
    if (!secret) return;
    OPENSSL_cleanse(secret->data(), secret->size());
    secret.reset();
}

void finish(const StatePtr& st, const JobPtr& job, Verdict v) {
    if (job->on_pool) --st->in_flight;
    wipe(job->who.password);
    job->done(std::move(v));
}

Verdict refused(ReasonCode reason, std::string why) { return Verdict{reason, false, std::move(why)}; }

std::string ban_sentence(const storage::BanRecord& ban, uint64_t now_ms) {
    std::string s = "banned for " + std::to_string((ban.until_ms - now_ms + 999) / 1000) + " more seconds";
    if (!ban.reason.empty()) s += " (" + ban.reason + ")";
    return s;
}

// After a good password against a weak hash: hash it again, store it if the row still holds
// the old hash (a setPassword meanwhile wins).
void rehash(const StatePtr& st, std::string user, std::string password, std::string old_hash) {
    auth::Request req;
    req.kind = auth::Request::Kind::MakeHash;
    req.secret = std::move(password);
    req.iterations = st->hash_iterations;
    int rc = auth::check_async(st->loop, std::move(req), [st, user, old_hash](auth::Result r) {
        if (!st->alive || !r.ok) return;
        st->store.write(
            [user, old_hash, hash = std::move(r.hash)](storage::Db& db) {
                storage::Query q = db.query("UPDATE users SET password_hash = ?3 WHERE name = ?1 AND password_hash = ?2");
                return q.bind(1, user).bind(2, old_hash).bind(3, hash).run();
            },
            [user](const storage::Status& s) {
                if (s) spdlog::info("password hash of user '{}' upgraded", user);
                else spdlog::warn("cannot upgrade the password hash of user '{}': {}", user, s.message());
            });
    });
    if (rc < 0) spdlog::warn("cannot upgrade the password hash of user '{}': {}", user, uv_strerror(rc));
}

// The store answered: decide, and check on the pool if there is something to check.
void on_known(const StatePtr& st, const JobPtr& job, storage::Result<Known> known) {
    if (!known)
        return finish(st, job, refused(ReasonCode::ServerUnavailable, "cannot read the users table: " + known.error()));
    const uint64_t now_ms = st->clock.wall_ms();
    const Known& k = known.value();
    if (k.ban && k.ban->until_ms > now_ms) return finish(st, job, refused(ReasonCode::Banned, ban_sentence(*k.ban, now_ms)));

    const std::string& username = *job->who.username;
    const bool has_password = job->who.password.has_value();
    Claim claim;
    claim.has_username = true;
    claim.has_password = has_password;
    claim.looks_like_jwt = has_password && auth::looks_like_jwt(*job->who.password);
    claim.in_users_table = k.user.has_value();
    claim.in_password_file = st->setup.password_file && st->setup.password_file->contains(username);
    const Plan plan = plan_check(claim, st->policy);

    auth::Request req;
    req.username = username;
    switch (plan) {
        case Plan::AcceptAnonymous:
        case Plan::AcceptUnknown: return finish(st, job, Verdict{});
        case Plan::RefuseAnonymous: return finish(st, job, refused(ReasonCode::NotAuthorized, "anonymous not allowed"));
        case Plan::RefuseNoPassword: return finish(st, job, refused(ReasonCode::BadUserNameOrPassword, "no password given"));
        case Plan::RefuseUnknown: return finish(st, job, refused(ReasonCode::BadUserNameOrPassword, "unknown user"));
        case Plan::Token:
            req.kind = auth::Request::Kind::Token;
            req.jwt = st->setup.jwt;
            req.now_unix = static_cast<int64_t>(now_ms / 1000);
            break;
        case Plan::StoredHash:
            req.kind = auth::Request::Kind::StoredHash;
            req.stored_hash = k.user->password_hash;
            break;
        case Plan::PasswordFile:
            req.kind = auth::Request::Kind::PasswordFile;
            req.password_file = st->setup.password_file;
            break;
    }
    // The pool is the scarce part (0.1-0.2 s per hash): only what goes there is capped.
    if (st->in_flight >= st->max_in_flight)
        return finish(st, job, refused(ReasonCode::ServerBusy, "too many logins being checked (max_pending_checks = " +
                                                                   std::to_string(st->max_in_flight) + ")"));
    ++st->in_flight;
    job->on_pool = true;
    const bool admin = k.user && k.user->role == storage::Role::Admin;
    // The password is kept past the check only when a weak stored hash will be replaced.
    std::optional<std::string> keep;
    if (plan == Plan::StoredHash && auth::needs_rehash(req.stored_hash, st->hash_iterations)) keep = *job->who.password;
    std::string old_hash = plan == Plan::StoredHash ? req.stored_hash : std::string();
    req.secret = std::move(*job->who.password);
    wipe(job->who.password);

    int rc = auth::check_async(
        st->loop, std::move(req),
        [st, job, admin, plan, keep = std::move(keep), old_hash = std::move(old_hash)](auth::Result r) mutable {
            if (!st->alive) return wipe(keep);
            if (!r.ok) {
                wipe(keep);
                const bool token = plan == Plan::Token;
                return finish(st, job,
                              refused(ReasonCode::BadUserNameOrPassword,
                                      (token ? "token refused: " : "") +
                                          (r.reason.empty() ? std::string("bad user name or password") : r.reason)));
            }
            if (keep) {
                rehash(st, *job->who.username, std::move(*keep), std::move(old_hash));
                wipe(keep);
            }
            finish(st, job, Verdict{ReasonCode::Success, admin, {}});
        });
    if (rc < 0) finish(st, job, refused(ReasonCode::ServerUnavailable, std::string("cannot queue the check: ") + uv_strerror(rc)));
}

}  // namespace

StoreIdentity::StoreIdentity(storage::SqliteStore& store, uv_loop_t* loop, const core::Clock& clock,
                             GroupMembers groups, Contacts contacts)
    : state_(std::make_shared<State>(store, loop, clock)),
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
    auto job = std::make_shared<Job>(Job{std::move(who), std::move(done)});
    std::string user = *job->who.username;
    StatePtr sp = state_;
    st.store.read<Known>(
        [user](storage::Db& db) -> storage::Result<Known> {
            Known k;
            auto ban = storage::bans::get(db, user);
            if (!ban) return ban.status();
            k.ban = std::move(ban.value());
            auto row = storage::users::get(db, user);
            if (!row) return row.status();
            k.user = std::move(row.value());
            return k;
        },
        [sp, job](storage::Result<Known> known) {
            if (!sp->alive) return;
            on_known(sp, job, std::move(known));
        });
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
}

}  // namespace herald::identity
