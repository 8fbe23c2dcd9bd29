// A listening socket (TCP on IPv4/IPv6, or a Unix domain socket) that accepts connections
// into StreamConnections. A tls listener owns the TlsContext its connections share; it and a
// listener with proxy_protocol give each connection its StreamLayers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <uv.h>

#include "broker/core/config.h"

namespace herald::net {

class LoopState;
class TlsContext;

class Listener {
public:
    Listener(LoopState& loop, core::ListenerConfig config);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Binds and listens. On failure sets `error` to a line such as
    // "cannot listen on tcp 127.0.0.1:1883: address already in use".
    bool open(std::string& error);

    // Stops accepting and closes the handle (the memory stays with the owner, which must keep
    // the Listener until the loop has run the close). Removes the Unix socket file.
    void close();

    // tls: loads the certificate and key again (SIGHUP); logs the outcome. Others: nothing.
    void reload_certificate();

    // "tcp 127.0.0.1:54321" (or "tls ...") with the port really bound, or "unix /path/sock".
    const std::string& name() const { return name_; }

private:
    static void on_connection(uv_stream_t* server, int status);
    bool open_tcp(std::string& error);
    bool open_unix(std::string& error);
    void log_accept_error(int status);
    void check_fd_headroom(uv_stream_t* accepted);

    union Handle {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle_;
    LoopState& loop_;
    core::ListenerConfig config_;
    std::unique_ptr<TlsContext> tls_;  // type tls
    std::string name_;
    bool initialized_ = false;
    bool created_socket_file_ = false;
    uint64_t last_error_log_ms_ = 0;  // accept errors are logged at most once per second
    uint64_t errors_since_log_ = 0;
    uint64_t fd_limit_ = 0;           // RLIMIT_NOFILE when opened
    uint64_t last_fd_warning_ms_ = 0;
};

}  // namespace herald::net
