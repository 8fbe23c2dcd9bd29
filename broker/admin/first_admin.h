// The first admin: a new broker has no users, so nobody could use the admin API to create
// one. At start, if no user has the admin role, heraldd creates the user `admin` (role admin)
// with the password from HERALD_ADMIN_PASSWORD, or else a generated one printed once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "broker/auth/password_hash.h"
#include "storage/store.h"

namespace herald::admin {

inline constexpr const char* kFirstAdminName = "admin";
inline constexpr const char* kAdminPasswordEnv = "HERALD_ADMIN_PASSWORD";

struct FirstAdmin {
    bool created = false;    // false: an admin existed already, nothing was done
    bool generated = false;  // the password was generated (and printed to `notice`)
    std::string password;    // the generated password (empty otherwise)
};

// HERALD_ADMIN_PASSWORD, or nullopt when it is unset or empty.
std::optional<std::string> admin_password_from_env();

// 16 random bytes (OpenSSL RAND_bytes) in base64url: 22 characters. Empty if the system has
// no randomness to give.
std::string generate_password();

// Synchronous (SqliteStore::exec_now): call after open(), before start(). Idempotent: does
// nothing when some user has the admin role. Else creates `admin` with `password`, or a
// generated one that is printed once to `notice` (stderr in heraldd; null: not printed).
// Hashing takes ~0.2 s, once, before anyone is served. Fails (Exists) when a user named
// `admin` exists without the admin role: heraldd should log that and go on.
storage::Result<FirstAdmin> ensure_first_admin(storage::SqliteStore& store, std::optional<std::string> password,
                                               uint64_t now_wall_ms,
                                               uint32_t iterations = auth::kDefaultPbkdf2Iterations,
                                               std::FILE* notice = stderr);

}  // namespace herald::admin
