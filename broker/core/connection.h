// What core needs from a transport: a place to put outgoing bytes, and a way to close.
//
// Implemented by broker/net (TCP, Unix, TLS, WebSocket). Core appends encoded packets
// to output(); the transport sends everything appended during one loop turn in one write.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace herald::core {

class Connection {
public:
    virtual ~Connection() = default;

    // The buffer to append encoded packets to. Calling it marks the connection for a flush at
    // the end of this loop turn.
    virtual std::string& output() = 0;

    // Bytes appended but not yet accepted by the kernel (buffered here + in flight in writes).
    // Core uses it to notice slow consumers.
    virtual size_t pending_output_bytes() const = 0;

    // Flush what is in output(), then close. Broker::on_closed() follows later, from the
    // transport's close callback; until then the Connection stays valid but accepts no more
    // input.
    virtual void close() = 0;

    // "127.0.0.1:50123", "unix", ... for logs.
    virtual const std::string& peer() const = 0;

    // "tcp", "unix", "tls", "ws", "wss".
    virtual const char* transport() const = 0;

    // The common name of the client's verified certificate, on a TLS listener with
    // use_identity_as_username; empty otherwise. When set it is the client's username.
    virtual std::string_view certificate_identity() const { return {}; }
};

}  // namespace herald::core
