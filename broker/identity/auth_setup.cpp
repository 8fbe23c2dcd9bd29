// Loading the JWT keys and the password file named by the configuration.
#include "broker/identity/auth_setup.h"

namespace herald::identity {

auth::JwtConfig jwt_config(const core::AuthConfig& a) {
    auth::JwtConfig j;
    j.hs256_secret = a.jwt_hs256_secret;
    j.hs256_secret_file = a.jwt_hs256_secret_file;
    j.rs256_public_key_file = a.jwt_rs256_public_key_file;
    j.es256_public_key_file = a.jwt_es256_public_key_file;
    j.audience = a.jwt_audience;
    j.issuer = a.jwt_issuer;
    j.require_exp = a.jwt_require_exp;
    j.leeway_seconds = a.jwt_leeway;
    return j;
}

std::string load_auth_setup(const core::Config& config, AuthSetup& out) {
    AuthSetup fresh;
    if (config.auth.jwt_configured()) {
        auth::JwtVerifier verifier;
        if (std::string error = verifier.load(jwt_config(config.auth)); !error.empty())
            return "[auth] JWT keys: " + error;
        fresh.jwt = std::make_shared<const auth::JwtVerifier>(std::move(verifier));
    }
    if (!config.password_file.empty()) {
        auto file = std::make_shared<auth::PasswordFile>();
        std::string error;
        if (!file->load_file(config.password_file, error)) return error;  // names the file
        fresh.password_file = std::move(file);
    }
    out = std::move(fresh);
    return {};
}

}  // namespace herald::identity
