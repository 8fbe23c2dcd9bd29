// Client transport: resolve, connect (TCP or Unix socket), read into the Framer, one write per
// loop turn, the keepalive timer, and the two-step close (uv_close, then report).
#include <cstring>

#include "tools/client/client.h"

namespace herald::tools {

namespace {

Client* from(uv_handle_t* handle) { return static_cast<Client*>(handle->data); }

std::string uv_words(int status) {
    switch (status) {
        case UV_ECONNREFUSED: return "Connection refused";
        case UV_ENOENT: return "No such file or directory";
        case UV_ETIMEDOUT: return "Connection timed out";
        case UV_ECONNRESET: return "Connection reset by peer";
        case UV_EPIPE: return "Broken pipe";
        case UV_EADDRNOTAVAIL: return "Cannot assign requested address";
        default: return uv_strerror(status);
    }
}

}  // namespace

Client::Client(ClientLoop& loop, ConnectOptions options)
    : loop_(loop), options_(std::move(options)), framer_(options_.max_inbound_packet) {
    std::memset(&tcp_, 0, sizeof(tcp_) > sizeof(pipe_) ? sizeof(tcp_) : sizeof(pipe_));
}

Client::~Client() { loop_.forget(this); }

void Client::connect() {
    if (state_ != ClientState::Idle) return;
    if (!options_.unix_path.empty()) {
        start_unix();
        return;
    }
    // An address literal needs no resolver: skipping the thread-pool round trip matters when
    // thousands of clients connect at once (herald bench conns / churn).
    struct sockaddr_storage literal;
    if (uv_ip4_addr(options_.host.c_str(), options_.port, reinterpret_cast<sockaddr_in*>(&literal)) == 0 ||
        uv_ip6_addr(options_.host.c_str(), options_.port, reinterpret_cast<sockaddr_in6*>(&literal)) == 0) {
        start_tcp(reinterpret_cast<const sockaddr*>(&literal));
        return;
    }
    state_ = ClientState::Resolving;
    resolve_req_.data = this;
    struct addrinfo hints;
    std::memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    std::string port = std::to_string(options_.port);
    ++open_handles_;
    int rc = uv_getaddrinfo(
        loop_.uv(), &resolve_req_,
        [](uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
            auto* self = static_cast<Client*>(req->data);
            --self->open_handles_;
            if (self->state_ != ClientState::Resolving) {  // closed meanwhile
                uv_freeaddrinfo(res);
                self->on_handle_closed();
                return;
            }
            if (status != 0 || res == nullptr) {
                uv_freeaddrinfo(res);
                self->fail(status == UV_EAI_NONAME || status == UV_EAI_AGAIN || status == UV_EAI_NODATA
                               ? "unknown host '" + self->options_.host + "'"
                               : std::string("unknown host '") + self->options_.host + "': " + uv_strerror(status));
                return;
            }
            // The first address only, as mosquitto does for a plain connect.
            self->start_tcp(res->ai_addr);
            uv_freeaddrinfo(res);
        },
        options_.host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
        --open_handles_;
        fail("unknown host '" + options_.host + "': " + uv_strerror(rc));
    }
}

void Client::start_tcp(const struct sockaddr* addr) {
    state_ = ClientState::Connecting;
    uv_tcp_init(loop_.uv(), &tcp_);
    tcp_.data = this;
    stream_open_ = true;
    ++open_handles_;
    uv_tcp_nodelay(&tcp_, 1);
    if (!options_.bind_address.empty()) {
        struct sockaddr_storage local;
        int rc = addr->sa_family == AF_INET6
                     ? uv_ip6_addr(options_.bind_address.c_str(), 0, reinterpret_cast<sockaddr_in6*>(&local))
                     : uv_ip4_addr(options_.bind_address.c_str(), 0, reinterpret_cast<sockaddr_in*>(&local));
        if (rc == 0) rc = uv_tcp_bind(&tcp_, reinterpret_cast<sockaddr*>(&local), 0);
        if (rc != 0) {
            fail("cannot bind to '" + options_.bind_address + "': " + uv_words(rc));
            return;
        }
    }
    connect_req_.data = this;
    ++open_handles_;
    int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, [](uv_connect_t* req, int status) {
        auto* self = static_cast<Client*>(req->data);
        --self->open_handles_;
        if (self->state_ != ClientState::Connecting) {
            self->on_handle_closed();
            return;
        }
        if (status != 0) {
            self->fail(uv_words(status));
            return;
        }
        self->on_transport_connected();
    });
    if (rc != 0) {
        --open_handles_;
        fail(uv_words(rc));
    }
}

