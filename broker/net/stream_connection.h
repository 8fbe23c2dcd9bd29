// One accepted stream socket (TCP or Unix domain) as a core::Connection.
//
// Kept lean because a broker holds many idle connections: the libuv handle and a few words.
// Reads go into one buffer shared by the whole loop (LoopState) and through the loop's shared
// Framer; only a connection with an incomplete packet holds a Framer of its own. Output is a
// pooled buffer borrowed while there is something to send; writes are batched by LoopState's
// flusher once per loop turn. The peer address is kept in binary and formatted only for a
// log line. The LoopState is found through the loop (uv_loop_t::data), not stored. The object
// is freed only in its close callback.
// A connection of a tls listener, or of one with proxy_protocol, also has StreamLayers (the
// PROXY header, the TLS session: stream_layers.h); a plain one pays a null pointer for them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <uv.h>

#include "broker/core/connection.h"
#include "broker/mqtt/framer.h"

namespace herald::core {
class Client;
}

namespace herald::net {

class LoopState;
struct WriteRequest;
struct StreamLayers;
class TlsContext;

class StreamConnection final : public core::Connection {
public:
    enum class Kind : uint8_t { Tcp, Unix };

    // Initializes the handle on the loop; the listener then uv_accept()s into stream() and
    // calls start() on success or discard() on failure. Always heap-allocated: it deletes
    // itself in its close callback.
    StreamConnection(LoopState& loop, Kind kind);
    StreamConnection(const StreamConnection&) = delete;
    StreamConnection& operator=(const StreamConnection&) = delete;

    uv_stream_t* stream() {
        return kind_ == Kind::Tcp ? reinterpret_cast<uv_stream_t*>(&handle_.tcp)
                                  : reinterpret_cast<uv_stream_t*>(handle_.pipe);
    }

    // Accepted: names the peer, sets TCP_NODELAY, tells the broker, starts reading.
    void start();
    // Accept failed: close the handle without ever telling the broker.
    void discard();
    // Before start(): TLS with `tls` (may be null) and/or a PROXY header first. False when the
    // TLS session cannot be made (the caller discards the connection).
    bool add_layers(const TlsContext* tls, bool proxy_protocol);

    // core::Connection
    std::string& output() override;
    size_t pending_output_bytes() const override {
        return (output_ ? output_->size() : 0) + in_flight_;
    }
    void close() override;
    // Formatted on each call into a per-thread string, valid until the next peer() call (of
    // any connection): one per log line, which is all it is used for.
    const std::string& peer() const override;
    const char* transport() const override;
    std::string_view certificate_identity() const override;

    // Closes without sending what is still buffered: peer gone, write error, forced shutdown.
    void abort();

    // Called by LoopState's prepare callback, once per loop turn while marked dirty: writes
    // the turn's output (uv_try_write, then uv_write for the rest) and carries out a close.
    void flush_in_loop();

private:
    ~StreamConnection() override;

    uv_handle_t* handle() {
        return kind_ == Kind::Tcp ? reinterpret_cast<uv_handle_t*>(&handle_.tcp)
                                  : reinterpret_cast<uv_handle_t*>(handle_.pipe);
    }
    LoopState& loop() { return *static_cast<LoopState*>(handle()->loop->data); }

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_close(uv_handle_t* handle);

    bool write_output();
    void mark_dirty();
    void release_output();
    void start_close();
    void read_frames(const uint8_t* data, size_t size);
    // stream_layers.cpp
    void read_layered(const uint8_t* data, size_t size);
    bool read_proxy_header(const uint8_t*& data, size_t& size, std::string& joined);
    void read_tls(const uint8_t* data, size_t size);
    void seal_output();
    void log_unfinished_layers();

    // TCP inline; a Unix connection (rare, and uv_pipe_t is 16 bytes larger) allocates its
    // pipe handle, freed in the close callback, so TCP connections carry no padding for it.
    union Handle {
        uv_tcp_t tcp;
        uv_pipe_t* pipe;
    } handle_;
    core::Client* client_ = nullptr;
    std::unique_ptr<mqtt::Framer> framer_;  // only while a packet is incomplete
    std::unique_ptr<std::string> output_;   // this turn's packets: borrowed from LoopState's pool
    std::unique_ptr<StreamLayers> layers_;  // tls or proxy_protocol listeners only
    // LoopState's list of live connections (for forced shutdown), intrusive to save a node.
    StreamConnection* prev_ = nullptr;
    StreamConnection* next_ = nullptr;
    uint32_t in_flight_ = 0;        // bytes handed to uv_write and not yet completed
    uint32_t max_packet_size_;      // the broker's limit when accepted (reloads do not change it)
    uint8_t peer_address_[16] = {};  // IPv4 (first 4 bytes) or IPv6, network order
    uint16_t peer_port_ = 0;
    uint8_t peer_family_ = 0;  // AF_INET, AF_INET6, or 0: unknown / unix
    Kind kind_;
    bool in_dirty_ = false;  // queued for this turn's flush
    bool closing_ = false;   // close() or abort() called: input is ignored from now on
    bool aborted_ = false;   // output is dropped; close without waiting for writes
    bool opened_ = false;    // Broker::on_open() was called, so on_closed() is owed

    friend class LoopState;
};

}  // namespace herald::net
