// Password hashes (SPEC 2: salted slow hashes; mosquitto $7$ imports) and the base64 under them.
// PBKDF2 vectors computed with Python hashlib.pbkdf2_hmac('sha512', ...) and cross-checked with
// `openssl kdf ... PBKDF2`; the $7$ lines were made by `mosquitto_passwd -c -b` (mosquitto 2).
#include <doctest/doctest.h>

#include <string>

#include "broker/auth/base64.h"
#include "broker/auth/password_hash.h"

using namespace herald::auth;

namespace {

std::string hex(const unsigned char* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

std::string pbkdf2_hex(std::string_view pw, std::string_view salt, uint32_t iterations) {
    unsigned char out[64];
    REQUIRE(pbkdf2_sha512(pw, salt, iterations, out, sizeof out));
    return hex(out, sizeof out);
}

constexpr uint32_t kFast = 1000;  // tests do not need the production cost

}  // namespace

TEST_CASE("base64: padding, alphabet and lengths") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    std::string out;
    CHECK((base64_decode("Zg==", out) && out == "f"));
    CHECK((base64_decode("Zm8=", out) && out == "fo"));
    CHECK((base64_decode("Zm9v", out) && out == "foo"));
    CHECK((base64_decode("Zm8", out) && out == "fo"));  // unpadded accepted
    CHECK((base64_decode("", out) && out.empty()));
    CHECK_FALSE(base64_decode("Zm9=", out));   // padding where none is missing
    CHECK_FALSE(base64_decode("Zg=", out));    // half padding
    CHECK_FALSE(base64_decode("Z===", out));
    CHECK_FALSE(base64_decode("Z", out));      // 6 bits
    CHECK_FALSE(base64_decode("Zm 9v", out));  // whitespace (EVP_DecodeBlock would skip it)
    CHECK_FALSE(base64_decode("Zm9v\n", out));
    CHECK_FALSE(base64_decode("Zm-_", out));   // url alphabet
    CHECK_FALSE(base64_decode("Zg==Zg==", out));
}

TEST_CASE("base64url: no padding, url alphabet") {
    std::string bytes("\xfb\xff\xfe", 3);
    CHECK(base64_encode(bytes) == "+//+");
    CHECK(base64url_encode(bytes) == "-__-");
    CHECK(base64url_encode("f") == "Zg");
    std::string out;
    CHECK((base64url_decode("-__-", out) && out == bytes));
    CHECK((base64url_decode("Zg", out) && out == "f"));
    CHECK_FALSE(base64url_decode("Zg==", out));  // RFC 7515: no padding
    CHECK_FALSE(base64url_decode("+//+", out));  // standard alphabet
    CHECK_FALSE(base64url_decode("Z", out));
    CHECK_FALSE(base64url_decode("e30.", out));
}