void Client::start_unix() {
    state_ = ClientState::Connecting;
    uv_pipe_init(loop_.uv(), &pipe_, 0);
    pipe_.data = this;
    stream_open_ = true;
    ++open_handles_;
    connect_req_.data = this;
    ++open_handles_;
    // uv_pipe_connect reports every error through the callback.
    uv_pipe_connect(&connect_req_, &pipe_, options_.unix_path.c_str(), [](uv_connect_t* req, int status) {
        auto* self = static_cast<Client*>(req->data);
        --self->open_handles_;
        if (self->state_ != ClientState::Connecting) {
            self->on_handle_closed();
            return;
        }
        if (status != 0) {
            self->fail("cannot connect to '" + self->options_.unix_path + "': " + uv_words(status));
            return;
        }
        self->on_transport_connected();
    });
}

void Client::on_transport_connected() {
    state_ = ClientState::AwaitConnack;
    if (options_.tls && !start_tls()) return;
    auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
    int rc = uv_read_start(
        stream,
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
            ClientLoop& loop = from(handle)->loop_;
            *buf = uv_buf_init(loop.read_buffer(), static_cast<unsigned>(loop.read_buffer_size()));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
            from(reinterpret_cast<uv_handle_t*>(s))->on_read(nread, buf);
        });
    if (rc != 0) {
        fail(uv_words(rc));
        return;
    }
    mqtt::Connect connect;
    connect.version = options_.version;
    connect.clean_start = options_.clean_start;
    connect.keep_alive = options_.keep_alive;
    connect.client_id = options_.client_id;
    connect.username = options_.username;
    connect.password = options_.password;
    connect.will = options_.will;
    if (options_.version == mqtt::ProtocolVersion::V5) connect.props = options_.props;
    send(connect);
    arm_keepalive(options_.keep_alive);
}

void Client::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (nread == 0) return;
    if (nread < 0) {
        if (state_ == ClientState::Closing || state_ == ClientState::Closed) return;
        if (close_info_.by_server) {
            close_handles();
        } else if (state_ == ClientState::Disconnecting) {
            // The server closed after our DISCONNECT, before our write callback ran.
            close_info_.clean = close_info_.error.empty();
            close_handles();
        } else {
            fail(nread == UV_EOF ? (state_ == ClientState::AwaitConnack ? "Connection closed by server before CONNACK"
                                                                           : "Connection closed by server")
                                 : uv_words(static_cast<int>(nread)));
        }
        return;
    }
    auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
    if (tls_) read_tls(bytes);
    else feed_frames(bytes);
}

// False when the input was bad (the client is failing).
bool Client::feed_frames(std::span<const uint8_t> bytes) {
    mqtt::FrameError err = framer_.feed(bytes, [this](std::span<const uint8_t> frame) { return on_frame(frame); });
    if (err == mqtt::FrameError::MalformedLength) fail("malformed packet from server (bad remaining length)");
    if (err == mqtt::FrameError::TooLarge) fail("packet from server too large");
    return err == mqtt::FrameError::None;
}

void Client::mark_dirty() {
    if (dirty_) return;
    dirty_ = true;
    loop_.schedule_flush(this);
}

void Client::flush_in_loop() {
    dirty_ = false;
    if (writing_ || !stream_open_ || state_ == ClientState::Closing || state_ == ClientState::Closed)
        return;
    std::string& pending = tls_ ? seal_output() : out_;
    if (pending.empty() || state_ == ClientState::Closing || state_ == ClientState::Closed) return;
    wbuf_.swap(pending);
    writing_ = true;
    write_req_.data = this;
    last_send_ms_ = uv_now(loop_.uv());
    uv_buf_t b = uv_buf_init(wbuf_.data(), static_cast<unsigned>(wbuf_.size()));
    ++open_handles_;
    int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
                      [](uv_write_t* req, int status) { static_cast<Client*>(req->data)->on_write_done(status); });
    if (rc != 0) {
        --open_handles_;
        writing_ = false;
        fail(uv_words(rc));
    }
}

