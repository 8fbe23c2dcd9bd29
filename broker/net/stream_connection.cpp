// A TCP or Unix stream connection: read -> Framer -> Broker; Broker -> output -> one write per
// turn; close in two steps (uv_close, then free in the close callback).
#include "broker/net/stream_connection.h"

#include <cstring>
#include <span>

#include <spdlog/spdlog.h>

#include "broker/core/broker.h"
#include "broker/net/loop_state.h"
#include "broker/net/stream_layers.h"

namespace herald::net {

StreamConnection::StreamConnection(LoopState& loop, Kind kind)
    : max_packet_size_(loop.broker().max_packet_size()), kind_(kind) {
    if (kind_ == Kind::Tcp) {
        uv_tcp_init(loop.loop(), &handle_.tcp);
    } else {
        handle_.pipe = new uv_pipe_t;
        uv_pipe_init(loop.loop(), handle_.pipe, 0);
    }
    handle()->data = this;
    loop.connection_opened(this);
}

StreamConnection::~StreamConnection() = default;

const char* StreamConnection::transport() const {
    if (kind_ == Kind::Unix) return "unix";
    return layers_ && layers_->tls ? "tls" : "tcp";
}

std::string_view StreamConnection::certificate_identity() const {
    return layers_ ? std::string_view(layers_->identity) : std::string_view();
}

const std::string& StreamConnection::peer() const {
    thread_local std::string name;
    if (kind_ == Kind::Unix) {
        name = "unix";
        return name;
    }
    char host[64] = {0};
    if (peer_family_ == AF_INET6) {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        std::memcpy(&in6.sin6_addr, peer_address_, 16);
        uv_ip6_name(&in6, host, sizeof(host));
        name = std::string("[") + host + "]:" + std::to_string(peer_port_);
    } else if (peer_family_ == AF_INET) {
        sockaddr_in in4{};
        in4.sin_family = AF_INET;
        std::memcpy(&in4.sin_addr, peer_address_, 4);
        uv_ip4_name(&in4, host, sizeof(host));
        name = std::string(host) + ":" + std::to_string(peer_port_);
    } else {
        name = "tcp";
    }
    return name;
}

void StreamConnection::start() {
    if (kind_ == Kind::Tcp) {
        sockaddr_storage address{};
        int length = sizeof(address);
        if (uv_tcp_getpeername(&handle_.tcp, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
            if (address.ss_family == AF_INET6) {
                const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
                std::memcpy(peer_address_, &in6->sin6_addr, 16);
                peer_port_ = ntohs(in6->sin6_port);
                peer_family_ = AF_INET6;
            } else if (address.ss_family == AF_INET) {
                const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
                std::memcpy(peer_address_, &in4->sin_addr, 4);
                peer_port_ = ntohs(in4->sin_port);
                peer_family_ = AF_INET;
            }
        }
        // Nagle would hold small packets back for up to 40 ms (mosquitto's p99 problem).
        uv_tcp_nodelay(&handle_.tcp, 1);
    }
    opened_ = true;
    client_ = loop().broker().on_open(*this);
    if (closing_) return;  // the broker refused it at once (e.g. connection limit)
    const int result = uv_read_start(stream(), &StreamConnection::on_alloc,
                                     &StreamConnection::on_read);
    if (result != 0) {
        spdlog::debug("{}: cannot read: {}", peer(), uv_strerror(result));
        abort();
    }
}

void StreamConnection::discard() {
    closing_ = aborted_ = true;
    uv_close(handle(), &StreamConnection::on_close);
}

std::string& StreamConnection::output() {
    if (!in_dirty_ && !uv_is_closing(handle())) mark_dirty();
    // No storage of its own while idle: borrow a pooled buffer.
    if (!output_) output_ = loop().take_buffer();
    return *output_;
}

void StreamConnection::mark_dirty() {
    in_dirty_ = true;
    loop().mark_dirty(this);
}

void StreamConnection::close() {
    if (closing_) return;
    closing_ = true;
    if (layers_) log_unfinished_layers();
    if (uv_is_closing(handle())) return;
    uv_read_stop(stream());
    // The flusher writes what is buffered (a DISCONNECT, say) and then closes.
    if (!in_dirty_) mark_dirty();
}

void StreamConnection::abort() {
    if (aborted_ || uv_is_closing(handle())) return;
    closing_ = aborted_ = true;
    uv_read_stop(stream());
    release_output();
    if (!in_dirty_) mark_dirty();
}

void StreamConnection::release_output() {
    if (output_) loop().recycle_buffer(std::move(output_));
}

void StreamConnection::flush_in_loop() {
    in_dirty_ = false;
    if (uv_is_closing(handle())) return;
    if (aborted_) {
        release_output();
        start_close();
        return;
    }
    if (layers_ && layers_->tls) seal_output();
    if (output_ && !output_->empty() && !write_output()) {
        closing_ = aborted_ = true;
        uv_read_stop(stream());
        release_output();
        start_close();
        return;
    }
    if (output_ && output_->empty()) release_output();
    if (closing_) {
        if (in_flight_ == 0) start_close();
        else loop().linger(this);
    }
}

// Writes output_ now if the socket takes it all (the usual case: no request, no copy);
// otherwise hands the buffer itself to a pooled write request. False when the socket failed.
bool StreamConnection::write_output() {
    std::string& output = *output_;
    uv_buf_t buf = uv_buf_init(output.data(), static_cast<unsigned>(output.size()));
    int written = uv_try_write(stream(), &buf, 1);
    if (written == UV_EAGAIN || written == UV_ENOSYS) written = 0;
    if (written < 0) {
        spdlog::debug("{}: write failed: {}", peer(), uv_strerror(written));
        return false;
    }
    if (static_cast<size_t>(written) == output.size()) {
        release_output();
        return true;
    }
    WriteRequest* request = loop().take_request();
    request->connection = this;
    request->buffer.swap(output);  // output_ gets the request's empty buffer
    request->length = static_cast<uint32_t>(request->buffer.size() - static_cast<size_t>(written));
    request->req.data = request;
    uv_buf_t rest = uv_buf_init(request->buffer.data() + written, request->length);
    const int result = uv_write(&request->req, stream(), &rest, 1, &StreamConnection::on_write);
    if (result != 0) {
        spdlog::debug("{}: write failed: {}", peer(), uv_strerror(result));
        loop().recycle_request(request);
        return false;
    }
    in_flight_ += request->length;
    return true;
}

void StreamConnection::on_write(uv_write_t* req, int status) {
    auto* request = static_cast<WriteRequest*>(req->data);
    StreamConnection* self = request->connection;
    self->in_flight_ -= request->length;
    self->loop().recycle_request(request);
    if (uv_is_closing(self->handle())) return;  // cancelled by our own uv_close
    if (status < 0) {
        spdlog::debug("{}: write failed: {}", self->peer(), uv_strerror(status));
        self->abort();
        return;
    }
    if (self->closing_ && self->in_flight_ == 0 && !self->in_dirty_) self->start_close();
}

void StreamConnection::start_close() {
    loop().unlinger(this);
    uv_close(handle(), &StreamConnection::on_close);
}

void StreamConnection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    *buf = static_cast<StreamConnection*>(handle->data)->loop().read_buffer();
}

void StreamConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<StreamConnection*>(stream->data);
    if (nread < 0) {
        if (nread != UV_EOF) {
            spdlog::debug("{}: read failed: {}", self->peer(),
                          uv_strerror(static_cast<int>(nread)));
        }
        // Peer gone: nothing more can be delivered. Close now; on_closed follows from the
        // close callback, never from here.
        self->abort();
        return;
    }
    if (nread == 0 || self->closing_) return;
    if (self->layers_) {
        self->read_layered(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
        return;
    }
    self->read_frames(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
}

void StreamConnection::read_frames(const uint8_t* data, size_t size) {
    LoopState& loop = this->loop();
    core::Broker& broker = loop.broker();
    // Whole packets need no state between reads, so the loop's Framer serves; a connection
    // left with an incomplete packet takes that Framer's state as its own until it completes.
    const bool shared = !framer_;
    mqtt::Framer& framer = shared ? loop.framer() : *framer_;
    if (shared) framer.set_max_packet_size(max_packet_size_);
    const mqtt::FrameError error =
        framer.feed(std::span<const uint8_t>(data, size), [this, &broker](auto frame) {
            broker.on_frame(client_, frame);
            return !closing_;  // the broker closed us: the rest of the input is not read
        });
    if (error != mqtt::FrameError::None || closing_) {
        if (shared) loop.reset_framer();  // never fed again, but the next connection's is clean
    } else if (shared && framer.buffered() > 0) {
        framer_ = std::make_unique<mqtt::Framer>(std::move(framer));
        loop.reset_framer();
    } else if (!shared && framer.buffered() == 0) {
        framer_.reset();
    }
    if (error != mqtt::FrameError::None && !closing_) {
        broker.on_frame_error(client_, error);
        close();  // the broker closes too; this makes sure the Framer is never fed again
    }
}

void StreamConnection::on_close(uv_handle_t* handle) {
    auto* self = static_cast<StreamConnection*>(handle->data);
    LoopState& loop = self->loop();
    if (self->opened_) loop.broker().on_closed(self->client_);
    self->release_output();  // back to the pool: output may have been borrowed after abort()
    loop.connection_freed(self);
    if (self->kind_ == Kind::Unix) delete self->handle_.pipe;
    delete self;
    loop.after_connection_freed();
}

}  // namespace herald::net
