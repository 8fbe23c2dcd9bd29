// Salted, slow password hashes for the users table: making them, reading them, checking them.
//
// Format written (this string is stored on disk: never change what an existing one means):
//   $pbkdf2-sha512$i=<iterations>$<salt>$<hash>
// salt = 16 random bytes, hash = PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes),
// both standard base64 with '=' padding. Chosen over mosquitto's "$7$" so the scheme and the
// iteration count name themselves and native hashes are told apart from imported ones.
//
// Also verified: mosquitto 2 "$7$<iterations>$<salt b64>$<hash b64>" (same PBKDF2-HMAC-SHA512),
// so users imported from a mosquitto password file keep their hashes. mosquitto writes them
// with only 101 iterations: needs_rehash() says so, and the store can re-hash at the next
// successful login. Anything else (plain text, "$6$" fast SHA-512, unknown schemes) is refused.
//
// All of these are slow on purpose (~0.1 s at the default count): call them off the loop
// thread (auth_worker.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::auth {

// OWASP Password Storage Cheat Sheet (2023) for PBKDF2-HMAC-SHA512.
inline constexpr uint32_t kDefaultPbkdf2Iterations = 210'000;
// Upper bound accepted when reading a stored hash: a bigger count is a corrupt or hostile row
// that would pin a worker thread for minutes.
inline constexpr uint32_t kMaxPbkdf2Iterations = 10'000'000;

// PBKDF2-HMAC-SHA512 into out[0..out_len). False if OpenSSL fails or the arguments are absurd.
bool pbkdf2_sha512(std::string_view password, std::string_view salt, uint32_t iterations,
                   unsigned char* out, size_t out_len);

// A new "$pbkdf2-sha512$..." string with a fresh random salt. Empty on failure (no randomness,
// iterations outside 1..kMaxPbkdf2Iterations).
std::string hash_password(std::string_view password,
                          uint32_t iterations = kDefaultPbkdf2Iterations);

enum class HashScheme : uint8_t {
    Pbkdf2Sha512,  // "$pbkdf2-sha512$i=N$salt$hash" (ours)
    Mosquitto7,    // "$7$N$salt$hash" (mosquitto 2)
};

struct ParsedHash {
    HashScheme scheme = HashScheme::Pbkdf2Sha512;
    uint32_t iterations = 0;
    std::string salt;  // decoded bytes
    std::string hash;  // decoded bytes
};

// Reads a stored hash. False for anything verify_password() would refuse; use it to validate
// hashes at import time.
bool parse_password_hash(std::string_view stored, ParsedHash& out);

// True iff `stored` is a hash we accept and `password` matches it. The final comparison is
// constant-time (CRYPTO_memcmp).
bool verify_password(std::string_view password, std::string_view stored);

// True when `stored` should be replaced by hash_password(password, iterations) after the next
// successful login: an imported "$7$" hash or a lower iteration count than `iterations`.
bool needs_rehash(std::string_view stored, uint32_t iterations = kDefaultPbkdf2Iterations);

}  // namespace herald::auth
