// Parsing and checking of mosquitto_passwd files with OpenSSL (PBKDF2, SHA-512, base64).
//
// Formats, as mosquitto writes them (src/password_mosq.c):
//   $6$<salt b64>$<hash b64>              hash = SHA512(password || salt)          (1.x)
//   $7$<iterations>$<salt b64>$<hash b64> hash = PBKDF2-HMAC-SHA512(password, salt,
//                                                iterations, 64 bytes)             (2.x)
#include "broker/auth/password_file.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include "broker/auth/base64.h"
#include "broker/auth/password_hash.h"

namespace herald::auth {

namespace {

// Standard base64 as mosquitto writes it (base64.h does the strict decoding). False on bad input.
bool decode_field(std::string_view in, std::string& out) {
    return !in.empty() && in.size() <= 4096 && base64_decode(in, out);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        size_t pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            parts.push_back(s.substr(start));
            return parts;
        }
        parts.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

bool parse_hash(std::string_view text, PasswordFile::Entry& e, std::string& what) {
    using Kind = PasswordFile::Entry::Kind;
    if (text.empty() || text[0] != '$') {
        e.kind = Kind::Plain;
        e.hash = std::string(text);
        return true;
    }
    auto parts = split(text, '$');  // "", "7", iter, salt, hash
    if (parts.size() == 4 && parts[1] == "6") {
        e.kind = Kind::Sha512;
        if (!decode_field(parts[2], e.salt) || !decode_field(parts[3], e.hash)) {
            what = "bad base64 in $6$ hash";
            return false;
        }
        return true;
    }
    if (parts.size() == 5 && parts[1] == "7") {
        e.kind = Kind::Pbkdf2Sha512;
        auto [p, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(),
                                       e.iterations);
        if (ec != std::errc() || p != parts[2].data() + parts[2].size() || e.iterations < 1 ||
            static_cast<uint32_t>(e.iterations) > kMaxPbkdf2Iterations) {
            what = "bad iteration count in $7$ hash";
            return false;
        }
        if (!decode_field(parts[3], e.salt) || !decode_field(parts[4], e.hash)) {
            what = "bad base64 in $7$ hash";
            return false;
        }
        return true;
    }
    what = "unknown hash format (expected $6$ or $7$)";
    return false;
}

}  // namespace

bool PasswordFile::load(std::string_view text, std::string& error) {
    std::unordered_map<std::string, Entry> users;
    size_t line_no = 0;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        line_no++;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        if (line.empty() || line[0] == '#') {
            if (end == text.size()) break;
            continue;
        }
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            error = "line " + std::to_string(line_no) + ": expected user:hash";
            return false;
        }
        Entry e;
        std::string what;
        if (!parse_hash(line.substr(colon + 1), e, what)) {
            error = "line " + std::to_string(line_no) + ": " + what;
            return false;
        }
        users[std::string(line.substr(0, colon))] = std::move(e);
        if (end == text.size()) break;
    }
    users_ = std::move(users);
    return true;
}

bool PasswordFile::load_file(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot open password file " + path;
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string err;
    if (!load(ss.str(), err)) {
        error = path + ": " + err;
        return false;
    }
    return true;
}

bool PasswordFile::contains(std::string_view user) const {
    return users_.find(std::string(user)) != users_.end();
}

bool PasswordFile::check(std::string_view user, std::string_view password) const {
    auto it = users_.find(std::string(user));
    if (it == users_.end()) return false;
    const Entry& e = it->second;
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t digest_len = 0;
    switch (e.kind) {
        case Entry::Kind::Plain:
            return password.size() == e.hash.size() &&
                   CRYPTO_memcmp(password.data(), e.hash.data(), password.size()) == 0;
        case Entry::Kind::Sha512: {
            EVP_MD_CTX* ctx = EVP_MD_CTX_new();
            if (!ctx) return false;
            unsigned int len = 0;
            bool ok = EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
                      EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                      EVP_DigestUpdate(ctx, e.salt.data(), e.salt.size()) == 1 &&
                      EVP_DigestFinal_ex(ctx, digest, &len) == 1;
            EVP_MD_CTX_free(ctx);
            if (!ok) return false;
            digest_len = len;
            break;
        }
        case Entry::Kind::Pbkdf2Sha512: {
            if (e.hash.empty() || e.hash.size() > sizeof(digest)) return false;
            digest_len = e.hash.size();
            if (!pbkdf2_sha512(password, e.salt, static_cast<uint32_t>(e.iterations), digest,
                               digest_len))
                return false;
            break;
        }
    }
    return digest_len == e.hash.size() && CRYPTO_memcmp(digest, e.hash.data(), digest_len) == 0;
}

}  // namespace herald::auth
