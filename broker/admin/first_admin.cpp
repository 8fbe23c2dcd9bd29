// Creating the first admin at start (see first_admin.h). Runs before the loop, so the slow
// hash may run on the calling thread here.
#include "broker/admin/first_admin.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "broker/auth/base64.h"
#include "storage/tables.h"

namespace herald::admin {

using storage::Code;
using storage::Status;

std::optional<std::string> admin_password_from_env() {
    const char* p = std::getenv(kAdminPasswordEnv);
    if (!p || !*p) return std::nullopt;
    return std::string(p);
}

std::string generate_password() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
    return auth::base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

storage::Result<FirstAdmin> ensure_first_admin(storage::SqliteStore& store, std::optional<std::string> password,
                                               uint64_t now_wall_ms, uint32_t iterations, std::FILE* notice) {
    bool has_admin = false;
    Status s = store.exec_now([&](storage::Db& db) {
        storage::Query q = db.query("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1");
        has_admin = q.next();
        return q.status();
    });
    if (!s) return s;
    if (has_admin) return FirstAdmin{};

    FirstAdmin out;
    out.created = true;
    if (!password) {
        out.generated = true;
        out.password = generate_password();
        if (out.password.empty())
            return Status::error(Code::Invalid, "cannot generate a password for the first admin: no randomness");
        password = out.password;
    }
    storage::UserRecord admin;
    admin.name = kFirstAdminName;
    admin.password_hash = auth::hash_password(*password, iterations);
    admin.role = storage::Role::Admin;
    admin.created_at_ms = now_wall_ms;
    if (admin.password_hash.empty())
        return Status::error(Code::Invalid, "cannot hash the first admin's password");
    s = store.exec_now([&](storage::Db& db) {
        Status c = storage::users::create(db, admin);
        if (c.code() == Code::Exists)
            return Status::error(Code::Exists, std::string("no user has the admin role, and a user '") +
                                                   kFirstAdminName +
                                                   "' exists without it: give a user the admin role in the "
                                                   "database, or delete that user, then restart");
        return c;
    });
    if (!s) return s;
    if (out.generated && notice) {
        std::fprintf(notice,
                     "heraldd: created the first admin, user '%s' with password '%s'\n"
                     "heraldd: this password is shown only once; change it with `herald user passwd %s` "
                     "(or set %s before the first start)\n",
                     kFirstAdminName, out.password.c_str(), kFirstAdminName, kAdminPasswordEnv);
        std::fflush(notice);
    }
    return out;
}

}  // namespace herald::admin