void Client::on_write_done(int status) {
    --open_handles_;
    writing_ = false;
    wbuf_.clear();
    if (state_ == ClientState::Closing || state_ == ClientState::Closed) {
        on_handle_closed();
        return;
    }
    if (status != 0) {
        fail(uv_words(status));
        return;
    }
    if (!out_.empty() || !tls_wire_.empty() || (tls_ && tls_->wire_pending() > 0)) {
        flush_in_loop();
    } else if (state_ == ClientState::Disconnecting) {
        close_info_.clean = true;
        close_handles();
    }
}

void Client::arm_keepalive(uint16_t seconds) {
    keepalive_ms_ = uint64_t(seconds) * 1000;
    if (!timer_open_) {
        uv_timer_init(loop_.uv(), &timer_);
        timer_.data = this;
        timer_open_ = true;
        ++open_handles_;
    }
    uv_timer_stop(&timer_);
    if (keepalive_ms_ == 0) return;
    // Ticking at half the interval keeps every gap between two packets under keep_alive.
    uint64_t tick = keepalive_ms_ / 2 > 0 ? keepalive_ms_ / 2 : 1;
    uv_timer_start(&timer_, [](uv_timer_t* t) { from(reinterpret_cast<uv_handle_t*>(t))->on_keepalive_timer(); },
                   tick, tick);
}

void Client::on_keepalive_timer() {
    if (state_ != ClientState::Connected && state_ != ClientState::AwaitConnack) return;
    uint64_t now = uv_now(loop_.uv());
    if (state_ == ClientState::AwaitConnack && now - last_send_ms_ >= keepalive_ms_) {
        fail("no CONNACK from server within the keepalive interval");
        return;
    }
    if (ping_outstanding_ && now - ping_sent_ms_ >= keepalive_ms_) {
        fail("keepalive timeout: no PINGRESP from server");
        return;
    }
    if (state_ == ClientState::Connected && !ping_outstanding_ && now - last_send_ms_ >= keepalive_ms_ / 2) {
        ping_outstanding_ = true;
        ping_sent_ms_ = now;
        send(mqtt::Pingreq{});
    }
}

void Client::close(std::string error) {
    if (state_ == ClientState::Closing || state_ == ClientState::Closed) return;
    if (close_info_.error.empty()) close_info_.error = std::move(error);
    close_handles();
}

void Client::fail(std::string error) {
    if (state_ == ClientState::Closing || state_ == ClientState::Closed) return;
    bool connecting = state_ == ClientState::Resolving || state_ == ClientState::Connecting ||
                      state_ == ClientState::AwaitConnack;
    if (close_info_.error.empty()) close_info_.error = error;
    if (connecting && on_connect) {
        ConnectResult result;
        result.error = std::move(error);
        on_connect(result);  // the state is still a connecting one: publish() refuses
    }
    close_handles();
}

void Client::close_handles() {
    if (state_ == ClientState::Closing || state_ == ClientState::Closed) return;
    ClientState was = state_;
    state_ = ClientState::Closing;
    loop_.forget(this);
    if (was == ClientState::Resolving) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
    auto closed = [](uv_handle_t* h) {
        Client* self = from(h);
        --self->open_handles_;
        self->on_handle_closed();
    };
    if (stream_open_) {
        stream_open_ = false;
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), closed);
    }
    if (timer_open_) {
        timer_open_ = false;
        uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed);
    }
    on_handle_closed();
}

void Client::on_handle_closed() {
    if (state_ != ClientState::Closing || open_handles_ > 0 || closing_reported_) return;
    closing_reported_ = true;
    state_ = ClientState::Closed;
    if (on_close) on_close(close_info_);  // may delete this: touch nothing after
}

}  // namespace herald::tools
