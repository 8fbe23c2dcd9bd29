// ClientLoop: the one prepare handle that flushes all clients' output once per loop turn.
#include "tools/client/client_loop.h"

#include <algorithm>

#include "tools/client/client.h"

namespace herald::tools {

ClientLoop::ClientLoop(uv_loop_t* loop) : loop_(loop), prepare_(new uv_prepare_t), read_buffer_(64 * 1024) {
    uv_prepare_init(loop_, prepare_);
    prepare_->data = this;
    uv_prepare_start(prepare_, &ClientLoop::on_prepare);
    // The prepare handle alone must not keep the loop alive: sockets and timers do that.
    uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
    dirty_.reserve(64);
    flushing_.reserve(64);
}

ClientLoop::~ClientLoop() { close(); }

void ClientLoop::close() {
    if (prepare_ == nullptr) return;
    uv_close(reinterpret_cast<uv_handle_t*>(prepare_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
    prepare_ = nullptr;
}

void ClientLoop::forget(Client* client) {
    // Null the entries rather than erase them: forget() may run inside on_prepare's loop.
    std::replace(dirty_.begin(), dirty_.end(), client, static_cast<Client*>(nullptr));
    std::replace(flushing_.begin(), flushing_.end(), client, static_cast<Client*>(nullptr));
}

void ClientLoop::on_prepare(uv_prepare_t* handle) {
    auto* self = static_cast<ClientLoop*>(handle->data);
    self->flushing_.swap(self->dirty_);
    for (Client* client : self->flushing_)
        if (client != nullptr) client->flush_in_loop();
    self->flushing_.clear();
}

}  // namespace herald::tools
