// What every connection on one loop shares: the read buffer, the Framer, the once-per-turn
// flusher, the pools of output buffers and write requests, and the count of live connections.
//
// Sharing these keeps an idle connection small (no buffer of its own) and makes the steady
// state allocation-free: output buffers and write requests circulate through the pools.
// One LoopState per uv loop: it sets uv_loop_t::data to itself, which is how a connection
// finds it without storing a pointer.
// The flusher is a uv_prepare_t, run once per loop turn just before the loop would block, in
// the way of redis's beforeSleep: every packet core produced in the turn goes out in one write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "broker/mqtt/framer.h"

namespace herald::core {
class Broker;
}

namespace herald::net {

class StreamConnection;

// One uv_write in flight: owns the bytes (swapped with the connection's output) until the
// write completes, so the connection's next turn writes into another buffer. Pooled with
// the storage of its buffer.
struct WriteRequest {
    uv_write_t req;
    StreamConnection* connection = nullptr;
    std::string buffer;
    uint32_t length = 0;  // bytes of `buffer` handed to uv_write (the part try_write left)
};

class LoopState {
public:
    LoopState(uv_loop_t* loop, core::Broker& broker);
    ~LoopState();
    LoopState(const LoopState&) = delete;
    LoopState& operator=(const LoopState&) = delete;

    uv_loop_t* loop() const { return loop_; }
    core::Broker& broker() const { return broker_; }

    // The one read buffer: valid from alloc_cb to the end of the read callback that follows.
    uv_buf_t read_buffer() { return uv_buf_init(read_buffer_.get(), kReadBufferSize); }

    // Queues `connection` for this turn's flush (the caller keeps a flag so it is queued once).
    void mark_dirty(StreamConnection* connection) { dirty_.push_back(connection); }

    // The Framer for connections with no incomplete packet (see StreamConnection); a
    // connection that keeps its state, or hit an error, resets it.
    mqtt::Framer& framer() { return framer_; }
    void reset_framer() { framer_ = mqtt::Framer(broker_max_packet_size()); }

    // Pooled output buffers: take_buffer() returns an empty string, possibly with capacity.
    std::unique_ptr<std::string> take_buffer();
    void recycle_buffer(std::unique_ptr<std::string> buffer);
    WriteRequest* take_request();
    void recycle_request(WriteRequest* request);

    // A closing connection waiting for its last writes; aborted if they take longer than
    // kLingerMs (a peer that stopped reading must not keep the socket forever).
    void linger(StreamConnection* connection);
    void unlinger(StreamConnection* connection);
    // Called by the server's tick timer.
    void abort_stale_lingerers();

    // Bookkeeping of live connections: opened in the constructor, freed in the close
    // callback (before delete), and after_connection_freed() once the memory is gone, which
    // runs the idle callback when the last connection has closed (used by shutdown).
    void connection_opened(StreamConnection* connection);
    void connection_freed(StreamConnection* connection);
    void after_connection_freed();
    size_t live_connections() const { return live_; }
    // Forced shutdown: aborts every connection still open. Returns how many.
    size_t abort_all();
    void on_idle(std::function<void()> callback) { on_idle_ = std::move(callback); }

    // Stops the flusher and closes its handle (shutdown, after the last connection closed).
    void close();

private:
    static constexpr size_t kReadBufferSize = 64 * 1024;
    static constexpr uint64_t kLingerMs = 5000;
    static constexpr size_t kMaxPooledBuffers = 256;
    static constexpr size_t kMaxPooledCapacity = 64 * 1024;
    static constexpr size_t kMaxPooledRequests = 256;

    static void on_prepare(uv_prepare_t* prepare);
    uint32_t broker_max_packet_size() const;

    uv_loop_t* loop_;
    core::Broker& broker_;
    std::unique_ptr<char[]> read_buffer_;
    uv_prepare_t prepare_;
    std::vector<StreamConnection*> dirty_;
    std::vector<StreamConnection*> flushing_;  // dirty_ swapped out during a flush
    mqtt::Framer framer_;
    std::vector<std::unique_ptr<std::string>> spare_buffers_;
    std::vector<std::unique_ptr<WriteRequest>> spare_requests_;
    std::unordered_map<StreamConnection*, uint64_t> lingering_;  // -> deadline (uv_now ms)
    StreamConnection* connections_ = nullptr;  // head of the intrusive list
    size_t live_ = 0;
    std::function<void()> on_idle_;
    bool closed_ = false;
};

}  // namespace herald::net
