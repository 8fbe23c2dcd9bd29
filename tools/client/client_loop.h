// The per-loop context shared by every Client on one libuv loop.
//
// It holds what need not exist once per connection: one read buffer (each read is fully fed to
// the connection's Framer before the callback returns, so one buffer serves every client) and
// one uv_prepare_t that flushes every client with pending output once per loop turn, in the
// way of redis's beforeSleep: many packets, one write per connection per turn.
#pragma once

#include <uv.h>

#include <cstddef>
#include <vector>

namespace herald::tools {

class Client;

class ClientLoop {
public:
    explicit ClientLoop(uv_loop_t* loop);
    ~ClientLoop();
    ClientLoop(const ClientLoop&) = delete;
    ClientLoop& operator=(const ClientLoop&) = delete;

    uv_loop_t* uv() const { return loop_; }

    // Called by a Client when it first gets output in this turn; flushed in the prepare phase.
    void schedule_flush(Client* client) { dirty_.push_back(client); }
    // Called by a Client that is closing, so the flush list holds no dangling pointer.
    void forget(Client* client);

    // The shared read buffer handed to uv_read_start's alloc callback.
    char* read_buffer() { return read_buffer_.data(); }
    size_t read_buffer_size() const { return read_buffer_.size(); }

    // Closes the prepare handle; call before uv_loop_close (the destructor does it too, but
    // then a final uv_run is needed for the close callback).
    void close();

private:
    static void on_prepare(uv_prepare_t* handle);

    uv_loop_t* loop_;
    uv_prepare_t* prepare_;  // heap: freed in its close callback, which may outlive us
    std::vector<Client*> dirty_;
    std::vector<Client*> flushing_;  // swapped with dirty_ so flushes may schedule more
    std::vector<char> read_buffer_;
};

}  // namespace herald::tools
