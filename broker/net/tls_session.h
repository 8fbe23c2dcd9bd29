// TlsSession: one TLS session over memory BIOs, for a connection whose socket libuv reads and
// writes: the broker's side (accept) or a client's (connect, the `herald` tool). No I/O of its own: ciphertext in (receive), plaintext out
// (read_plain); plaintext in (write_plain), ciphertext out (take_wire).
//
// Why memory BIOs: libuv owns the socket and its readiness; OpenSSL only transforms bytes,
// so the connection keeps the same read path (one shared read buffer) and the same
// once-per-turn batched write as plain TCP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <openssl/types.h>

namespace herald::net {

class TlsSession {
public:
    enum class Role : uint8_t { Server, Client };

    // nullptr when OpenSSL cannot make the session (out of memory). A client sets its server
    // name and host check on ssl() before the first handshake().
    static std::unique_ptr<TlsSession> create(SSL_CTX* ctx, Role role = Role::Server);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    enum class Step : uint8_t { More, Done, Failed };

    // Hands received ciphertext to OpenSSL.
    void receive(const uint8_t* data, size_t size);

    // Advances the handshake with what was received: More (waiting for the peer), Done (now
    // finished), Failed (error() says why). Call while !established().
    Step handshake();
    bool established() const { return established_; }

    // Decrypted bytes into `buffer`: >0 bytes, 0 nothing more for now, -1 the peer closed
    // the session (close_notify), -2 failed (error()).
    long read_plain(char* buffer, size_t capacity);

    // Encrypts `plain` into the outgoing ciphertext. False if the session cannot send
    // (not established, or failed).
    bool write_plain(const std::string& plain);

    // Queues a close_notify (once; only on an established session that has not failed).
    void shutdown();

    // Ciphertext waiting to be sent (handshake records, alerts, encrypted data).
    size_t wire_pending() const;
    void take_wire(std::string& out);  // appends it to `out`

    const std::string& error() const { return error_; }
    SSL* ssl() const { return ssl_; }

private:
    explicit TlsSession(SSL* ssl, BIO* in, BIO* out) : ssl_(ssl), in_(in), out_(out) {}
    void fail(int result);

    SSL* ssl_;
    BIO* in_;   // owned by ssl_
    BIO* out_;  // owned by ssl_
    std::string error_;
    bool established_ = false;
    bool failed_ = false;
    bool shut_down_ = false;
};

// The reason of the last OpenSSL error of this thread ("wrong version number"), clearing the
// queue; `fallback` when the queue is empty.
std::string last_tls_error(const char* fallback);

}  // namespace herald::net
