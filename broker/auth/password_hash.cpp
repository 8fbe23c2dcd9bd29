// PBKDF2-HMAC-SHA512 password hashes through OpenSSL: our "$pbkdf2-sha512$" strings and
// mosquitto's "$7$", parsed strictly so a damaged row is refused rather than half-read.
#include "broker/auth/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <climits>

#include "broker/auth/base64.h"

namespace herald::auth {
namespace {

constexpr std::string_view kPrefix = "$pbkdf2-sha512$i=";
constexpr std::string_view kMosquittoPrefix = "$7$";
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 64;  // one SHA-512 block of output: more adds nothing
constexpr size_t kMaxStoredField = 256;

bool parse_iterations(std::string_view s, uint32_t& out) {
    if (s.empty() || s.size() > 10 || s[0] == '0') return false;  // no sign, no leading zero
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && out >= 1 &&
           out <= kMaxPbkdf2Iterations;
}

// "<iterations>$<salt>$<hash>" after the scheme prefix.
bool parse_tail(std::string_view rest, ParsedHash& out) {
    size_t d1 = rest.find('$');
    if (d1 == std::string_view::npos) return false;
    size_t d2 = rest.find('$', d1 + 1);
    if (d2 == std::string_view::npos || rest.find('$', d2 + 1) != std::string_view::npos)
        return false;
    std::string_view salt = rest.substr(d1 + 1, d2 - d1 - 1);
    std::string_view hash = rest.substr(d2 + 1);
    if (salt.size() > kMaxStoredField || hash.size() > kMaxStoredField) return false;
    if (!parse_iterations(rest.substr(0, d1), out.iterations)) return false;
    if (!base64_decode(salt, out.salt) || !base64_decode(hash, out.hash)) return false;
    // An empty salt would make the hash unsalted; a shorter hash is a prefix of the full one
    // (PBKDF2 output is), so a truncated row would still "verify" with fewer bits.
    return !out.salt.empty() && out.hash.size() == kHashBytes;
}

}  // namespace

bool pbkdf2_sha512(std::string_view password, std::string_view salt, uint32_t iterations,
                   unsigned char* out, size_t out_len) {
    if (iterations < 1 || iterations > kMaxPbkdf2Iterations || out_len == 0 ||
        out_len > INT_MAX || password.size() > INT_MAX || salt.size() > INT_MAX)
        return false;
    return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                             reinterpret_cast<const unsigned char*>(salt.data()),
                             static_cast<int>(salt.size()), static_cast<int>(iterations),
                             EVP_sha512(), static_cast<int>(out_len), out) == 1;
}

std::string hash_password(std::string_view password, uint32_t iterations) {
    unsigned char salt[kSaltBytes];
    unsigned char hash[kHashBytes];
    if (RAND_bytes(salt, sizeof salt) != 1) return {};
    std::string_view salt_view(reinterpret_cast<const char*>(salt), sizeof salt);
    if (!pbkdf2_sha512(password, salt_view, iterations, hash, sizeof hash)) return {};
    std::string out(kPrefix);
    out += std::to_string(iterations);
    out += '$';
    out += base64_encode(salt_view);
    out += '$';
    out += base64_encode(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
    OPENSSL_cleanse(hash, sizeof hash);
    return out;
}

bool parse_password_hash(std::string_view stored, ParsedHash& out) {
    if (stored.substr(0, kPrefix.size()) == kPrefix) {
        out.scheme = HashScheme::Pbkdf2Sha512;
        return parse_tail(stored.substr(kPrefix.size()), out);
    }
    if (stored.substr(0, kMosquittoPrefix.size()) == kMosquittoPrefix) {
        out.scheme = HashScheme::Mosquitto7;
        return parse_tail(stored.substr(kMosquittoPrefix.size()), out);
    }
    return false;
}

bool verify_password(std::string_view password, std::string_view stored) {
    ParsedHash h;
    if (!parse_password_hash(stored, h)) return false;
    unsigned char derived[kHashBytes];
    if (!pbkdf2_sha512(password, h.salt, h.iterations, derived, h.hash.size())) return false;
    bool ok = CRYPTO_memcmp(derived, h.hash.data(), h.hash.size()) == 0;
    OPENSSL_cleanse(derived, sizeof derived);
    return ok;
}

bool needs_rehash(std::string_view stored, uint32_t iterations) {
    ParsedHash h;
    if (!parse_password_hash(stored, h)) return true;
    return h.scheme != HashScheme::Pbkdf2Sha512 || h.iterations < iterations ||
           h.salt.size() < kSaltBytes;
}

}  // namespace herald::auth
