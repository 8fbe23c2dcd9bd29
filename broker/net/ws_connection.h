// One MQTT-over-WebSocket connection (ws or wss) as a core::Connection.
//
// libwebsockets owns the socket; this object owns the MQTT side. Binary messages are a byte
// stream into the Framer, exactly as TCP reads are (a packet may span frames, a frame may
// hold packets). Output is a pooled buffer that starts with LWS_PRE bytes of headroom, so that
// everything core appended in a turn goes out in one lws_write, as one frame, at the next
// WRITEABLE without a copy. Created when the upgrade is done, freed after Broker::on_closed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/core/connection.h"
#include "broker/mqtt/framer.h"

struct lws;

namespace herald::core {
class Client;
}

namespace herald::net {

class LoopState;

class WsConnection final : public core::Connection {
public:
    // `peer` names the client in logs ("127.0.0.1:5000", or the X-Forwarded-For address);
    // `identity` is the verified certificate's CN (use_identity_as_username), else empty.
    WsConnection(LoopState& loop, struct lws* wsi, bool tls, std::string peer,
                 std::string identity);
    WsConnection(const WsConnection&) = delete;
    WsConnection& operator=(const WsConnection&) = delete;
    ~WsConnection() override;

    // The upgrade is done: tell the broker.
    void start();

    // libwebsockets events, from the server's callback. Each returns what the callback must
    // return: 0 to go on, -1 to have lws close the connection.
    int on_receive(const uint8_t* data, size_t size, bool binary);
    int on_writeable();
    // The socket is gone (LWS_CALLBACK_CLOSED): the broker is told; the caller deletes us.
    void on_lws_closed();

    // core::Connection
    std::string& output() override;
    size_t pending_output_bytes() const override;
    void close() override;
    const std::string& peer() const override { return peer_; }
    const char* transport() const override { return tls_ ? "wss" : "ws"; }
    std::string_view certificate_identity() const override { return identity_; }

    // Closes without sending what is buffered (forced shutdown).
    void abort();

private:
    void request_write();
    void release_output();
    void read_frames(const uint8_t* data, size_t size);

    LoopState& loop_;
    struct lws* wsi_;
    core::Client* client_ = nullptr;
    std::unique_ptr<mqtt::Framer> framer_;  // only while a packet is incomplete
    std::unique_ptr<std::string> output_;   // LWS_PRE headroom + this turn's packets
    std::string peer_;
    std::string identity_;
    size_t partial_bytes_ = 0;  // the last write that lws had to buffer (0: none)
    uint32_t max_packet_size_;
    bool tls_;
    bool write_requested_ = false;
    bool closing_ = false;  // close() or abort(): input is ignored from now on
    bool aborted_ = false;
    bool opened_ = false;   // on_open was called: on_closed is owed
    bool gone_ = false;     // the socket is closed: nothing more is written
};

}  // namespace herald::net