TEST_CASE("PBKDF2-HMAC-SHA512 known answers") {
    CHECK(pbkdf2_hex("password", "salt", 1) ==
          "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
          "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
    CHECK(pbkdf2_hex("password", "salt", 2) ==
          "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
          "f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e");
    CHECK(pbkdf2_hex("password", "salt", 4096) ==
          "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5"
          "143f30602641b3d55cd335988cb36b84376060ecd532e039b742a239434af2d5");
    CHECK(pbkdf2_hex("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096) ==
          "8c0511f4c6e597c6ac6315d8f0362e225f3c501495ba23b868c005174dc4ee71"
          "115b59f9e60cd9532fa33e0f75aefe30225c583a186cd82bd4daea9724a3d3b8");
    CHECK(pbkdf2_hex(std::string("pass\0word", 9), std::string("sa\0lt", 5), 4096) ==
          "9d9e9c4cd21fe4be24d5b8244c759665f39d98fc12a9ca759bb021db3cfadf34"
          "5844aebe70dd8b2f6966f25f3613e1187bbd24ed2ca43ed13b246e4675be7ab9");
    unsigned char out[64];
    CHECK_FALSE(pbkdf2_sha512("pw", "salt", 0, out, sizeof out));
    CHECK_FALSE(pbkdf2_sha512("pw", "salt", kMaxPbkdf2Iterations + 1, out, sizeof out));
}

TEST_CASE("hash_password writes $pbkdf2-sha512$ with a fresh salt, and verifies") {
    std::string h = hash_password("correct horse", kFast);
    REQUIRE_FALSE(h.empty());
    CHECK(h.rfind("$pbkdf2-sha512$i=1000$", 0) == 0);
    ParsedHash p;
    REQUIRE(parse_password_hash(h, p));
    CHECK(p.scheme == HashScheme::Pbkdf2Sha512);
    CHECK(p.iterations == kFast);
    CHECK(p.salt.size() == 16);
    CHECK(p.hash.size() == 64);
    CHECK(verify_password("correct horse", h));
    CHECK_FALSE(verify_password("correct horse ", h));
    CHECK_FALSE(verify_password("", h));
    std::string h2 = hash_password("correct horse", kFast);
    CHECK(h2 != h);  // salted
    CHECK(verify_password("correct horse", h2));
    // Binary passwords (MQTT passwords are bytes) and the empty password.
    std::string bin("\0\xff\x01", 3);
    CHECK(verify_password(bin, hash_password(bin, kFast)));
    CHECK_FALSE(verify_password(std::string("\0\xff", 2), hash_password(bin, kFast)));
    CHECK(verify_password("", hash_password("", kFast)));
    CHECK(hash_password("x", 0).empty());
}

TEST_CASE("a hash computed by hand with the known-answer vector is accepted") {
    // salt "salt", 4096 iterations: the stored string for the vector above.
    std::string stored = "$pbkdf2-sha512$i=4096$" + base64_encode("salt") + "$" +
                         "0Zexsz2wFD4BixLz0dFHnmzevcyXxcD4f2kC4HL0V7UUPzBgJkGz1VzTNZiMs2uEN2Bg7NUy4Dm3QqI5Q0ry1Q==";
    CHECK(verify_password("password", stored));
    CHECK_FALSE(verify_password("Password", stored));
}

TEST_CASE("mosquitto_passwd $7$ hashes verify (imports keep their hashes)") {
    const char* alice = "$7$101$6ki5yjybboBwiWCv$8UvEqXO6vyL1x3H0Rqzo3CX0xDqHTr0NEj5phvS8tZVP62N3"
                        "DkWNqSwIb4c6UuiVedBFUsYeGeIU5bi+k1GpBA==";
    const char* bob = "$7$101$8Pxg+jaxYtYe+gX1$3gv3XDQ0m5uNiIUJXvL4u7oIjBY/0Ni6GOXYZh8QnqU1yLN1T86"
                      "mecY267jY3eBjV2Zt7DotVS+77V1oOGXHiw==";
    const char* empty = "$7$101$HW/JAvyE46k9DBXg$5mQpmtAje+syezk4AXjJr7m1k3Lpvgwjmi9l5RgqrlAIkz1bv"
                        "c2sbSc3s826o3b6N0Ls3Ua5wM5bWFjJqoYCBw==";
    CHECK(verify_password("correct horse", alice));
    CHECK_FALSE(verify_password("correct horsE", alice));
    CHECK(verify_password("p\xc3\xa4sswörd:$7$", bob));
    CHECK(verify_password("", empty));
    CHECK_FALSE(verify_password("x", empty));
    ParsedHash p;
    REQUIRE(parse_password_hash(alice, p));
    CHECK(p.scheme == HashScheme::Mosquitto7);
    CHECK(p.iterations == 101);
    CHECK(p.salt.size() == 12);
    CHECK(needs_rehash(alice));  // 101 iterations, foreign scheme
}

TEST_CASE("needs_rehash follows the iteration count") {
    std::string h = hash_password("pw", kFast);
    CHECK_FALSE(needs_rehash(h, kFast));
    CHECK(needs_rehash(h, kFast + 1));
    CHECK(needs_rehash(h));  // below the default of 210,000
    CHECK(needs_rehash("garbage"));
}

TEST_CASE("anything but our scheme and $7$ is refused") {
    std::string good = hash_password("pw", kFast);
    std::string tail = good.substr(std::string("$pbkdf2-sha512$i=1000").size());  // "$salt$hash"
    CHECK_FALSE(verify_password("pw", "pw"));  // plain text never matches
    CHECK_FALSE(verify_password("", ""));
    CHECK_FALSE(verify_password("davepw",
        "$6$MDEyMzQ1Njc4OWFi$zWQbCv1gm3dUXbXPCrNZypn5TU0zCNhEKBSKyUjTb7kZhyz6H0EqvTjNtup0brwt1s0Xc"
        "a1YJYIbAikqFsDiZw=="));  // fast SHA-512: valid for mosquitto 1.x, refused here
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha256$i=1000" + tail));
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha512$i=0" + tail));
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha512$i=01000" + tail));
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha512$i=-1000" + tail));
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha512$i=99999999999" + tail));
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha512$i=1000" + tail + "$"));
    CHECK_FALSE(verify_password("pw", "$pbkdf2-sha512$i=1000$$" + tail.substr(tail.rfind('$') + 1)));
    CHECK_FALSE(verify_password("pw", good.substr(0, good.size() - 4)));  // truncated hash
    CHECK_FALSE(verify_password("pw", good + "A"));
    CHECK_FALSE(verify_password("pw", "$7$101$!!!!$aGFzaA=="));
    CHECK(verify_password("pw", good));
}
