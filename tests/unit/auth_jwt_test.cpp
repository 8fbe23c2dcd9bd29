// JWT bearer tokens (SPEC 2): HS256/RS256/ES256 made here with OpenSSL, checked by JwtVerifier.
// Keys are generated per run (EVP_PKEY_Q_keygen), so no private key sits in the tree.
#include <doctest/doctest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/auth/base64.h"
#include "broker/auth/jwt.h"

using namespace herald::auth;

namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-shared";

EVP_PKEY* rsa_key() {
    static EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    return k;
}
EVP_PKEY* other_rsa_key() {
    static EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    return k;
}
EVP_PKEY* ec_key() {
    static EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    return k;
}
EVP_PKEY* other_ec_key() {
    static EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    return k;
}

std::string public_pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    REQUIRE(PEM_write_bio_PUBKEY(bio, key) == 1);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
}

std::string hs256(std::string_view secret, std::string_view input) {
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

// RSA PKCS#1 v1.5 or ECDSA (DER) over SHA-256.
std::string digest_sign(EVP_PKEY* key, std::string_view input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1);
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    REQUIRE(EVP_DigestSign(ctx, nullptr, &len, in, input.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                           input.size()) == 1);
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return sig;
}

// JOSE form of an ECDSA signature: r || s, 32 bytes each.
std::string es256(EVP_PKEY* key, std::string_view input) {
    std::string der = digest_sign(key, input);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    REQUIRE(sig != nullptr);
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    return std::string(reinterpret_cast<char*>(raw), 64);
}

std::string claims(std::string_view sub = "alice", int64_t exp = kNow + 600) {
    return R"({"sub":")" + std::string(sub) + R"(","exp":)" + std::to_string(exp) +
           R"(,"iat":)" + std::to_string(kNow) + "}";
}

// header.payload, ready to sign.
std::string input(std::string_view alg, std::string_view payload) {
    return base64url_encode(R"({"alg":")" + std::string(alg) + R"(","typ":"JWT"})") + "." +
           base64url_encode(payload);
}

std::string with_sig(const std::string& in, const std::string& sig) {
    return in + "." + base64url_encode(sig);
}

std::string hs_token(std::string_view payload, std::string_view secret = kSecret) {
    std::string in = input("HS256", payload);
    return with_sig(in, hs256(secret, in));
}
std::string rs_token(std::string_view payload, EVP_PKEY* key = rsa_key()) {
    std::string in = input("RS256", payload);
    return with_sig(in, digest_sign(key, in));
}
std::string es_token(std::string_view payload, EVP_PKEY* key = ec_key()) {
    std::string in = input("ES256", payload);
    return with_sig(in, es256(key, in));
}

JwtVerifier make(JwtConfig c) {
    JwtVerifier v;
    std::string err = v.load(c);
    REQUIRE_MESSAGE(err.empty(), err);
    return v;
}

JwtConfig all_keys() {
    JwtConfig c;
    c.hs256_secret = kSecret;
    c.rs256_public_key_pem = public_pem(rsa_key());
    c.es256_public_key_pem = public_pem(ec_key());
    return c;
}

std::string check(const JwtVerifier& v, const std::string& token, std::string_view user = "alice",
                  int64_t now = kNow) {
    JwtResult r = v.verify(token, user, now);
    CHECK(r.ok == r.error.empty());
    return r.ok ? "ok" : r.error;
}

}  // namespace

TEST_CASE("SPEC 2: HS256, RS256 and ES256 tokens with sub = user verify") {
    JwtVerifier v = make(all_keys());
    CHECK(check(v, hs_token(claims())) == "ok");
    CHECK(check(v, rs_token(claims())) == "ok");
    CHECK(check(v, es_token(claims())) == "ok");
    CHECK(looks_like_jwt(hs_token(claims())));
    CHECK_FALSE(looks_like_jwt("correct horse"));
    CHECK_FALSE(looks_like_jwt("eyJhbGc.eyJz"));
}

