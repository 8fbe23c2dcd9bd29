// Base64 (RFC 4648 section 4, for stored hashes) and base64url (section 5, for JWTs) over
// OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock, with the strict input checks those lack.
#pragma once

#include <string>
#include <string_view>

namespace herald::auth {

// Standard alphabet, '=' padded: what mosquitto_passwd writes and what our hashes store.
std::string base64_encode(std::string_view bytes);

// Standard alphabet; padding optional (but when present it must be right). Refuses any byte
// outside the alphabet (whitespace included, which EVP_DecodeBlock would skip) and impossible
// lengths. False on bad input; `out` is then unspecified.
bool base64_decode(std::string_view text, std::string& out);

// URL-safe alphabet ('-', '_'), no padding: the JWS compact serialization (RFC 7515 2).
std::string base64url_encode(std::string_view bytes);

// URL-safe alphabet; refuses '=' padding, as RFC 7515 requires.
bool base64url_decode(std::string_view text, std::string& out);

}  // namespace herald::auth
