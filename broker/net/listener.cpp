// Listening sockets: bind, listen, accept; accept errors (EMFILE) rate-limited in the log.
#include "broker/net/listener.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "broker/net/loop_state.h"
#include "broker/net/stream_connection.h"
#include "broker/net/tls_context.h"

namespace herald::net {

namespace {

std::string format_address(const sockaddr* address) {
    char host[64] = {0};
    if (address->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
        uv_ip6_name(in6, host, sizeof(host));
        return std::string("[") + host + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
    uv_ip4_name(in4, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in4->sin_port));
}

// Literal IPv4 or IPv6 first; a host name ("localhost") is resolved once, synchronously: this
// runs at start, before the loop serves anyone.
int resolve(uv_loop_t* loop, const std::string& host, uint16_t port, sockaddr_storage& out) {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
    if (uv_ip4_addr(host.c_str(), port, in4) == 0) return 0;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (uv_ip6_addr(host.c_str(), port, in6) == 0) return 0;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    uv_getaddrinfo_t request;
    const int result = uv_getaddrinfo(loop, &request, nullptr, host.c_str(), nullptr, &hints);
    if (result != 0) return result;
    std::memcpy(&out, request.addrinfo->ai_addr, request.addrinfo->ai_addrlen);
    uv_freeaddrinfo(request.addrinfo);
    if (out.ss_family == AF_INET6) in6->sin6_port = htons(port);
    else in4->sin_port = htons(port);
    return 0;
}

}  // namespace

Listener::Listener(LoopState& loop, core::ListenerConfig config)
    : loop_(loop), config_(std::move(config)) {
    if (config_.type == "unix") {
        name_ = "unix " + config_.address;
    } else if (config_.address.find(':') != std::string::npos) {
        name_ = config_.type + " [" + config_.address + "]:" + std::to_string(config_.port);
    } else {
        name_ = config_.type + " " + config_.address + ":" + std::to_string(config_.port);
    }
}

Listener::~Listener() = default;

bool Listener::open(std::string& error) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) fd_limit_ = static_cast<uint64_t>(limit.rlim_cur);
    if (config_.type == "tls") {
        tls_ = TlsContext::create(config_, error);
        if (!tls_) {
            error = "cannot listen on " + name_ + ": " + error;
            return false;
        }
    }
    const bool ok = config_.type == "unix" ? open_unix(error) : open_tcp(error);
    if (!ok) close();
    else if (tls_) spdlog::info("{}: certificate {}", name_, tls_->certificate_summary());
    return ok;
}

bool Listener::open_tcp(std::string& error) {
    sockaddr_storage address{};
    int result = resolve(loop_.loop(), config_.address, config_.port, address);
    if (result == 0) {
        uv_tcp_init(loop_.loop(), &handle_.tcp);
        handle_.handle.data = this;
        initialized_ = true;
        result = uv_tcp_bind(&handle_.tcp, reinterpret_cast<const sockaddr*>(&address), 0);
    }
    // libuv may report a bind error such as EADDRINUSE only at listen time.
    if (result == 0) result = uv_listen(&handle_.stream, SOMAXCONN, &Listener::on_connection);
    if (result != 0) {
        error = "cannot listen on " + name_ + ": " + uv_strerror(result);
        return false;
    }
    // Port 0 asks for an ephemeral port: name the one really bound (tests parse this line).
    sockaddr_storage bound{};
    int length = sizeof(bound);
    if (uv_tcp_getsockname(&handle_.tcp, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
        name_ = config_.type + " " + format_address(reinterpret_cast<const sockaddr*>(&bound));
    }
    return true;
}

bool Listener::open_unix(std::string& error) {
    const std::string& path = config_.address;
    // A socket file left by a previous run would make bind fail: remove it, but never
    // remove anything that is not a socket.
    struct stat info {};
    if (lstat(path.c_str(), &info) == 0) {
        if (!S_ISSOCK(info.st_mode)) {
            error = "cannot listen on " + name_ + ": the path exists and is not a socket";
            return false;
        }
        if (unlink(path.c_str()) != 0) {
            error = "cannot listen on " + name_ + ": cannot remove the old socket: " +
                    std::strerror(errno);
            return false;
        }
    }
    uv_pipe_init(loop_.loop(), &handle_.pipe, 0);
    handle_.handle.data = this;
    initialized_ = true;
    int result = uv_pipe_bind(&handle_.pipe, path.c_str());
    if (result == 0) created_socket_file_ = true;
    if (result == 0) result = uv_listen(&handle_.stream, SOMAXCONN, &Listener::on_connection);
    if (result != 0) {
        error = "cannot listen on " + name_ + ": " + uv_strerror(result);
        return false;
    }
    return true;
}

void Listener::close() {
    if (initialized_ && !uv_is_closing(&handle_.handle)) uv_close(&handle_.handle, nullptr);
    if (created_socket_file_) {
        unlink(config_.address.c_str());
        created_socket_file_ = false;
    }
}

void Listener::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<Listener*>(server->data);
    if (status < 0) {
        self->log_accept_error(status);
        return;
    }
    const auto kind = self->config_.type == "unix" ? StreamConnection::Kind::Unix
                                                   : StreamConnection::Kind::Tcp;
    auto* connection = new StreamConnection(self->loop_, kind);
    const int result = uv_accept(server, connection->stream());
    if (result != 0) {
        self->log_accept_error(result);
        connection->discard();
        return;
    }
    self->check_fd_headroom(connection->stream());
    if ((self->tls_ || self->config_.proxy_protocol) &&
        !connection->add_layers(self->tls_.get(), self->config_.proxy_protocol)) {
        spdlog::error("{}: cannot make a TLS session (out of memory?), connection dropped",
                      self->name_);
        connection->discard();
        return;
    }
    connection->start();
}

// At the open file limit, libuv accepts and drops new connections itself (its EMFILE trick)
// without telling us, so warn while the last few descriptors are being used instead.
void Listener::check_fd_headroom(uv_stream_t* accepted) {
    constexpr uint64_t kHeadroom = 16;
    uv_os_fd_t fd = -1;
    if (fd_limit_ == 0 || uv_fileno(reinterpret_cast<uv_handle_t*>(accepted), &fd) != 0) return;
    if (static_cast<uint64_t>(fd) + kHeadroom < fd_limit_) return;
    const uint64_t now = uv_now(loop_.loop());
    if (last_fd_warning_ms_ != 0 && now - last_fd_warning_ms_ < 1000) return;
    last_fd_warning_ms_ = now;
    spdlog::warn("near the open file limit ({}): new connections will be refused; raise "
                 "'ulimit -n' or lower max_connections", fd_limit_);
}

void Listener::reload_certificate() {
    if (!tls_) return;
    std::string error;
    if (tls_->reload(error)) {
        spdlog::info("{}: certificate reloaded: {}", name_, tls_->certificate_summary());
    } else {
        spdlog::error("{}: certificate reload failed, the old certificate is kept: {}", name_, error);
    }
}

void Listener::log_accept_error(int status) {
    // Out of descriptors, every accept fails: one line per second says it without flooding.
    ++errors_since_log_;
    const uint64_t now = uv_now(loop_.loop());
    if (last_error_log_ms_ != 0 && now - last_error_log_ms_ < 1000) return;
    spdlog::error("accept on {} failed: {} ({} time(s) since the last report)", name_,
                  uv_strerror(status), errors_since_log_);
    last_error_log_ms_ = now;
    errors_since_log_ = 0;
}

}  // namespace herald::net
