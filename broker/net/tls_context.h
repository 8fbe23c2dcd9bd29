// TlsContext: the OpenSSL 3 server context (SSL_CTX) of one tls or wss listener, made from
// its core::ListenerConfig, and reloaded in place on SIGHUP.
//
// What it sets: the certificate chain and key (cert_file, key_file), TLS 1.2 or 1.3 as the
// lowest version (tls_version; nothing older is ever accepted), client certificates verified
// against ca_file when given (asked for but optional; required with require_certificate), no
// renegotiation, and small idle connections (SSL_MODE_RELEASE_BUFFERS).
//
// Reload: the certificate and key are read and checked against each other first, and only
// then put into the same SSL_CTX, so a failed reload keeps the running pair. Handshakes that
// start afterwards present the new certificate; connections already open keep theirs (each
// SSL copied the pair when it was made). ca_file and the other keys change only at restart.
//
// Every error names the file and says what is wrong with it: it is shown at start, by
// `heraldd --test-config`, and in the log of a failed reload.
#pragma once

#include <memory>
#include <string>

#include <openssl/types.h>

#include "broker/core/config.h"
#include "broker/net/tls_session.h"  // last_tls_error

namespace herald::net {

class TlsContext {
public:
    // nullptr and `error` set when a file cannot be used.
    static std::unique_ptr<TlsContext> create(const core::ListenerConfig& config, std::string& error);
    // The same settings on an SSL_CTX made by someone else (libwebsockets' for a wss vhost),
    // which stays theirs: never freed here.
    static std::unique_ptr<TlsContext> adopt(SSL_CTX* ctx, const core::ListenerConfig& config,
                                             std::string& error);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    SSL_CTX* get() const { return ctx_; }
    const core::ListenerConfig& config() const { return config_; }

    // Loads cert_file and key_file again into this SSL_CTX. False (with `error`) leaves the
    // running certificate in place.
    bool reload(std::string& error);

    // "subject CN=broker.example, SHA-256 AB:CD:..., expires Nov 21 15:00:00 2027 GMT": the
    // certificate now presented, for log lines.
    std::string certificate_summary() const;

private:
    TlsContext(SSL_CTX* ctx, core::ListenerConfig config, bool owned);
    bool configure(std::string& error);
    bool load_certificate(std::string& error);

    SSL_CTX* ctx_;
    bool owned_;
    core::ListenerConfig config_;
};

// The common name of the peer's certificate when it was verified, else "" (no certificate,
// verification failed, or no CN in its subject).
std::string peer_common_name(const SSL* ssl);

}  // namespace herald::net
