// Admin commands on users: createUser, deleteUser, setPassword, listUsers.
//
// A new password is hashed on the libuv thread pool (auth::check_async, Kind MakeHash): the
// hash costs ~0.2 s on purpose and must not stall the loop. The user is looked up first, so a
// taken name or a missing user is answered without paying for a hash.
#include "broker/admin/commands.h"
#include "broker/auth/auth_worker.h"
#include "storage/tables.h"

namespace herald::admin::detail {
namespace {

using storage::Code;
using storage::Status;

constexpr const char* kGone = "the broker is shutting down; try again once it is back";

std::string check_password(const Shared& sh, const json& command, std::string& password) {
    if (std::string e = arg_string(command, "password", password); !e.empty()) return e;
    if (password.empty()) return "argument \"password\" must not be empty";
    if (password.size() > sh.options.max_password_bytes)
        return "argument \"password\" is too long (at most " + std::to_string(sh.options.max_password_bytes) +
               " bytes)";
    return {};
}

// Hashes `password` off the loop; `then(hash)` runs on the loop with the stored form, or
// `done` gets the failure.
void hash_then(const SharedPtr& sh, std::string password, Answer done, std::function<void(std::string)> then) {
    auth::Request req;
    req.kind = auth::Request::Kind::MakeHash;
    req.secret = std::move(password);
    req.iterations = sh->options.hash_iterations;
    auto on_hashed = [sh, done, then = std::move(then)](auth::Result result) {
        if (!sh->alive) return done(Outcome::fail(kGone));
        if (!result.ok || result.hash.empty())
            return done(Outcome::fail("the password could not be hashed (" + result.reason +
                                      "); see the broker's log and try again"));
        then(std::move(result.hash));
    };
    if (int rc = auth::check_async(sh->loop, std::move(req), on_hashed); rc < 0)
        done(Outcome::fail(std::string("the password could not be hashed (") + uv_strerror(rc) + "); try again"));
}

json user_json(const std::string& name, storage::Role role) {
    return json{{"user", name}, {"role", storage::role_name(role)}};
}

// Deleting the last admin would lock every person out of the admin API.
Status remove_unless_last_admin(storage::Db& db, const std::string& user) {
    auto got = storage::users::get(db, user);
    if (!got) return got.status();
    if (!got.value()) return Status::error(Code::NotFound, "user '" + user + "' does not exist");
    if (got.value()->role == storage::Role::Admin) {
        storage::Query q = db.query("SELECT count(*) FROM users WHERE role = 'admin'");
        int64_t admins = q.next() ? q.i64(0) : 0;
        if (!q.status()) return q.status();
        if (admins <= 1)
            return Status::error(Code::Invalid, "'" + user +
                                                    "' is the only admin: create another admin (createUser with "
                                                    "\"role\":\"admin\") before deleting it");
    }
    return storage::users::remove(db, user);
}

}  // namespace

void create_user(const SharedPtr& sh, const json& command, Answer done) {
    std::string user, password, role_text = "user";
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = check_password(*sh, command, password); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = arg_optional_string(command, "role", role_text); !e.empty()) return done(Outcome::fail(e));
    std::optional<storage::Role> role = storage::parse_role(role_text);
    if (!role) return done(Outcome::fail("argument \"role\" must be \"admin\" or \"user\", not \"" + role_text + "\""));

    sh->store.user_get(user, [sh, user, password, role = *role, done](storage::Result<std::optional<storage::UserRecord>> got) mutable {
        if (!got) return done(store_failure(got.status()));
        if (got.value()) return done(Outcome::fail("user '" + user + "' already exists"));
        if (!sh->alive) return done(Outcome::fail(kGone));
        hash_then(sh, std::move(password), done, [sh, user, role, done](std::string hash) {
            storage::UserRecord rec;
            rec.name = user;
            rec.password_hash = std::move(hash);
            rec.role = role;
            rec.created_at_ms = sh->clock.wall_ms();
            storage::UserRecord copy = rec;
            sh->store.user_create(std::move(rec), [sh, copy = std::move(copy), done](const Status& s) {
                if (!s) return done(store_failure(s));
                // The broker's copy first: a CONNECT sent after the answer finds the user.
                if (sh->alive) sh->listener->user_created_in_loop(copy);
                done(Outcome::ok(user_json(copy.name, copy.role)));
            });
        });
    });
}

void delete_user(const SharedPtr& sh, const json& command, Answer done) {
    std::string user;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    sh->store.write([user](storage::Db& db) { return remove_unless_last_admin(db, user); },
                    [sh, user, done](const Status& s) {
                        if (!s) return done(store_failure(s));
                        // Its devices must not stay connected as a user that no longer exists.
                        // The kick first: its offline record must reach its contacts before
                        // the broker's copy of them forgets the user.
                        if (sh->alive) {
                            sh->presence->user_deleted_in_loop(user);
                            sh->listener->user_deleted_in_loop(user);
                        }
                        done(Outcome::ok(json{{"user", user}}));
                    });
}

void set_password(const SharedPtr& sh, const json& command, Answer done) {
    std::string user, password;
    if (std::string e = arg_user(*sh, command, "user", user); !e.empty()) return done(Outcome::fail(e));
    if (std::string e = check_password(*sh, command, password); !e.empty()) return done(Outcome::fail(e));
    sh->store.user_get(user, [sh, user, password, done](storage::Result<std::optional<storage::UserRecord>> got) mutable {
        if (!got) return done(store_failure(got.status()));
        if (!got.value()) return done(Outcome::fail("user '" + user + "' does not exist"));
        if (!sh->alive) return done(Outcome::fail(kGone));
        hash_then(sh, std::move(password), done, [sh, user, done](std::string hash) {
            sh->store.user_set_password_hash(user, hash, [sh, user, hash, done](const Status& s) {
                if (!s) return done(store_failure(s));
                if (sh->alive) sh->listener->password_changed_in_loop(user, hash);
                done(Outcome::ok(json{{"user", user}}));
            });
        });
    });
}

void list_users(const SharedPtr& sh, const json& command, Answer done) {
    std::string cursor;
    size_t limit = 0;
    if (std::string e = arg_page(*sh, command, cursor, limit); !e.empty()) return done(Outcome::fail(e));
    sh->store.users_list(cursor, limit, [done](storage::Result<storage::Page<storage::UserRecord>> page) {
        if (!page) return done(store_failure(page.status()));
        json users = json::array();
        for (const storage::UserRecord& u : page->items) users.push_back(user_json(u.name, u.role));
        done(Outcome::ok(json{{"users", std::move(users)}, {"cursor", cursor_json(page->next)}}));
    });
}

}  // namespace herald::admin::detail
