// The event loop's owner: listeners, the flusher, the 100 ms tick, signals and shutdown.
//
// SIGINT/SIGTERM: the broker says goodbye (Broker::shutdown), listeners close, and uv_run
// returns once every connection has closed, or after 5 s, when the rest are closed by force
// (a second signal forces at once). SIGHUP: the reload handler given by the program runs.
// SIGHUP also reloads the certificates of the wss listeners.
// SIGPIPE is ignored: a peer that vanished is seen as a write error instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "broker/core/config.h"
#include "broker/net/listener.h"
#include "broker/net/loop_state.h"
#include "broker/net/ws_server.h"

namespace herald::core {
class Broker;
}

namespace herald::net {

class Server {
public:
    Server(uv_loop_t* loop, core::Broker& broker);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Opens every listener and logs "listening on tcp 127.0.0.1:54321" for each. On the first
    // failure returns false with the error; call stop() and run() to release everything.
    bool listen(const std::vector<core::ListenerConfig>& listeners, std::string& error);

    // Runs on SIGHUP, on the loop thread.
    void on_reload(std::function<void()> handler) { reload_ = std::move(handler); }

    // Runs the loop until shutdown has completed and every handle is closed.
    void run();

    // Starts a graceful shutdown (as SIGTERM does). A second call forces it.
    void stop();

    size_t live_connections() const {
        return state_.live_connections() + (ws_ ? ws_->live_connections() : 0);
    }

private:
    static constexpr uint64_t kTickMs = 100;
    static constexpr uint64_t kShutdownCapMs = 5000;

    static void on_tick(uv_timer_t* timer);
    static void on_check(uv_check_t* check);
    static void on_precise(uv_timer_t* timer);
    static void on_signal(uv_signal_t* signal, int number);
    static void on_shutdown_timeout(uv_timer_t* timer);
    void force_close();
    void finish();

    uv_loop_t* loop_;
    core::Broker& broker_;
    LoopState state_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::unique_ptr<WsServer> ws_;  // the ws and wss listeners (libwebsockets), if any
    uv_timer_t tick_;
    // Deadlines the 100 ms tick would be late for (Broker::next_precise_deadline_ms): looked
    // at after every loop turn, one timer armed for the earliest.
    uv_check_t check_;
    uv_timer_t precise_;
    uint64_t precise_at_ = 0;  // what precise_ is armed for (0: not armed)
    uv_timer_t shutdown_timer_;
    uv_signal_t signals_[3];  // SIGINT, SIGTERM, SIGHUP
    std::function<void()> reload_;
    bool stopping_ = false;
    bool finished_ = false;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (a broker's connections are descriptors).
// Returns the soft limit now in force.
uint64_t raise_fd_limit();

// uv_loop_close(); if handles are still open, logs each one and returns false.
bool close_loop(uv_loop_t* loop);

}  // namespace herald::net
