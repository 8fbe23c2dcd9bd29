// JwtVerifier's key half: loading the configured keys (checked against their algorithm once,
// at load) and checking a signature with OpenSSL EVP. verify() and the claims are in jwt.cpp.
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "broker/auth/jwt.h"

namespace herald::auth {
namespace {

constexpr size_t kMinHsSecretBytes = 32;  // RFC 7518 3.2: a key as long as the hash output
constexpr int kMinRsaBits = 2048;
constexpr size_t kEs256Half = 32;  // JOSE ES256 signature: r || s, 32 bytes each

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return !in.bad();
}

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Reads one PEM public key from inline text or from a file; `what` names it in errors.
std::string load_public_key(const std::string& pem, const std::string& file, const char* what,
                            PkeyPtr& out) {
    std::string text = pem;
    if (text.empty() && !read_file(file, text))
        return std::string("cannot read the ") + what + " public key file " + file;
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    if (!bio) return "out of memory";
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ERR_clear_error();
    std::string where = file.empty() ? std::string("the inline key") : file;
    if (!key)
        return std::string("the ") + what + " key in " + where +
               " is not a PEM public key (make one with: openssl pkey -pubout)";
    out.reset(key);
    return {};
}

// Verifies an RSA or ECDSA signature (DER for ECDSA) over `data` with SHA-256.
bool digest_verify(EVP_PKEY* key, std::string_view data, const unsigned char* sig,
                   size_t sig_len) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, reinterpret_cast<const unsigned char*>(data.data()),
                               data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();  // the error queue is per thread: do not let worker threads pile it up
    return ok;
}

// JOSE ES256 signatures are r || s (RFC 7518 3.4); EVP wants the DER ECDSA-Sig-Value.
bool es256_verify(EVP_PKEY* key, std::string_view data, std::string_view sig) {
    if (sig.size() != 2 * kEs256Half) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw, kEs256Half, nullptr);
    BIGNUM* s = BN_bin2bn(raw + kEs256Half, kEs256Half, nullptr);
    unsigned char* der = nullptr;
    int der_len = -1;
    if (ecdsa && r && s && ECDSA_SIG_set0(ecdsa, r, s) == 1) {
        r = s = nullptr;  // owned by ecdsa now
        der_len = i2d_ECDSA_SIG(ecdsa, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(ecdsa);
    bool ok = der_len > 0 && digest_verify(key, data, der, static_cast<size_t>(der_len));
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

}  // namespace

JwtVerifier::JwtVerifier() = default;

JwtVerifier::~JwtVerifier() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
    OPENSSL_cleanse(hs_secret_.data(), hs_secret_.size());
}

JwtVerifier::JwtVerifier(JwtVerifier&& o) noexcept
    : config_(std::move(o.config_)), hs_secret_(std::move(o.hs_secret_)), rsa_(o.rsa_), ec_(o.ec_) {
    o.rsa_ = o.ec_ = nullptr;
}

JwtVerifier& JwtVerifier::operator=(JwtVerifier&& o) noexcept {
    if (this != &o) {
        EVP_PKEY_free(rsa_);
        EVP_PKEY_free(ec_);
        config_ = std::move(o.config_);
        hs_secret_ = std::move(o.hs_secret_);
        rsa_ = o.rsa_;
        ec_ = o.ec_;
        o.rsa_ = o.ec_ = nullptr;
    }
    return *this;
}

std::string JwtVerifier::load(const JwtConfig& config) {
    // Both forms of one key is a configuration mistake: say so rather than pick one silently.
    if (!config.hs256_secret.empty() && !config.hs256_secret_file.empty())
        return "set the HS256 secret inline or as a file, not both";
    if (!config.rs256_public_key_pem.empty() && !config.rs256_public_key_file.empty())
        return "set the RS256 public key inline or as a file, not both";
    if (!config.es256_public_key_pem.empty() && !config.es256_public_key_file.empty())
        return "set the ES256 public key inline or as a file, not both";
    std::string secret = config.hs256_secret;
    if (secret.empty() && !config.hs256_secret_file.empty()) {
        if (!read_file(config.hs256_secret_file, secret))
            return "cannot read the HS256 secret file " + config.hs256_secret_file;
        if (!secret.empty() && secret.back() == '\n') secret.pop_back();
        if (!secret.empty() && secret.back() == '\r') secret.pop_back();
        if (secret.empty()) return "the HS256 secret file " + config.hs256_secret_file + " is empty";
    }
    if (!secret.empty() && secret.size() < kMinHsSecretBytes)
        return "the HS256 secret is shorter than " + std::to_string(kMinHsSecretBytes) + " bytes";

    PkeyPtr rsa, ec;
    if (!config.rs256_public_key_pem.empty() || !config.rs256_public_key_file.empty()) {
        std::string err = load_public_key(config.rs256_public_key_pem, config.rs256_public_key_file,
                                          "RS256", rsa);
        if (!err.empty()) return err;
        if (EVP_PKEY_is_a(rsa.get(), "RSA") != 1) return "the RS256 key is not an RSA key";
        if (EVP_PKEY_get_bits(rsa.get()) < kMinRsaBits)
            return "the RS256 key is shorter than " + std::to_string(kMinRsaBits) + " bits";
    }
    if (!config.es256_public_key_pem.empty() || !config.es256_public_key_file.empty()) {
        std::string err = load_public_key(config.es256_public_key_pem, config.es256_public_key_file,
                                          "ES256", ec);
        if (!err.empty()) return err;
        char group[64] = {};
        size_t group_len = 0;
        if (EVP_PKEY_is_a(ec.get(), "EC") != 1) return "the ES256 key is not an EC key";
        if (EVP_PKEY_get_group_name(ec.get(), group, sizeof group, &group_len) != 1 ||
            (std::strcmp(group, "prime256v1") != 0 && std::strcmp(group, "P-256") != 0)) {
            ERR_clear_error();
            return "the ES256 key is not on curve P-256";
        }
    }
    if (secret.empty() && !rsa && !ec)
        return "no JWT key configured (an HS256 secret, an RS256 or an ES256 public key)";

    OPENSSL_cleanse(hs_secret_.data(), hs_secret_.size());
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
    config_ = config;
    // Keep the claim settings only: the key material lives in the members below.
    config_.hs256_secret.clear();
    hs_secret_ = std::move(secret);
    rsa_ = rsa.release();
    ec_ = ec.release();
    return {};
}

bool JwtVerifier::check_signature(std::string_view alg, std::string_view signing_input,
                                  std::string_view signature) const {
    const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
    if (alg == "HS256") {
        if (hs_secret_.empty() || signature.size() != 32) return false;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (!HMAC(EVP_sha256(), hs_secret_.data(), static_cast<int>(hs_secret_.size()),
                  reinterpret_cast<const unsigned char*>(signing_input.data()),
                  signing_input.size(), mac, &mac_len)) {
            ERR_clear_error();
            return false;
        }
        return mac_len == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
    }
    if (alg == "RS256")
        return rsa_ && digest_verify(rsa_, signing_input, sig, signature.size());
    if (alg == "ES256") return ec_ && es256_verify(ec_, signing_input, signature);
    return false;
}

}  // namespace herald::auth
