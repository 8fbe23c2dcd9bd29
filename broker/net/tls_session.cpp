// A server TLS session over two memory BIOs (see tls_session.h).
#include "broker/net/tls_session.h"

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

namespace herald::net {

namespace {

// A memory BIO keeps the storage of its largest burst (a 1 MiB message would stay with the
// connection for good): once empty, one that grew past this gets a fresh buffer.
constexpr size_t kKeepBioBytes = 32 * 1024;

void shrink_if_empty(BIO* bio) {
    BUF_MEM* memory = nullptr;
    BIO_get_mem_ptr(bio, &memory);
    if (memory == nullptr || memory->max <= kKeepBioBytes || BIO_ctrl_pending(bio) != 0) return;
    if (BUF_MEM* fresh = BUF_MEM_new()) BIO_set_mem_buf(bio, fresh, BIO_CLOSE);
}

}  // namespace

std::string last_tls_error(const char* fallback) {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0) return fallback;
    // A file that could not be read: OpenSSL says only "system lib"; errno says why.
    if (ERR_SYSTEM_ERROR(code)) return std::strerror(static_cast<int>(ERR_GET_REASON(code)));
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) return reason;
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    return buffer;
}

std::unique_ptr<TlsSession> TlsSession::create(SSL_CTX* ctx, Role role) {
    ERR_clear_error();
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) return nullptr;
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (in == nullptr || out == nullptr) {
        BIO_free(in);
        BIO_free(out);
        SSL_free(ssl);
        ERR_clear_error();
        return nullptr;
    }
    // An empty input BIO means "wait for more", not end of file.
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl, in, out);
    if (role == Role::Server) SSL_set_accept_state(ssl);
    else SSL_set_connect_state(ssl);
    return std::unique_ptr<TlsSession>(new TlsSession(ssl, in, out));
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::receive(const uint8_t* data, size_t size) {
    if (size > 0) BIO_write(in_, data, static_cast<int>(size));
}

// The reason, as precise as OpenSSL can say it: a failed verification of the client's
// certificate names the verification error too.
void TlsSession::fail(int result) {
    failed_ = true;
    const int code = SSL_get_error(ssl_, result);
    if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_SSL) {
        error_ = last_tls_error("unexpected end of the stream");
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK)
            error_ += std::string(" (") + (SSL_is_server(ssl_) ? "client" : "server") +
                      " certificate: " + X509_verify_cert_error_string(verify) + ")";
    } else {
        error_ = "TLS error " + std::to_string(code);
        ERR_clear_error();
    }
}

TlsSession::Step TlsSession::handshake() {
    if (failed_) return Step::Failed;
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_);
    if (result == 1) {
        established_ = true;
        return Step::Done;
    }
    if (SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ) return Step::More;
    fail(result);
    return Step::Failed;
}

long TlsSession::read_plain(char* buffer, size_t capacity) {
    if (failed_) return -2;
    ERR_clear_error();
    const int result = SSL_read(ssl_, buffer, static_cast<int>(capacity));
    if (result > 0) return result;
    switch (SSL_get_error(ssl_, result)) {
        case SSL_ERROR_WANT_READ: shrink_if_empty(in_); return 0;
        case SSL_ERROR_ZERO_RETURN: return -1;
        default: fail(result); return -2;
    }
}

bool TlsSession::write_plain(const std::string& plain) {
    if (failed_ || !established_ || shut_down_) return false;
    ERR_clear_error();
    // A memory BIO takes everything: one call writes the whole buffer as records.
    const int result = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (result > 0) return true;
    fail(result);
    return false;
}

void TlsSession::shutdown() {
    if (failed_ || !established_ || shut_down_) return;
    shut_down_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
}

size_t TlsSession::wire_pending() const { return BIO_ctrl_pending(out_); }

void TlsSession::take_wire(std::string& out) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(out_, &data);
    if (size <= 0) return;
    out.append(data, static_cast<size_t>(size));
    (void)BIO_reset(out_);
    shrink_if_empty(out_);
}

}  // namespace herald::net
