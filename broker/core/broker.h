// The Broker: all broker state, owned by the one loop thread. The transports' only door in.
//
// Net calls on_open() for each accepted connection, on_frame() for each complete packet the
// Framer splits off, on_frame_error() when the Framer refuses the stream, on_closed() once
// when the connection is gone, and on_tick() about every 100 ms. Nothing here is locked and
// nothing is global, so several Brokers could one day run on several loops.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "broker/core/clock.h"
#include "broker/core/config.h"
#include "broker/core/connection.h"
#include "broker/core/control.h"
#include "broker/core/identity.h"
#include "broker/core/store.h"
#include "broker/mqtt/framer.h"

namespace herald::core {

class Client;  // one network connection's protocol state (core/client.h)

struct BrokerStats {
    uint64_t clients_connected = 0;
    uint64_t clients_total = 0;  // sessions, connected or not
    uint64_t messages_received = 0;
    uint64_t messages_sent = 0;
    uint64_t publish_dropped = 0;
    uint64_t bytes_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t retained_count = 0;
    uint64_t subscription_count = 0;
    uint64_t clients_maximum = 0;       // most clients connected at once
    uint64_t publish_received = 0;      // PUBLISH packets from clients
    uint64_t publish_sent = 0;          // PUBLISH packets to clients
    uint64_t stored_messages = 0;       // queued + inflight over all sessions (at the last $SYS)
};

class Broker {
public:
    Broker(Config config, Store& store, const Clock& clock);
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // A transport accepted `conn`. The returned Client lives until on_closed().
    Client* on_open(Connection& conn);

    // One complete packet from the Framer (fixed header included). Counts bytes received.
    void on_frame(Client* client, std::span<const uint8_t> frame);

    // The Framer refused the stream: TooLarge -> DISCONNECT 0x95, MalformedLength -> 0x81
    // (5.0 clients), then close. The will is published (abnormal end).
    void on_frame_error(Client* client, mqtt::FrameError error);

    // The transport has closed (peer EOF, error, or after Connection::close()). Called once;
    // the Client is freed here. An abnormal end (no DISCONNECT) publishes the will.
    void on_closed(Client* client);

    // Timers: connect timeout, keepalive, will delay, session expiry, $SYS. Called ~every 100 ms.
    void on_tick();

    // The earliest deadline that must not wait for the next on_tick() (monotonic ms): the end
    // of a presence grace period, whose offline record watchers time. Null: none.
    std::optional<uint64_t> next_precise_deadline_ms() const;

    // Graceful shutdown (SIGINT/SIGTERM): 5.0 clients get DISCONNECT 0x8B, all connections close.
    void shutdown();

    // SIGHUP: apply the reloadable parts of `config` (ACL file, limits, log level).
    // Returns false and sets `error` if the ACL file cannot be loaded (old ACL kept).
    bool reload(const Config& config, std::string& error);

    // Loads the ACL and the password file named in the config at start; false + error when
    // either cannot be loaded.
    bool load_acl(std::string& error);

    // Who clients are (SPEC 2) and group membership (SPEC 3). Null (the default): core checks
    // the password file and allow_anonymous itself. Must outlive the Broker; set before serving.
    void set_identity(Identity* identity);

    // Handles PUBLISHes to `$CONTROL/herald/v1` (SPEC 7). Null (the default): such publishes
    // are refused like any other `$` topic. Must outlive the Broker; set before serving.
    void set_control_handler(ControlHandler* handler);

    // What the admin API asks about live users (getPresence, listOnline, kickUser, and the
    // kick after a ban or a deleted user). Lives as long as the Broker.
    PresenceQuery& presence_query();

    // The packet size the Framer of a new connection must enforce.
    uint32_t max_packet_size() const;
    // connect_timeout: also how long a WebSocket client may take to finish its HTTP upgrade.
    uint32_t connect_timeout_ms() const;

    const BrokerStats& stats() const;
    size_t connection_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace herald::core
