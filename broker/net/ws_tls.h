// TLS of a wss listener, on the SSL_CTX that libwebsockets made for its vhost: the lowest
// protocol version, client certificates, reloading the certificate in place, and the CN of a
// client's verified certificate (use_identity_as_username).
#pragma once

#include <string>

#include <openssl/ssl.h>

#include "broker/core/config.h"

namespace herald::net {

// TLS 1.2+ (1.3 only with tls_version "tlsv1.3"); with ca_file, client certificates are asked
// for and verified against it, and required with require_certificate.
bool configure_server_tls(SSL_CTX* ctx, const core::ListenerConfig& config, std::string& error);

// Loads cert_file and key_file again into `ctx` (connections made from now on use them). The
// files are checked in a scratch context first: on any error `ctx` is left as it was.
bool reload_certificate(SSL_CTX* ctx, const core::ListenerConfig& config, std::string& error);

// The common name of the peer's certificate when OpenSSL verified it; "" otherwise.
std::string verified_common_name(SSL* ssl);

}  // namespace herald::net