TEST_CASE("a token signed with another key does not verify") {
    JwtVerifier v = make(all_keys());
    CHECK(check(v, hs_token(claims(), "another-secret-another-secret-xx")) ==
          "signature does not verify");
    CHECK(check(v, rs_token(claims(), other_rsa_key())) == "signature does not verify");
    CHECK(check(v, es_token(claims(), other_ec_key())) == "signature does not verify");
    // Same signature, payload changed: the signature covers header.payload.
    std::string t = rs_token(claims());
    std::string forged = input("RS256", claims("mallory")) + t.substr(t.rfind('.'));
    CHECK(check(v, forged, "mallory") == "signature does not verify");
    // ES256 must be raw r||s: the DER form is refused.
    std::string in = input("ES256", claims());
    CHECK(check(v, with_sig(in, digest_sign(ec_key(), in))) == "signature does not verify");
    CHECK(check(v, with_sig(in, es256(ec_key(), in).substr(0, 63))) == "signature does not verify");
}

TEST_CASE("SPEC 2: sub must equal the MQTT username") {
    JwtVerifier v = make(all_keys());
    CHECK(check(v, hs_token(claims("bob")), "alice") == "sub does not match the username");
    CHECK(check(v, hs_token(claims("alice")), "Alice") == "sub does not match the username");
    CHECK(check(v, hs_token(R"({"exp":1800000000})")) == "token has no sub");
    CHECK(check(v, hs_token(R"({"sub":42,"exp":1800000000})")) == "token has no sub");
}

TEST_CASE("SPEC 2: exp and nbf are honoured, with leeway") {
    JwtVerifier v = make(all_keys());  // leeway 30 s
    CHECK(check(v, hs_token(claims("alice", kNow - 60))) == "token expired");
    CHECK(check(v, es_token(claims("alice", kNow - 60))) == "token expired");
    CHECK(check(v, hs_token(claims("alice", kNow - 10))) == "ok");  // within leeway
    CHECK(check(v, hs_token(claims("alice", kNow - 30))) == "token expired");
    CHECK(check(v, hs_token(claims("alice", kNow + 600)), "alice", kNow + 700) == "token expired");
    CHECK(check(v, hs_token(R"({"sub":"alice","exp":1700000600.5})")) == "ok");
    CHECK(check(v, hs_token(R"({"sub":"alice","exp":"1800000000"})")) == "exp is not a number");
    std::string nbf_future =
        R"({"sub":"alice","exp":1800000000,"nbf":)" + std::to_string(kNow + 120) + "}";
    CHECK(check(v, hs_token(nbf_future)) == "token is not valid yet");
    CHECK(check(v, hs_token(nbf_future), "alice", kNow + 100) == "ok");  // 20 s early: leeway
    CHECK(check(v, hs_token(R"({"sub":"alice","exp":1800000000,"iat":"x"})")) ==
          "iat is not a number");
    CHECK(check(v, hs_token(R"({"sub":"alice"})")) == "token has no exp");

    JwtConfig lax = all_keys();
    lax.require_exp = false;
    lax.leeway_seconds = 0;
    JwtVerifier v2 = make(lax);
    CHECK(check(v2, hs_token(R"({"sub":"alice"})")) == "ok");
    CHECK(check(v2, hs_token(claims("alice", kNow))) == "token expired");
    CHECK(check(v2, hs_token(claims("alice", kNow + 1))) == "ok");
}

TEST_CASE("aud and iss are checked only when configured") {
    std::string t = hs_token(R"({"sub":"alice","exp":1800000000,"aud":["chat","x"],"iss":"app"})");
    CHECK(check(make(all_keys()), t) == "ok");
    JwtConfig c = all_keys();
    c.audience = "chat";
    c.issuer = "app";
    CHECK(check(make(c), t) == "ok");
    CHECK(check(make(c), hs_token(R"({"sub":"alice","exp":1800000000,"aud":"chat","iss":"app"})")) ==
          "ok");
    CHECK(check(make(c), hs_token(R"({"sub":"alice","exp":1800000000,"iss":"app"})")) ==
          "aud does not match");
    c.audience = "mqtt";
    CHECK(check(make(c), t) == "aud does not match");
    c.audience.clear();
    c.issuer = "other";
    CHECK(check(make(c), t) == "iss does not match");
}

