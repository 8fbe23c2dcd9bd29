// The shared read buffer, the once-per-turn flusher and the buffer pools (see loop_state.h).
#include "broker/net/loop_state.h"

#include <spdlog/spdlog.h>

#include "broker/core/broker.h"
#include "broker/net/stream_connection.h"

namespace herald::net {

LoopState::LoopState(uv_loop_t* loop, core::Broker& broker)
    : loop_(loop),
      broker_(broker),
      read_buffer_(new char[kReadBufferSize]),
      framer_(broker.max_packet_size()) {
    loop_->data = this;  // connections find us through their handle's loop
    uv_prepare_init(loop_, &prepare_);
    prepare_.data = this;
    uv_prepare_start(&prepare_, &LoopState::on_prepare);
}

LoopState::~LoopState() {
    // The prepare handle must have been closed (close()) and the loop run since.
}

void LoopState::on_prepare(uv_prepare_t* prepare) {
    auto* self = static_cast<LoopState*>(prepare->data);
    // Swap first: flushing never adds to the list, but a flush must not see a vector that
    // grows under it if that ever changes.
    self->flushing_.swap(self->dirty_);
    for (StreamConnection* connection : self->flushing_) connection->flush_in_loop();
    self->flushing_.clear();
}

uint32_t LoopState::broker_max_packet_size() const { return broker_.max_packet_size(); }

std::unique_ptr<std::string> LoopState::take_buffer() {
    if (spare_buffers_.empty()) return std::make_unique<std::string>();
    std::unique_ptr<std::string> buffer = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
    return buffer;
}

void LoopState::recycle_buffer(std::unique_ptr<std::string> buffer) {
    // Keep the pool bounded in count and in size: a burst of huge packets must not leave the
    // broker holding their memory forever.
    if (buffer->capacity() > kMaxPooledCapacity || spare_buffers_.size() >= kMaxPooledBuffers)
        return;  // freed
    buffer->clear();
    spare_buffers_.push_back(std::move(buffer));
}

WriteRequest* LoopState::take_request() {
    if (spare_requests_.empty()) return new WriteRequest();
    WriteRequest* request = spare_requests_.back().release();
    spare_requests_.pop_back();
    return request;
}

void LoopState::recycle_request(WriteRequest* request) {
    // The request keeps its buffer's storage (it goes to a connection's output at the next
    // partial write), unless it grew beyond what the pools keep.
    if (request->buffer.capacity() > kMaxPooledCapacity) std::string().swap(request->buffer);
    request->buffer.clear();
    request->connection = nullptr;
    request->length = 0;
    if (spare_requests_.size() >= kMaxPooledRequests) {
        delete request;
        return;
    }
    spare_requests_.emplace_back(request);
}

void LoopState::linger(StreamConnection* connection) {
    lingering_.try_emplace(connection, uv_now(loop_) + kLingerMs);
}

void LoopState::unlinger(StreamConnection* connection) {
    if (!lingering_.empty()) lingering_.erase(connection);
}

void LoopState::abort_stale_lingerers() {
    if (lingering_.empty()) return;
    const uint64_t now = uv_now(loop_);
    std::vector<StreamConnection*> stale;
    for (const auto& [connection, deadline] : lingering_) {
        if (deadline <= now) stale.push_back(connection);
    }
    for (StreamConnection* connection : stale) {
        spdlog::debug("{}: peer did not take its last bytes in time, closing", connection->peer());
        lingering_.erase(connection);
        connection->abort();
    }
}

void LoopState::connection_opened(StreamConnection* connection) {
    connection->next_ = connections_;
    if (connections_ != nullptr) connections_->prev_ = connection;
    connections_ = connection;
    ++live_;
}

void LoopState::connection_freed(StreamConnection* connection) {
    if (connection->prev_ != nullptr) connection->prev_->next_ = connection->next_;
    else connections_ = connection->next_;
    if (connection->next_ != nullptr) connection->next_->prev_ = connection->prev_;
    --live_;
}

void LoopState::after_connection_freed() {
    if (live_ == 0 && on_idle_) on_idle_();
}

size_t LoopState::abort_all() {
    size_t count = 0;
    for (StreamConnection* c = connections_; c != nullptr; c = c->next_) {
        c->abort();  // never frees synchronously: the list stays intact while we walk it
        ++count;
    }
    return count;
}

void LoopState::close() {
    if (closed_) return;
    closed_ = true;
    uv_prepare_stop(&prepare_);
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
}

}  // namespace herald::net
