// One accepted stream socket (TCP or Unix domain) as a core::Connection.
//
// Kept lean because a broker holds many idle connections: the libuv handle, the Framer (empty
// unless a packet is incomplete), an output string with no storage while idle, and a few
// flags. Reads go into one buffer shared by the whole loop (LoopState); writes are batched by
// LoopState's flusher once per loop turn. The object is freed only in its close callback.
#pragma once

#include <cstdint>
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

class StreamConnection final : public core::Connection {
public:
    enum class Kind : uint8_t { Tcp, Unix };

    // Initializes the handle on the loop; the listener then uv_accept()s into stream() and
    // calls start() on success or discard() on failure. Always heap-allocated: it deletes
    // itself in its close callback.
    StreamConnection(LoopState& loop, Kind kind);
    StreamConnection(const StreamConnection&) = delete;
    StreamConnection& operator=(const StreamConnection&) = delete;

    uv_stream_t* stream() { return &handle_.stream; }

    // Accepted: names the peer, sets TCP_NODELAY, tells the broker, starts reading.
    void start();
    // Accept failed: close the handle without ever telling the broker.
    void discard();

    // core::Connection
    std::string& output() override;
    size_t pending_output_bytes() const override { return output_.size() + in_flight_; }
    void close() override;
    const std::string& peer() const override { return peer_; }
    const char* transport() const override { return kind_ == Kind::Tcp ? "tcp" : "unix"; }

    // Closes without sending what is still buffered: peer gone, write error, forced shutdown.
    void abort();

    // Called by LoopState's prepare callback, once per loop turn while marked dirty: writes
    // the turn's output (uv_try_write, then uv_write for the rest) and carries out a close.
    void flush_in_loop();

private:
    ~StreamConnection() override = default;

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_close(uv_handle_t* handle);

    bool write_output();
    void mark_dirty();
    void release_output();
    void start_close();
    void read_frames(const uint8_t* data, size_t size);

    union Handle {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle_;
    LoopState& loop_;
    core::Client* client_ = nullptr;
    mqtt::Framer framer_;
    std::string output_;     // this turn's packets; storage borrowed from LoopState's pool
    std::string peer_;       // "127.0.0.1:50123", "[::1]:50123" or "unix"
    uint32_t in_flight_ = 0;  // bytes handed to uv_write and not yet completed
    Kind kind_;
    bool in_dirty_ = false;  // queued for this turn's flush
    bool closing_ = false;   // close() or abort() called: input is ignored from now on
    bool aborted_ = false;   // output is dropped; close without waiting for writes
    bool opened_ = false;    // Broker::on_open() was called, so on_closed() is owed
    // LoopState's list of live connections (for forced shutdown), intrusive to save a node.
    StreamConnection* prev_ = nullptr;
    StreamConnection* next_ = nullptr;

    friend class LoopState;
};

}  // namespace herald::net
