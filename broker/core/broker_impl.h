// Broker::Impl: every piece of broker state, and the handlers that act on it.
//
// The handlers are split by concern over several files, all members of this one struct:
//   broker.cpp       public API, frame dispatch, sending helpers, closing
//   connect.cpp      CONNECT: limits, auth, client id, session takeover/resume, CONNACK
//   publish.cpp      inbound PUBLISH / PUBREL, acks from the client (PUBACK, PUBREC, PUBCOMP)
//   deliver.cpp      routing and fan-out, outgoing flow control, topic aliases out
//   subscribe.cpp    SUBSCRIBE / UNSUBSCRIBE, retained delivery
//   will.cpp         wills and will delay, session end
//   timers.cpp       deadlines heap: connect timeout, keepalive, will delay, session expiry
//   sys_topics.cpp   $SYS statistics
// Everything runs on the one loop thread; nothing is locked.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/auth/password_file.h"
#include "broker/core/acl.h"
#include "broker/core/broker.h"
#include "broker/core/client.h"
#include "broker/core/message.h"
#include "broker/core/retained_store.h"
#include "broker/core/session.h"
#include "broker/core/subscription_tree.h"
#include "broker/mqtt/codec.h"

namespace herald::core {

// A string safe to put in a log line: control bytes, invalid UTF-8 and backslashes escaped
// (\n, \xNN), cut at `max` bytes. Client ids, usernames and topics may hold any bytes.
std::string printable(std::string_view s, size_t max = 200);

enum class TimerKind : uint8_t {
    ConnectTimeout,  // key = client serial
    KeepAlive,       // key = client serial; re-armed lazily from last_packet_ms
    WillDelay,       // key = session id, gen = Session::will_gen
    SessionExpiry,   // key = session id, gen = Session::expiry_gen
};

struct Deadline {
    uint64_t at_ms;
    uint64_t key;
    uint64_t gen;
    TimerKind kind;
    bool operator>(const Deadline& o) const { return at_ms > o.at_ms; }
};

// Outcome of writing one PUBLISH to a connection.
enum class SendResult : uint8_t { Sent, Expired, TooLarge };

// One receiving session of a message being routed (merged over its matching subscriptions).
struct RouteTarget {
    Session* session = nullptr;
    uint8_t qos = 0;
    bool retain = false;
    std::vector<uint32_t> subscription_ids;  // capacity kept across messages
};

struct Broker::Impl {
    Impl(Config config_, Store& store_, const Clock& clock_);
    ~Impl();

    Config config;
    Store& store;
    const Clock& clock;

    SubscriptionTree subscriptions;
    RetainedStore retained;
    Acl acl;
    auth::PasswordFile passwords;
    bool have_passwords = false;

    BrokerStats stats;
    bool shutting_down = false;

    std::unordered_map<uint64_t, std::unique_ptr<Client>> clients;  // by serial
    uint64_t next_client_serial = 1;
    std::unordered_map<std::string, std::unique_ptr<Session>> sessions;  // by client id
    std::unordered_map<uint64_t, Session*> sessions_by_id;
    uint64_t next_session_id = 1;
    std::deque<uint64_t> recent_connects;  // mono ms of CONNECTs in the last second

    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> timers;

    // Routing scratch, reused for every message (no allocation in the steady state).
    uint64_t route_epoch = 0;
    std::vector<RouteTarget> route_targets;
    size_t route_count = 0;
    mqtt::Properties out_props;  // properties of the PUBLISH being written

    // Sessions with queued messages held back by a full output buffer; retried every tick.
    std::vector<uint64_t> backlog;

    uint64_t started_mono_ms = 0;
    uint64_t next_sys_ms = 0;  // 0 = publish at the first tick

    // --- broker.cpp ---
    void on_frame(Client& c, std::span<const uint8_t> frame);
    void dispatch(Client& c, mqtt::Packet& packet);
    void send(Client& c, const mqtt::Packet& packet);
    void send_disconnect(Client& c, mqtt::ReasonCode reason, std::string_view reason_string);
    // A protocol violation: 5.0 DISCONNECT with reason (+ string), then close. Will published.
    void protocol_error(Client& c, mqtt::ReasonCode reason, std::string_view why);
    // Marks Closing and asks the transport to close. The caller must not touch `c` after.
    void close_client(Client& c, std::string end_reason);
    void client_closed(Client& c);
    bool load_auth(std::string& error);

    // --- connect.cpp ---
    void handle_connect(Client& c, mqtt::Connect& p);
    void refuse_connect(Client& c, mqtt::ReasonCode reason, const char* why);
    mqtt::ReasonCode authenticate(const mqtt::Connect& p) const;
    std::string assign_client_id();
    void resend_session(Client& c, Session& s);

    // --- publish.cpp ---
    void handle_publish(Client& c, mqtt::Publish& p);
    void handle_ack(Client& c, mqtt::Ack& a);
    void ack_publish(Client& c, mqtt::PacketType type, uint16_t packet_id, mqtt::ReasonCode rc);
    // Stores/clears the retained copy, then routes. Returns the number of receiving sessions.
    size_t publish_message(const MessagePtr& m);

    // --- deliver.cpp ---
    size_t route(const MessagePtr& m);
    // Offers one delivery to one session: send now, queue, or drop (counted).
    void offer(Session& s, const MessagePtr& m, uint8_t qos, bool retain,
               std::span<const uint32_t> subscription_ids);
    SendResult write_publish(Client& c, const Message& m, uint8_t qos, bool retain,
                             std::span<const uint32_t> subscription_ids, uint16_t packet_id,
                             bool dup, uint64_t now);
    // Sends queued messages while the window and the output buffer have room.
    void pump(Session& s);
    size_t window(const Client& c) const;
    bool output_has_room(const Client& c) const;
    bool read_allowed(const Session& s, std::string_view topic) const;
    void pump_backlog();

    // --- subscribe.cpp ---
    void handle_subscribe(Client& c, mqtt::Subscribe& p);
    void handle_unsubscribe(Client& c, mqtt::Unsubscribe& p);
    void send_retained(Session& s, std::string_view filter, uint8_t granted_qos,
                       uint32_t subscription_id);

    // --- will.cpp ---
    // The connection of `s` ended without a normal DISCONNECT: publish or schedule its will.
    void will_on_abnormal_end(Session& s, Client& c, bool session_ending);
    void publish_will(mqtt::Will& will, const std::optional<std::string>& username,
                      const std::string& client_id, uint64_t origin_id);
    void publish_pending_will(Session& s);
    Session& create_session(const std::string& client_id);
    // Ends a session: publishes a pending will, removes its subscriptions, frees it.
    void end_session(Session& s);

    // --- timers.cpp ---
    void schedule(TimerKind kind, uint64_t key, uint64_t gen, uint64_t at_ms);
    void schedule_keepalive(Client& c);
    void schedule_session_expiry(Session& s);
    void tick();
    void fire(const Deadline& d, uint64_t now);
    bool timer_live(const Deadline& d) const;  // false for an entry made moot since

    // --- sys_topics.cpp ---
    void publish_sys(uint64_t now);
    void publish_sys_value(std::string_view topic, std::string value);
};

}  // namespace herald::core
