// Base64 codecs: we check the characters and the length ourselves, then let OpenSSL decode.
// EVP_DecodeBlock alone is too lenient (skips whitespace) and counts '=' padding as zero
// bytes in its result, so both are handled here.
#include "broker/auth/base64.h"

#include <openssl/evp.h>

#include <limits>

namespace herald::auth {
namespace {

bool std_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

// The 6-bit value of a standard-alphabet character (already checked).
unsigned sextet(char c) {
    if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a' + 26);
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0' + 52);
    return c == '+' ? 62 : 63;
}

// Decodes unpadded standard-alphabet text whose characters were already checked.
bool decode_checked(std::string_view body, std::string& out) {
    size_t rem = body.size() % 4;
    if (rem == 1) return false;  // 6 bits cannot make a byte
    if (body.size() > static_cast<size_t>(std::numeric_limits<int>::max()) - 4) return false;
    std::string padded(body);
    if (rem != 0) padded.append(4 - rem, '=');
    out.resize(padded.size() / 4 * 3);
    if (padded.empty()) return true;
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(padded.data()),
                            static_cast<int>(padded.size()));
    if (n < 0) return false;
    size_t pad = rem == 0 ? 0 : 4 - rem;
    out.resize(static_cast<size_t>(n) - pad);
    // Canonical form only: the bits of the last character past the last byte must be zero,
    // so each byte string has exactly one accepted spelling.
    if (rem != 0 && (sextet(body.back()) & (rem == 2 ? 0x0F : 0x03)) != 0) return false;
    return true;
}

std::string encode_std(std::string_view bytes) {
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // +1: EVP writes a NUL
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) { return encode_std(bytes); }

bool base64_decode(std::string_view text, std::string& out) {
    std::string_view body = text;
    size_t pad = 0;
    while (!body.empty() && body.back() == '=' && pad < 2) {
        body.remove_suffix(1);
        pad++;
    }
    // Padded input must be a whole number of quanta, and the padding exactly what is missing.
    if (pad != 0 && (text.size() % 4 != 0 || (4 - body.size() % 4) % 4 != pad)) return false;
    for (char c : body)
        if (!std_char(c)) return false;
    return decode_checked(body, out);
}

std::string base64url_encode(std::string_view bytes) {
    std::string s = encode_std(bytes);
    while (!s.empty() && s.back() == '=') s.pop_back();
    for (char& c : s) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return s;
}

bool base64url_decode(std::string_view text, std::string& out) {
    std::string body(text);
    for (char& c : body) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (c == '+' || c == '/' || !std_char(c)) return false;
    }
    return decode_checked(body, out);
}

}  // namespace herald::auth
