// Which check a CONNECT's credentials get (SPEC 2), as a pure decision over what is known
// once the users table has been read: the heart of StoreIdentity, unit-tested on its own.
//
// Order (the first that applies):
//   1. no username: allow_anonymous decides (refused: 0x87 Not authorized, as before);
//   2. a password shaped like a JWT (three base64url parts, "eyJ...") while a JWT key is
//      configured: the token is verified (sub must be the username); no fallback to a
//      password check if it fails;
//   3. a user of the users table: its stored hash;
//   4. a user of the password file (mosquitto_passwd format): that file's hash;
//   5. anyone else: accepted only when allow_anonymous = true and no password file is
//      configured (mosquitto without a password file accepts any username; with one it
//      refuses unlisted users), else 0x86 Bad user name or password.
// A known user without a password is refused (0x86) without a check.
#pragma once

#include <cstdint>

namespace herald::identity {

struct Claim {
    bool has_username = false;
    bool has_password = false;
    bool looks_like_jwt = false;  // auth::looks_like_jwt(password)
    bool in_users_table = false;
    bool in_password_file = false;
};

struct Policy {
    bool allow_anonymous = false;
    bool jwt_configured = false;      // a JWT key is loaded
    bool have_password_file = false;  // password_file is configured
};

enum class Plan : uint8_t {
    AcceptAnonymous,   // no username, allowed
    RefuseAnonymous,   // no username, not allowed (0x87)
    Token,             // verify the JWT on the thread pool
    StoredHash,        // verify the users table's hash on the thread pool
    PasswordFile,      // verify the password file's hash on the thread pool
    RefuseNoPassword,  // a known user without a password (0x86)
    AcceptUnknown,     // an unknown user, let in like an anonymous client
    RefuseUnknown,     // an unknown user (0x86)
};

Plan plan_check(const Claim& claim, const Policy& policy);

const char* plan_name(Plan plan);  // for logs and tests

}  // namespace herald::identity