TEST_CASE("algorithm none is never allowed") {
    JwtVerifier v = make(all_keys());
    std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(claims()) + ".";
    CHECK(check(v, none) == "algorithm none is not allowed");
    std::string none_sig = base64url_encode(R"({"alg":"NoNe"})") + "." + base64url_encode(claims()) +
                           "." + base64url_encode("sig");
    CHECK(check(v, none_sig) == "algorithm none is not allowed");
}

TEST_CASE("alg must match a configured key: no HS256 with the RSA public key as secret") {
    JwtConfig rsa_only;
    rsa_only.rs256_public_key_pem = public_pem(rsa_key());
    JwtVerifier v = make(rsa_only);
    // The classic confusion attack: HMAC keyed with the public key PEM the attacker knows.
    std::string confused = hs_token(claims(), rsa_only.rs256_public_key_pem);
    CHECK(check(v, confused) == "algorithm HS256 is not allowed");
    CHECK(check(v, es_token(claims())) == "algorithm ES256 is not allowed");
    CHECK(check(v, rs_token(claims())) == "ok");
    // With an HS256 secret configured too, the PEM is still not the secret.
    JwtVerifier v2 = make(all_keys());
    CHECK(check(v2, hs_token(claims(), public_pem(rsa_key()))) == "signature does not verify");
    // An RS256 signature under an ES256 header, and unknown algorithms.
    std::string in = input("ES256", claims());
    CHECK(check(v2, with_sig(in, digest_sign(rsa_key(), in))) == "signature does not verify");
    CHECK(check(v2, with_sig(input("PS256", claims()), "x")) == "algorithm PS256 is not allowed");
    CHECK(check(v2, with_sig(input("HS512", claims()), "x")) == "algorithm HS512 is not allowed");
    CHECK(check(v2, with_sig(input("hs256", claims()), "x")) == "algorithm hs256 is not allowed");
    CHECK(check(v2, with_sig(input("<script>", claims()), "x")) == "this algorithm is not allowed");
}

TEST_CASE("malformed tokens are refused with a reason") {
    JwtVerifier v = make(all_keys());
    std::string good = hs_token(claims());
    std::string h = good.substr(0, good.find('.'));
    std::string sig = good.substr(good.rfind('.') + 1);
    std::string p = base64url_encode(claims());
    CHECK(check(v, h + "." + p) == "token is not header.payload.signature");
    CHECK(check(v, good + ".x") == "token is not header.payload.signature");
    CHECK(check(v, "") == "token is not header.payload.signature");
    CHECK(check(v, "..") == "token header is not base64url JSON");
    CHECK(check(v, "!!." + p + "." + sig) == "token header is not base64url JSON");
    CHECK(check(v, h + "=." + p + "." + sig) == "token header is not base64url JSON");
    CHECK(check(v, base64url_encode("{\"alg\":") + "." + p + "." + sig) ==
          "token header is not base64url JSON");
    CHECK(check(v, base64url_encode("[\"HS256\"]") + "." + p + "." + sig) ==
          "token header is not base64url JSON");
    CHECK(check(v, base64url_encode("{}") + "." + p + "." + sig) == "token header has no alg");
    CHECK(check(v, base64url_encode(R"({"alg":256})") + "." + p + "." + sig) ==
          "token header has no alg");
    CHECK(check(v, h + "." + p + ".") == "token signature is not base64url");
    CHECK(check(v, h + "." + p + ".a+b/") == "token signature is not base64url");
    std::string crit = input("HS256", claims());
    crit = base64url_encode(R"({"alg":"HS256","crit":["exp"],"exp":1})") + crit.substr(crit.find('.'));
    CHECK(check(v, with_sig(crit, hs256(kSecret, crit))) == "token header has crit extensions");
    // A correctly signed payload that is not JSON, or not an object.
    std::string in = base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode("not json");
    CHECK(check(v, with_sig(in, hs256(kSecret, in))) == "token payload is not base64url JSON");
    in = base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode("\"alice\"");
    CHECK(check(v, with_sig(in, hs256(kSecret, in))) == "token payload is not base64url JSON");
    in = base64url_encode(R"({"alg":"HS256"})") + ".%%";
    CHECK(check(v, with_sig(in, hs256(kSecret, in))) == "token payload is not base64url JSON");
    std::string big = hs_token(R"({"sub":"alice","exp":1800000000,"pad":")" + std::string(9000, 'x') +
                               "\"}");
    CHECK(check(v, big) == "token is too long");
}

