// Building, checking and reloading a listener's SSL_CTX (see tls_context.h).
#include "broker/net/tls_context.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace herald::net {

namespace {

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// An encrypted key would need a passphrase nobody is there to type: refuse it clearly.
int no_passphrase(char*, int, int, void*) { return -1; }

BioPtr open_file(const char* key, const std::string& path, std::string& error) {
    errno = 0;
    BioPtr bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
        ERR_clear_error();
        error = std::string("cannot read ") + key + " " + path + ": " +
                (errno != 0 ? std::strerror(errno) : "cannot open");
    }
    return bio;
}

// The leaf certificate and the chain after it, as in SSL_CTX_use_certificate_chain_file.
bool read_chain(const std::string& path, X509Ptr& leaf, std::vector<X509Ptr>& chain,
                std::string& error) {
    BioPtr bio = open_file("cert_file", path, error);
    if (!bio) return false;
    leaf.reset(PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr));
    if (!leaf) {
        error = "cert_file " + path + " holds no PEM certificate (" +
                last_tls_error("no BEGIN CERTIFICATE") + ")";
        return false;
    }
    while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr))
        chain.emplace_back(next);
    // The loop ends at the end of the file (PEM_R_NO_START_LINE) or at a broken block.
    const unsigned long last = ERR_peek_last_error();
    if (last != 0 && !(ERR_GET_LIB(last) == ERR_LIB_PEM &&
                       ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
        error = "cert_file " + path + ": a certificate of the chain cannot be read (" +
                last_tls_error("bad PEM") + ")";
        return false;
    }
    ERR_clear_error();
    return true;
}

PkeyPtr read_key(const std::string& path, std::string& error) {
    BioPtr bio = open_file("key_file", path, error);
    if (!bio) return nullptr;
    PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) {
        error = "key_file " + path + " holds no usable PEM private key (" +
                last_tls_error("no BEGIN PRIVATE KEY") + "; encrypted keys are not supported)";
    }
    return key;
}

std::string name_line(X509_NAME* name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(size));
}

}  // namespace

TlsContext::TlsContext(SSL_CTX* ctx, core::ListenerConfig config, bool owned)
    : ctx_(ctx), owned_(owned), config_(std::move(config)) {}

TlsContext::~TlsContext() {
    if (owned_) SSL_CTX_free(ctx_);
}

std::unique_ptr<TlsContext> TlsContext::create(const core::ListenerConfig& config,
                                               std::string& error) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        error = "cannot make a TLS context: " + last_tls_error("out of memory");
        return nullptr;
    }
    std::unique_ptr<TlsContext> self(new TlsContext(ctx, config, true));
    if (!self->configure(error)) return nullptr;
    return self;
}

std::unique_ptr<TlsContext> TlsContext::adopt(SSL_CTX* ctx, const core::ListenerConfig& config,
                                              std::string& error) {
    ERR_clear_error();
    std::unique_ptr<TlsContext> self(new TlsContext(ctx, config, false));
    if (!self->configure(error)) return nullptr;
    return self;
}

bool TlsContext::configure(std::string& error) {
    SSL_CTX* ctx = ctx_;
    const core::ListenerConfig& config = config_;
    const int lowest = config.tls_version == "tlsv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, lowest);
    // Client-initiated renegotiation costs the server a handshake for each: never needed.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // An idle connection gives its read and write buffers back (a broker holds many idle).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // Needed for session resumption once client certificates are verified.
    static const unsigned char kSessionContext[] = "herald";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
    if (!load_certificate(error)) return false;

    if (!config.ca_file.empty()) {
        BioPtr probe = open_file("ca_file", config.ca_file, error);
        if (!probe) return false;
        if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
            error = "ca_file " + config.ca_file + " holds no usable PEM certificate (" +
                    last_tls_error("cannot load") + ")";
            return false;
        }
        // Tell clients which CAs are accepted (they pick their certificate by it).
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str()))
            SSL_CTX_set_client_CA_list(ctx, names);
        ERR_clear_error();
        int mode = SSL_VERIFY_PEER;
        if (config.require_certificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, nullptr);
    }
    return true;
}

bool TlsContext::reload(std::string& error) {
    ERR_clear_error();
    return load_certificate(error);
}

bool TlsContext::load_certificate(std::string& error) {
    X509Ptr leaf;
    std::vector<X509Ptr> chain;
    if (!read_chain(config_.cert_file, leaf, chain, error)) return false;
    PkeyPtr key = read_key(config_.key_file, error);
    if (!key) return false;
    if (X509_check_private_key(leaf.get(), key.get()) != 1) {
        ERR_clear_error();
        error = "key_file " + config_.key_file + " is not the key of the certificate in cert_file " +
                config_.cert_file;
        return false;
    }
    // Both read and matching: only now is the running pair replaced.
    if (SSL_CTX_use_certificate(ctx_, leaf.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx_, key.get()) != 1) {
        error = "cert_file " + config_.cert_file + " cannot be used: " +
                last_tls_error("refused by OpenSSL (a key too small, or a weak signature?)");
        return false;
    }
    SSL_CTX_clear_chain_certs(ctx_);
    for (X509Ptr& certificate : chain) {
        if (SSL_CTX_add0_chain_cert(ctx_, certificate.get()) == 1) (void)certificate.release();
    }
    ERR_clear_error();
    return true;
}

std::string TlsContext::certificate_summary() const {
    X509* certificate = SSL_CTX_get0_certificate(ctx_);
    if (certificate == nullptr) return "no certificate";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    X509_digest(certificate, EVP_sha256(), digest, &length);
    std::string fingerprint;
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < length; ++i) {
        if (i > 0) fingerprint += ':';
        fingerprint += kHex[digest[i] >> 4];
        fingerprint += kHex[digest[i] & 0xF];
    }
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(bio.get(), X509_get0_notAfter(certificate));
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return "subject " + name_line(X509_get_subject_name(certificate)) + ", SHA-256 " + fingerprint +
           ", expires " + std::string(data, static_cast<size_t>(size));
}

std::string peer_common_name(const SSL* ssl) {
    X509* certificate = SSL_get0_peer_certificate(ssl);
    if (certificate == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
    X509_NAME* subject = X509_get_subject_name(certificate);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index < 0) return {};
    ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, value);
    if (length < 0) {
        ERR_clear_error();
        return {};
    }
    std::string name(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
    OPENSSL_free(utf8);
    return name;
}

}  // namespace herald::net
