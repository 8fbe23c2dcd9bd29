// Client: one asynchronous MQTT connection (3.1.1 or 5.0) on a libuv loop.
//
// Built for two users: the `herald` CLI (one client) and `herald bench` (thousands on one
// loop), so the steady state allocates nothing per message where it can be helped: output is
// appended to one buffer and flushed once per loop turn by the ClientLoop; packet ids come from
// a free list sized by the peak inflight count; reads share the loop's buffer.
//
// Lifetime (libuv's rule, "close, then free"): once connect() is called, destroy the Client
// only after on_close has fired (it fires exactly once, also when connecting failed). on_close
// may delete the Client. No callback is called re-entrantly from inside a public method,
// except on_trace, and on_connect / on_close when connect() fails at once (bad address).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/mqtt/codec.h"
#include "broker/mqtt/framer.h"
#include "broker/net/tls_session.h"
#include "tools/client/client_loop.h"
#include "tools/client/options.h"

namespace herald::tools {

enum class ClientState : uint8_t {
    Idle,           // constructed; connect() not called yet
    Resolving,      // uv_getaddrinfo in flight
    Connecting,     // TCP / Unix connect in flight
    AwaitConnack,   // CONNECT written; waiting for the server's answer
    Connected,      // CONNACK with success: publish / subscribe allowed
    Disconnecting,  // DISCONNECT queued; the connection closes once output is flushed
    Closing,        // uv_close called; waiting for the close callbacks
    Closed,         // every handle closed; on_close has fired; the Client may be destroyed
};

// What on_connect reports: the transport or the server's answer.
struct ConnectResult {
    bool ok = false;
    // CONNACK reason in 5.0 terms (3.1.1 return codes are mapped: 5 -> Not authorized, ...).
    mqtt::ReasonCode reason = mqtt::ReasonCode::Success;
    bool refused_by_server = false;  // a CONNACK with an error code (else a transport error)
    std::string error;               // "Connection refused", "unknown host", "Not authorized"
    const mqtt::Connack* connack = nullptr;  // valid during the callback, when one was received
};

// What on_close reports: why the connection ended.
struct CloseInfo {
    bool clean = false;              // we sent DISCONNECT and it was flushed
    bool by_server = false;          // the server sent DISCONNECT (5.0)
    mqtt::ReasonCode reason = mqtt::ReasonCode::Success;  // the DISCONNECT's reason code
    std::string error;               // empty when clean
};

enum class PublishStatus : uint8_t {
    Sent,          // encoded into this turn's output (QoS > 0: a packet id was taken)
    Queued,        // held back: the server's Receive Maximum is reached; sent as acks arrive
    NotConnected,  // refused: the client is not in the Connected state
    Invalid,       // refused: bad QoS or topic
};

class Client {
public:
    using SubackFn = std::function<void(uint16_t packet_id, const std::vector<mqtt::ReasonCode>&)>;

    // Every callback is optional.
    std::function<void(const ConnectResult&)> on_connect;
    // An inbound application message; `topic` is resolved from a topic alias when one was used.
    std::function<void(const mqtt::Publish&, std::string_view topic)> on_message;
    // An outbound QoS 1/2 publish finished (PUBACK, or PUBCOMP / PUBREC with an error code).
    std::function<void(uint16_t packet_id, mqtt::ReasonCode reason)> on_publish_done;
    // An inbound QoS 2 flow finished (PUBCOMP queued): lets a caller that stops after N
    // messages disconnect only once no flow is half done (inbound_pending() == 0).
    std::function<void()> on_inbound_released;
    std::function<void(const CloseInfo&)> on_close;
    // Packet trace (-d): one line per packet sent or received, mosquitto's wording.
    std::function<void(std::string_view line)> on_trace;

