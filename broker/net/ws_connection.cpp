// A WebSocket connection: binary messages -> Framer -> Broker; Broker -> output -> one
// lws_write per WRITEABLE (see ws_connection.h).
#include "broker/net/ws_connection.h"

#include <span>

#include <libwebsockets.h>
#include <spdlog/spdlog.h>

#include "broker/core/broker.h"
#include "broker/net/loop_state.h"

namespace herald::net {

WsConnection::WsConnection(LoopState& loop, struct lws* wsi, bool tls, std::string peer,
                           std::string identity)
    : loop_(loop),
      wsi_(wsi),
      peer_(std::move(peer)),
      identity_(std::move(identity)),
      max_packet_size_(loop.broker().max_packet_size()),
      tls_(tls) {}

WsConnection::~WsConnection() { release_output(); }

void WsConnection::start() {
    opened_ = true;
    client_ = loop_.broker().on_open(*this);
}

std::string& WsConnection::output() {
    if (!output_) {
        output_ = loop_.take_buffer();
        output_->resize(LWS_PRE);  // lws writes its frame header in front of the payload
    }
    if (!aborted_) request_write();
    return *output_;
}

size_t WsConnection::pending_output_bytes() const {
    return (output_ ? output_->size() - LWS_PRE : 0) + partial_bytes_;
}

void WsConnection::request_write() {
    if (write_requested_ || gone_) return;
    write_requested_ = true;
    lws_callback_on_writable(wsi_);
}

void WsConnection::release_output() {
    if (output_) loop_.recycle_buffer(std::move(output_));
}

void WsConnection::close() {
    if (closing_) return;
    closing_ = true;
    request_write();  // the WRITEABLE sends what is buffered (a DISCONNECT, say), then closes
}

void WsConnection::abort() {
    if (aborted_ || gone_) return;
    closing_ = aborted_ = true;
    release_output();
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int WsConnection::on_writeable() {
    write_requested_ = false;
    partial_bytes_ = 0;  // lws calls us only once what it buffered is sent
    if (gone_ || aborted_) return -1;
    if (output_ && output_->size() > LWS_PRE) {
        const size_t length = output_->size() - LWS_PRE;
        auto* payload = reinterpret_cast<unsigned char*>(output_->data()) + LWS_PRE;
        if (lws_write(wsi_, payload, length, LWS_WRITE_BINARY) < 0) {
            spdlog::debug("{}: WebSocket write failed", peer_);
            closing_ = aborted_ = true;
            release_output();
            return -1;
        }
        if (lws_partial_buffered(wsi_)) partial_bytes_ = length;
    }
    release_output();
    if (closing_) {
        // lws sends what it had to buffer before it closes.
        lws_close_reason(wsi_, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
        return -1;
    }
    return 0;
}

int WsConnection::on_receive(const uint8_t* data, size_t size, bool binary) {
    if (closing_) return 0;
    if (!binary) {
        spdlog::info("{}: {} text frame refused (MQTT over WebSocket is binary frames only), "
                     "closing", peer_, transport());
        closing_ = aborted_ = true;
        release_output();
        return -1;
    }
    if (size > 0) read_frames(data, size);
    return 0;
}

void WsConnection::read_frames(const uint8_t* data, size_t size) {
    core::Broker& broker = loop_.broker();
    // As StreamConnection: the loop's Framer while no packet is incomplete, our own while one is.
    const bool shared = !framer_;
    mqtt::Framer& framer = shared ? loop_.framer() : *framer_;
    if (shared) framer.set_max_packet_size(max_packet_size_);
    const mqtt::FrameError error =
        framer.feed(std::span<const uint8_t>(data, size), [this, &broker](auto frame) {
            broker.on_frame(client_, frame);
            return !closing_;
        });
    if (error != mqtt::FrameError::None || closing_) {
        if (shared) loop_.reset_framer();
    } else if (shared && framer.buffered() > 0) {
        framer_ = std::make_unique<mqtt::Framer>(std::move(framer));
        loop_.reset_framer();
    } else if (!shared && framer.buffered() == 0) {
        framer_.reset();
    }
    if (error != mqtt::FrameError::None && !closing_) {
        broker.on_frame_error(client_, error);
        close();
    }
}

void WsConnection::on_lws_closed() {
    if (gone_) return;
    gone_ = true;
    closing_ = true;
    if (opened_) loop_.broker().on_closed(client_);
    release_output();
}

}  // namespace herald::net
