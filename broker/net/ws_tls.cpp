// TLS settings of wss listeners on lws's SSL_CTX (see ws_tls.h).
#include "broker/net/ws_tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <fmt/format.h>

namespace herald::net {

namespace {

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    return text;
}

bool load_pair(SSL_CTX* ctx, const core::ListenerConfig& config, std::string& error) {
    if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
        error = fmt::format("cannot load cert_file {}: {}", config.cert_file, openssl_error());
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        error = fmt::format("cannot load key_file {}: {}", config.key_file, openssl_error());
        return false;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        error = fmt::format("key_file {} does not match cert_file {}", config.key_file,
                            config.cert_file);
        ERR_clear_error();
        return false;
    }
    return true;
}

}  // namespace

bool configure_server_tls(SSL_CTX* ctx, const core::ListenerConfig& config, std::string& error) {
    const int lowest = config.tls_version == "tlsv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, lowest) != 1) {
        error = "cannot set the lowest TLS version: " + openssl_error();
        return false;
    }
    if (config.ca_file.empty()) return true;
    if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
        error = fmt::format("cannot load ca_file {}: {}", config.ca_file, openssl_error());
        return false;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    const int mode = SSL_VERIFY_PEER |
                     (config.require_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, nullptr);  // OpenSSL's own chain check decides
    return true;
}

bool reload_certificate(SSL_CTX* ctx, const core::ListenerConfig& config, std::string& error) {
    SSL_CTX* scratch = SSL_CTX_new(TLS_server_method());
    if (scratch == nullptr) {
        error = "cannot make a TLS context: " + openssl_error();
        return false;
    }
    const bool ok = load_pair(scratch, config, error);
    SSL_CTX_free(scratch);
    return ok && load_pair(ctx, config, error);
}

std::string verified_common_name(SSL* ssl) {
    if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
    X509* certificate = SSL_get1_peer_certificate(ssl);
    if (certificate == nullptr) return {};
    char name[256] = {0};
    const int length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate),
                                                 NID_commonName, name, sizeof(name));
    X509_free(certificate);
    return length > 0 ? std::string(name, static_cast<size_t>(length)) : std::string();
}

}  // namespace herald::net