    Client(ClientLoop& loop, ConnectOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts resolving / connecting; on_connect tells the outcome.
    void connect();

    // Publishes one message. The topic and payload are copied into the output buffer (or into
    // the pending queue when the inflight window is full), so they need not outlive the call.
    PublishStatus publish(std::string_view topic, std::string_view payload, uint8_t qos,
                          bool retain, const mqtt::Properties* props = nullptr);

    // SUBSCRIBE / UNSUBSCRIBE; `done` gets the SUBACK / UNSUBACK reason codes (3.1.1
    // UNSUBACK has none: an empty vector). Returns the packet id, 0 when not connected.
    uint16_t subscribe(std::vector<mqtt::Subscription> subscriptions, SubackFn done,
                       const mqtt::Properties* props = nullptr);
    uint16_t unsubscribe(std::vector<std::string> filters, SubackFn done,
                         const mqtt::Properties* props = nullptr);

    // Sends DISCONNECT (reason and properties are 5.0 only) and closes once it is flushed.
    void disconnect(mqtt::ReasonCode reason = mqtt::ReasonCode::Success,
                    const mqtt::Properties* props = nullptr);
    // Closes at once without DISCONNECT (the server then publishes the will, if any).
    void close(std::string error = "closed");

    ClientState state() const { return state_; }
    const ConnectOptions& options() const { return options_; }
    const std::string& client_id() const { return options_.client_id; }
    mqtt::ProtocolVersion version() const { return options_.version; }
    size_t inflight() const { return inflight_; }
    size_t queued() const { return pending_.size(); }
    size_t inbound_pending() const { return inbound_qos2_count_; }
    uint16_t server_receive_maximum() const { return server_receive_max_; }

    // Called by ClientLoop once per loop turn when this client has output.
    void flush_in_loop();

private:
    // What an outbound packet id is waiting for.
    enum class OutState : uint8_t { Free, AwaitPuback, AwaitPubrec, AwaitPubcomp, AwaitSuback };
    struct PendingPublish {
        std::string topic, payload;
        uint8_t qos;
        bool retain;
        bool has_props;
        mqtt::Properties props;
    };
    struct PendingRequest {
        uint16_t packet_id;
        SubackFn done;
    };

    // client_io.cpp: transport.
    void start_tcp(const struct sockaddr* addr);
    void start_unix();
    void on_transport_connected();
    void on_read(ssize_t nread, const uv_buf_t* buf);
    bool feed_frames(std::span<const uint8_t> bytes);
    // client_tls.cpp
    bool start_tls();
    void read_tls(std::span<const uint8_t> bytes);
    std::string& seal_output();
    void on_write_done(int status);
    void arm_keepalive(uint16_t seconds);
    void on_keepalive_timer();
    void fail(std::string error);  // transport error: report and close
    void close_handles();
    void on_handle_closed();
    void mark_dirty();

    // client_protocol.cpp: packets.
    bool on_frame(std::span<const uint8_t> frame);
    void handle_connack(const mqtt::Connack& connack, std::span<const uint8_t> frame);
    void handle_publish(mqtt::Publish& publish);
    void handle_ack(const mqtt::Ack& ack);
    void handle_suback(uint16_t packet_id, const std::vector<mqtt::ReasonCode>& reasons);
    void handle_disconnect(const mqtt::Disconnect& disconnect);
    void send(const mqtt::Packet& packet);
    void send_publish(std::string_view topic, std::string_view payload, uint8_t qos, bool retain,
                      const mqtt::Properties* props);
    uint16_t take_packet_id();
    void release_packet_id(uint16_t id);
    void drain_pending();
    void trace_out(const mqtt::Packet& packet);
    void trace_in(const mqtt::Packet& packet);

    friend class ClientLoop;

    ClientLoop& loop_;
    ConnectOptions options_;
    ClientState state_ = ClientState::Idle;
    mqtt::Framer framer_;

    // Handles and requests, embedded: all live as long as the Client, which outlives them.
    union {
        uv_tcp_t tcp_;
        uv_pipe_t pipe_;
    };
    bool stream_open_ = false;
    uv_timer_t timer_;
    bool timer_open_ = false;
    uv_getaddrinfo_t resolve_req_;
    uv_connect_t connect_req_;
    uv_write_t write_req_;
    int open_handles_ = 0;   // handles and requests whose callbacks are still to come
    bool closing_reported_ = false;
    CloseInfo close_info_;

    // Output: appended to out_, swapped into wbuf_ for the one write in flight.
    std::string out_, wbuf_;
    bool writing_ = false;
    bool dirty_ = false;

    // TLS (options_.tls): out_ holds plaintext, tls_wire_ the records waiting to be written.
    std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> tls_ctx_{nullptr, nullptr};
    std::unique_ptr<net::TlsSession> tls_;
    std::string tls_wire_;

    // Keepalive, in loop milliseconds.
    uint64_t keepalive_ms_ = 0;
    uint64_t last_send_ms_ = 0;
    uint64_t ping_sent_ms_ = 0;
    bool ping_outstanding_ = false;

    // Outbound QoS 1/2: state by packet id (index id-1), a free list, and the inflight window.
    std::vector<OutState> out_state_;
    std::vector<uint16_t> free_ids_;  // SUBSCRIBE / UNSUBSCRIBE ids come from here too
    size_t inflight_ = 0;
    uint16_t server_receive_max_ = 65535;
    uint8_t server_max_qos_ = 2;
    std::deque<PendingPublish> pending_;
    std::vector<PendingRequest> requests_;

    // Inbound: QoS 2 ids awaiting PUBREL (allocated on the first QoS 2 message) and aliases.
    std::vector<bool> inbound_qos2_;
    size_t inbound_qos2_count_ = 0;
    std::vector<std::string> inbound_aliases_;
};

}  // namespace herald::tools
