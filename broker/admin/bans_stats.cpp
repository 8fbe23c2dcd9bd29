// Admin commands banUser, unbanUser (the bans table) and getStats (counts from the store).
//
// A ban is stored with its end time (wall clock); core refuses the user's CONNECTs until then
// and, told through PresenceQuery::user_banned_in_loop, disconnects the devices it has now.
// The Identity's in-memory copy of the bans hears of both through the ChangeListener.
#include "broker/admin/commands.h"
#include "storage/tables.h"

namespace herald::admin::detail {
namespace {

using storage::Code;
using storage::Db;
using storage::Status;

constexpr uint64_t kMaxBanSeconds = 10ull * 366 * 24 * 3600;  // ten years: longer is a typo

struct Stats {
    int64_t users = 0, admins = 0, groups = 0, group_members = 0, contacts = 0, bans = 0, sessions = 0,
            retained = 0, stream_entries = 0;
};

// `sql` is a literal (Db caches statements by its address).
Status count(Db& db, const char* sql, int64_t& out, uint64_t now_ms = 0) {
    storage::Query q = db.query(sql);
    if (now_ms) q.bind(1, now_ms);
    out = q.next() ? q.i64(0) : 0;
    return q.status();
}

storage::Result<Stats> read_stats(Db& db, uint64_t now_ms) {
    Stats s;
    Status st;
    if ((st = count(db, "SELECT count(*) FROM users", s.users)) &&
        (st = count(db, "SELECT count(*) FROM users WHERE role = 'admin'", s.admins)) &&
        (st = count(db, "SELECT count(*) FROM groups", s.groups)) &&
        (st = count(db, "SELECT count(*) FROM group_members", s.group_members)) &&
        (st = count(db, "SELECT count(*) FROM contacts", s.contacts)) &&
        (st = count(db, "SELECT count(*) FROM bans WHERE until_ms > ?1", s.bans, now_ms)) &&
        (st = count(db, "SELECT count(*) FROM sessions", s.sessions)) &&
        (st = count(db, "SELECT count(*) FROM retained", s.retained)) &&
        (st = count(db, "SELECT count(*) FROM stream_entries", s.stream_entries)))
        return s;
    return st;
}

}  // namespace

void ban_user(const SharedPtr& sh, const json& command, Answer done) {
    std::string user, reason;
    uint64_t seconds = 0;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_uint(command, "seconds", 1, kMaxBanSeconds, seconds, true); !e.empty())
        return done(Outcome::fail(e));
    if (std::string e = arg_optional_string(command, "reason", reason); !e.empty()) return done(Outcome::fail(e));
    storage::BanRecord ban{user, sh->clock.wall_ms() + seconds * 1000, reason};
    sh->store.write(
        [ban](Db& db) {
            auto got = storage::users::get(db, ban.user);
            if (!got) return got.status();
            if (!got.value()) return Status::error(Code::NotFound, "user '" + ban.user + "' does not exist");
            return storage::bans::set(db, ban);
        },
        [sh, ban, seconds, done](const Status& s) {
            if (!s) return done(store_failure(s));
            if (sh->alive) {
                sh->listener->user_banned_in_loop(ban);  // before the kick: no device gets back in
                sh->presence->user_banned_in_loop(ban.user, ban.until_ms, ban.reason);
            }
            done(Outcome::ok(json{
                {"user", ban.user}, {"seconds", seconds}, {"until_ms", ban.until_ms}, {"reason", ban.reason}}));
        });
}

void unban_user(const SharedPtr& sh, const json& command, Answer done) {
    std::string user;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->store.ban_remove(user, [sh, user, done](const Status& s) {
        if (!s) return done(store_failure(s));
        if (sh->alive) sh->listener->user_unbanned_in_loop(user);
        done(Outcome::ok(json{{"user", user}}));
    });
}

void get_stats(const SharedPtr& sh, const json&, Answer done) {
    uint64_t now = sh->clock.wall_ms();
    sh->store.read<Stats>([now](Db& db) { return read_stats(db, now); },
                          [done](storage::Result<Stats> s) {
                              if (!s) return done(store_failure(s.status()));
                              done(Outcome::ok(json{{"users", s->users},
                                                    {"admins", s->admins},
                                                    {"groups", s->groups},
                                                    {"groupMembers", s->group_members},
                                                    {"contacts", s->contacts},
                                                    {"activeBans", s->bans},
                                                    {"sessions", s->sessions},
                                                    {"retained", s->retained},
                                                    {"streamEntries", s->stream_entries}}));
                          });
}

}  // namespace herald::admin::detail