TEST_CASE("JwtVerifier::load: keys from files, and clear errors") {
    std::string dir = "/tmp/herald_auth_jwt_test_" + std::to_string(getpid());
    REQUIRE(std::system(("mkdir -p " + dir).c_str()) == 0);
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir + "/" + name, std::ios::binary) << text;
        return dir + "/" + name;
    };
    JwtConfig c;
    c.hs256_secret_file = write("secret", kSecret + "\n");
    c.rs256_public_key_file = write("rsa.pem", public_pem(rsa_key()));
    c.es256_public_key_file = write("ec.pem", public_pem(ec_key()));
    JwtVerifier v = make(c);
    CHECK(check(v, hs_token(claims())) == "ok");  // trailing newline dropped
    CHECK(check(v, rs_token(claims())) == "ok");
    CHECK(check(v, es_token(claims())) == "ok");

    auto load_error = [](const JwtConfig& cfg) {
        JwtVerifier x;
        return x.load(cfg);
    };
    CHECK(load_error(JwtConfig{}).find("no JWT key configured") == 0);
    JwtConfig e;
    e.hs256_secret = "short";
    CHECK(load_error(e) == "the HS256 secret is shorter than 32 bytes");
    e.hs256_secret_file = c.hs256_secret_file;
    CHECK(load_error(e) == "set the HS256 secret inline or as a file, not both");
    e = {};
    e.hs256_secret_file = write("empty", "\n");
    CHECK(load_error(e) == "the HS256 secret file " + e.hs256_secret_file + " is empty");
    e = {};
    e.rs256_public_key_file = dir + "/missing.pem";
    CHECK(load_error(e) == "cannot read the RS256 public key file " + dir + "/missing.pem");
    e = {};
    e.rs256_public_key_file = write("junk.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n");
    CHECK(load_error(e).find("is not a PEM public key") != std::string::npos);
    e = {};
    e.rs256_public_key_pem = public_pem(ec_key());
    CHECK(load_error(e) == "the RS256 key is not an RSA key");
    e = {};
    e.es256_public_key_pem = public_pem(rsa_key());
    CHECK(load_error(e) == "the ES256 key is not an EC key");
    EVP_PKEY* p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    e = {};
    e.es256_public_key_pem = public_pem(p384);
    CHECK(load_error(e) == "the ES256 key is not on curve P-256");
    EVP_PKEY_free(p384);
    EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
    e = {};
    e.rs256_public_key_pem = public_pem(small);
    CHECK(load_error(e) == "the RS256 key is shorter than 2048 bits");
    EVP_PKEY_free(small);

    // A failed load leaves the verifier as it was.
    CHECK_FALSE(v.load(e).empty());
    CHECK(check(v, rs_token(claims())) == "ok");
    REQUIRE(std::system(("rm -rf " + dir).c_str()) == 0);
}

TEST_CASE("one verifier shared by worker threads (verify is const and thread-safe)") {
    auto v = std::make_shared<const JwtVerifier>(make(all_keys()));
    const std::string tokens[] = {rs_token(claims()), es_token(claims()), hs_token(claims()),
                                  rs_token(claims(), other_rsa_key())};
    std::atomic<int> ok{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; i++) {
                const std::string& tok = tokens[(t + i) % 4];
                (v->verify(tok, "alice", kNow).ok ? ok : refused)++;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(ok == 150);
    CHECK(refused == 50);
}
