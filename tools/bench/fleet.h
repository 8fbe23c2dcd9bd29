// Fleet: the many clients of one bench run on one loop — building their ConnectOptions,
// connecting them with a bounded number of handshakes in flight (a listen backlog is finite),
// and closing them all at the end.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/bench/bench.h"
#include "tools/client/client.h"

namespace herald::tools::bench {

// ConnectOptions for client `index` of the run. `spread`: bind to a source address among
// 127.0.0.2..127.0.0.251 (IPv4 only) so that many connections do not exhaust the ephemeral
// ports of one address.
ConnectOptions client_options(const BenchConfig& config, const std::string& id, size_t index, bool spread);

class Fleet {
public:
    explicit Fleet(uv_loop_t* loop) : loop_(loop), client_loop_(loop) {}
    ~Fleet();

    ClientLoop& client_loop() { return client_loop_; }
    Client* add(ConnectOptions options);
    std::vector<std::unique_ptr<Client>>& clients() { return clients_; }

    // Connects every client added and not yet connected, at most `parallel` handshakes at once.
    // `each` is called for every CONNACK or failure (before `done`); `done(error)` once all
    // have answered, or at the first failure with its error (the rest are left as they are).
    void connect_all(size_t parallel, std::function<void(Client&, const ConnectResult&)> each,
                     std::function<void(const std::string& error)> done);

    // DISCONNECT to every open client; those not closed within `grace_ms` are closed; `done`
    // once every client has closed. Callers set on_close before and must not delete clients.
    void close_all(uint64_t grace_ms, std::function<void()> done);
    size_t open_count() const;

private:
    void pump();
    void on_connect_result(Client& client, const ConnectResult& result);

    uv_loop_t* loop_;
    ClientLoop client_loop_;
    std::vector<std::unique_ptr<Client>> clients_;
    size_t next_ = 0, active_ = 0, parallel_ = 1;
    bool failed_ = false;
    std::function<void(Client&, const ConnectResult&)> each_;
    std::function<void(const std::string&)> done_;
    uv_timer_t* close_timer_ = nullptr;
    uint64_t close_deadline_ms_ = 0;
    std::function<void()> closed_;
};

}  // namespace herald::tools::bench
