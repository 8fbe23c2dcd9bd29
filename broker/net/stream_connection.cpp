// A TCP or Unix stream connection: read -> Framer -> Broker; Broker -> output -> one write per
// turn; close in two steps (uv_close, then free in the close callback).
#include "broker/net/stream_connection.h"

#include <span>

#include <spdlog/spdlog.h>

#include "broker/core/broker.h"
#include "broker/net/loop_state.h"

namespace herald::net {

namespace {

std::string peer_name(uv_tcp_t* tcp) {
    sockaddr_storage address{};
    int length = sizeof(address);
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        return "tcp";
    }
    char host[64] = {0};
    if (address.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
        uv_ip6_name(in6, host, sizeof(host));
        return std::string("[") + host + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
    uv_ip4_name(in4, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in4->sin_port));
}

}  // namespace

StreamConnection::StreamConnection(LoopState& loop, Kind kind)
    : loop_(loop), framer_(loop.broker().max_packet_size()), kind_(kind) {
    if (kind_ == Kind::Tcp) {
        uv_tcp_init(loop_.loop(), &handle_.tcp);
    } else {
        uv_pipe_init(loop_.loop(), &handle_.pipe, 0);
    }
    handle_.handle.data = this;
    loop_.connection_opened(this);
}

void StreamConnection::start() {
    if (kind_ == Kind::Tcp) {
        peer_ = peer_name(&handle_.tcp);
        // Nagle would hold small packets back for up to 40 ms (mosquitto's p99 problem).
        uv_tcp_nodelay(&handle_.tcp, 1);
    } else {
        peer_ = "unix";
    }
    opened_ = true;
    client_ = loop_.broker().on_open(*this);
    if (closing_) return;  // the broker refused it at once (e.g. connection limit)
    const int result = uv_read_start(stream(), &StreamConnection::on_alloc,
                                     &StreamConnection::on_read);
    if (result != 0) {
        spdlog::debug("{}: cannot read: {}", peer_, uv_strerror(result));
        abort();
    }
}

void StreamConnection::discard() {
    closing_ = aborted_ = true;
    uv_close(&handle_.handle, &StreamConnection::on_close);
}

std::string& StreamConnection::output() {
    if (!in_dirty_ && !uv_is_closing(&handle_.handle)) mark_dirty();
    // An empty output has no storage of its own while idle: borrow a pooled buffer.
    if (output_.empty() && output_.capacity() < 64) output_ = loop_.take_buffer();
    return output_;
}

void StreamConnection::mark_dirty() {
    in_dirty_ = true;
    loop_.mark_dirty(this);
}

void StreamConnection::close() {
    if (closing_) return;
    closing_ = true;
    if (uv_is_closing(&handle_.handle)) return;
    uv_read_stop(stream());
    // The flusher writes what is buffered (a DISCONNECT, say) and then closes.
    if (!in_dirty_) mark_dirty();
}

void StreamConnection::abort() {
    if (aborted_ || uv_is_closing(&handle_.handle)) return;
    closing_ = aborted_ = true;
    uv_read_stop(stream());
    release_output();
    if (!in_dirty_) mark_dirty();
}

void StreamConnection::release_output() {
    if (output_.capacity() >= 64) loop_.recycle_buffer(std::move(output_));
    output_.clear();
}

void StreamConnection::flush_in_loop() {
    in_dirty_ = false;
    if (uv_is_closing(&handle_.handle)) return;
    if (aborted_) {
        release_output();
        start_close();
        return;
    }
    if (!output_.empty() && !write_output()) {
        closing_ = aborted_ = true;
        uv_read_stop(stream());
        release_output();
        start_close();
        return;
    }
    if (output_.empty()) release_output();
    if (closing_) {
        if (in_flight_ == 0) start_close();
        else loop_.linger(this);
    }
}

// Writes output_ now if the socket takes it all (the usual case: no request, no copy);
// otherwise hands the buffer itself to a pooled write request. False when the socket failed.
bool StreamConnection::write_output() {
    uv_buf_t buf = uv_buf_init(output_.data(), static_cast<unsigned>(output_.size()));
    int written = uv_try_write(stream(), &buf, 1);
    if (written == UV_EAGAIN || written == UV_ENOSYS) written = 0;
    if (written < 0) {
        spdlog::debug("{}: write failed: {}", peer_, uv_strerror(written));
        return false;
    }
    if (static_cast<size_t>(written) == output_.size()) {
        release_output();
        return true;
    }
    WriteRequest* request = loop_.take_request();
    request->connection = this;
    request->buffer.swap(output_);  // output_ gets the request's empty buffer
    request->length = static_cast<uint32_t>(request->buffer.size() - static_cast<size_t>(written));
    request->req.data = request;
    uv_buf_t rest = uv_buf_init(request->buffer.data() + written, request->length);
    const int result = uv_write(&request->req, stream(), &rest, 1, &StreamConnection::on_write);
    if (result != 0) {
        spdlog::debug("{}: write failed: {}", peer_, uv_strerror(result));
        loop_.recycle_request(request);
        return false;
    }
    in_flight_ += request->length;
    return true;
}

void StreamConnection::on_write(uv_write_t* req, int status) {
    auto* request = static_cast<WriteRequest*>(req->data);
    StreamConnection* self = request->connection;
    self->in_flight_ -= request->length;
    self->loop_.recycle_request(request);
    if (uv_is_closing(&self->handle_.handle)) return;  // cancelled by our own uv_close
    if (status < 0) {
        spdlog::debug("{}: write failed: {}", self->peer_, uv_strerror(status));
        self->abort();
        return;
    }
    if (self->closing_ && self->in_flight_ == 0 && !self->in_dirty_) self->start_close();
}

void StreamConnection::start_close() {
    loop_.unlinger(this);
    uv_close(&handle_.handle, &StreamConnection::on_close);
}

void StreamConnection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    *buf = static_cast<StreamConnection*>(handle->data)->loop_.read_buffer();
}

void StreamConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<StreamConnection*>(stream->data);
    if (nread < 0) {
        if (nread != UV_EOF) {
            spdlog::debug("{}: read failed: {}", self->peer_, uv_strerror(static_cast<int>(nread)));
        }
        // Peer gone: nothing more can be delivered. Close now; on_closed follows from the
        // close callback, never from here.
        self->abort();
        return;
    }
    if (nread == 0 || self->closing_) return;
    self->read_frames(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
}

void StreamConnection::read_frames(const uint8_t* data, size_t size) {
    core::Broker& broker = loop_.broker();
    const mqtt::FrameError error =
        framer_.feed(std::span<const uint8_t>(data, size), [this, &broker](auto frame) {
            broker.on_frame(client_, frame);
            return !closing_;  // the broker closed us: the rest of the input is not read
        });
    if (error != mqtt::FrameError::None && !closing_) {
        broker.on_frame_error(client_, error);
        close();  // the broker closes too; this makes sure the Framer is never fed again
    }
}

void StreamConnection::on_close(uv_handle_t* handle) {
    auto* self = static_cast<StreamConnection*>(handle->data);
    LoopState& loop = self->loop_;
    if (self->opened_) loop.broker().on_closed(self->client_);
    self->release_output();  // back to the pool: output may have been borrowed after abort()
    loop.connection_freed(self);
    delete self;
    loop.after_connection_freed();
}

}  // namespace herald::net
