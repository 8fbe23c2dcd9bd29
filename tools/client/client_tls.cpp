// Client over TLS (ConnectOptions::tls, `herald pub/sub --cafile`): the context from the CA,
// certificate and key files; the server name (SNI) and host check; and the Client's hooks that
// decrypt what is read and encrypt what the turn wrote (one net::TlsSession over memory BIOs).
//
// The CONNECT is queued as usual right after the TCP connect; it stays in out_ as plaintext
// until the handshake is done, then goes out encrypted. A handshake failure is the connect
// failure ("TLS handshake failed: certificate verify failed (server certificate: ...)").
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tools/client/client.h"

namespace herald::tools {

namespace {

bool is_ip_literal(const std::string& host) {
    unsigned char buffer[16];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

bool Client::start_tls() {
    const ConnectOptions::Tls& options = *options_.tls;
    tls_ctx_ = {SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
    if (!tls_ctx_) {
        fail("cannot make a TLS context: " + net::last_tls_error("out of memory"));
        return false;
    }
    SSL_CTX* ctx = tls_ctx_.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
        fail("cannot load the CA file '" + options.ca_file + "': " + net::last_tls_error("unreadable"));
        return false;
    }
    if (!options.cert_file.empty() &&
        SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
        fail("cannot load the certificate '" + options.cert_file + "': " + net::last_tls_error("unreadable"));
        return false;
    }
    if (!options.key_file.empty() &&
        SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        fail("cannot load the key '" + options.key_file + "': " + net::last_tls_error("unreadable"));
        return false;
    }
    tls_ = net::TlsSession::create(ctx, net::TlsSession::Role::Client);
    if (!tls_) {
        fail("cannot make a TLS session");
        return false;
    }
    SSL* ssl = tls_->ssl();
    const std::string& host = options_.host;
    if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
    if (!options.insecure) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (is_ip_literal(host)) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
        else SSL_set1_host(ssl, host.c_str());
    }
    (void)tls_->handshake();  // the ClientHello, written by the flush
    mark_dirty();
    return true;
}

void Client::read_tls(std::span<const uint8_t> bytes) {
    tls_->receive(bytes.data(), bytes.size());
    if (!tls_->established()) {
        const net::TlsSession::Step step = tls_->handshake();
        if (step == net::TlsSession::Step::Failed) {
            fail("TLS handshake failed: " + tls_->error());
            return;
        }
        mark_dirty();  // the handshake's next flight, or the CONNECT that waited for it
        if (step == net::TlsSession::Step::More) return;
    }
    for (;;) {
        const long n = tls_->read_plain(loop_.read_buffer(), loop_.read_buffer_size());
        if (n > 0) {
            auto plain = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(loop_.read_buffer()),
                                                  static_cast<size_t>(n));
            if (!feed_frames(plain) || state_ == ClientState::Closing || state_ == ClientState::Closed) return;
            continue;
        }
        if (n == -2) fail("TLS error: " + tls_->error());
        break;  // 0: wait for more; -1: close_notify, the socket's end follows
    }
    if (tls_->wire_pending() > 0) mark_dirty();
}

// The bytes to write this turn: the plaintext of out_ (once the handshake is done) as records,
// after whatever the handshake queued.
std::string& Client::seal_output() {
    if (tls_->established() && !out_.empty()) {
        if (!tls_->write_plain(out_)) fail("TLS error: " + tls_->error());
        out_.clear();
    }
    tls_->take_wire(tls_wire_);
    return tls_wire_;
}

}  // namespace herald::tools
