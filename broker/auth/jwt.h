// JWT bearer tokens in the MQTT password field (compact JWS, RFC 7515/7519): the verifier.
//
// One key per algorithm, each bound to its algorithm at load time: HS256 uses only the shared
// secret, RS256 only an RSA public key, ES256 only a P-256 public key. The token's "alg" picks
// the key, and an algorithm without a key is refused, so a token cannot make us use an RSA
// public key as an HMAC secret (the classic confusion attack), and "none" never passes.
//
// A loaded JwtVerifier is immutable: share it as std::shared_ptr<const JwtVerifier> between
// the loop and the worker threads (verify() is const and keeps no state). Reloading the keys
// means loading a new verifier and swapping the pointer on the loop.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace herald::auth {

struct JwtConfig {
    // HS256: the shared secret, given inline or as a file (one trailing newline is dropped
    // from the file, so `echo secret > file` works). At least 32 bytes (RFC 7518 3.2).
    std::string hs256_secret;
    std::string hs256_secret_file;
    // RS256 / ES256: a PEM public key ("BEGIN PUBLIC KEY"), inline or as a file.
    std::string rs256_public_key_pem;
    std::string rs256_public_key_file;
    std::string es256_public_key_pem;
    std::string es256_public_key_file;

    bool require_exp = true;      // refuse tokens without "exp"
    int64_t leeway_seconds = 30;  // clock skew allowed on "exp" and "nbf"
    std::string audience;         // non-empty: "aud" (string or array) must contain it
    std::string issuer;           // non-empty: "iss" must equal it
    size_t max_token_bytes = 8192;
};

struct JwtResult {
    bool ok = false;
    std::string error;  // a sentence when !ok: "token expired", "signature does not verify"

    static JwtResult good() { return {true, {}}; }
    static JwtResult bad(std::string why) { return {false, std::move(why)}; }
};

class JwtVerifier {
public:
    JwtVerifier();
    ~JwtVerifier();
    JwtVerifier(JwtVerifier&&) noexcept;
    JwtVerifier& operator=(JwtVerifier&&) noexcept;
    JwtVerifier(const JwtVerifier&) = delete;
    JwtVerifier& operator=(const JwtVerifier&) = delete;

    // Reads the keys of `config` (files are read here, once, at start or reload). Empty on
    // success, else a sentence naming the key at fault; on failure *this is unchanged.
    // At least one key must be configured.
    std::string load(const JwtConfig& config);

    // Checks `token` for `username` at time `now_unix` (seconds since the epoch): size, shape,
    // base64url, header JSON, alg (never none, only a configured one, no "crit"), signature,
    // then the claims: sub == username, exp/nbf with leeway, optional aud/iss.
    // Slow for RS256/ES256 (~0.05-0.2 ms): run it off the loop thread. Thread-safe.
    JwtResult verify(std::string_view token, std::string_view username, int64_t now_unix) const;

    bool has_hs256() const { return !hs_secret_.empty(); }
    bool has_rs256() const { return rsa_ != nullptr; }
    bool has_es256() const { return ec_ != nullptr; }

private:
    bool check_signature(std::string_view alg, std::string_view signing_input,
                         std::string_view signature) const;

    JwtConfig config_;         // the claim settings; key material is held below
    std::string hs_secret_;
    EVP_PKEY* rsa_ = nullptr;  // owned
    EVP_PKEY* ec_ = nullptr;   // owned
};

// Does the password field look like a compact JWS ("eyJ...", three base64url parts)? Lets the
// core decide whether to try a token check before a password check. Cheap; no decoding.
bool looks_like_jwt(std::string_view password);

}  // namespace herald::auth
