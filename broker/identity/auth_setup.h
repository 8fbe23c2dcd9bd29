// What the Identity loads from the configuration: the JWT verifier of [auth] and the password
// file, each read once (at start, on SIGHUP, and by `heraldd --test-config`) and then shared,
// immutable, with the thread-pool workers that check credentials.
#pragma once

#include <memory>
#include <string>

#include "broker/auth/jwt.h"
#include "broker/auth/password_file.h"
#include "broker/core/config.h"

namespace herald::identity {

struct AuthSetup {
    std::shared_ptr<const auth::JwtVerifier> jwt;              // null: no JWT key configured
    std::shared_ptr<const auth::PasswordFile> password_file;  // null: no password_file
};

// [auth] -> the verifier's settings.
auth::JwtConfig jwt_config(const core::AuthConfig& config);

// Loads both. Empty on success, else a sentence naming the key or file at fault (`out` is
// then untouched).
std::string load_auth_setup(const core::Config& config, AuthSetup& out);

}  // namespace herald::identity
