// Broker::Impl: every piece of broker state, and the handlers that act on it.
//
// The handlers are split by concern over several files, all members of this one struct:
//   broker.cpp       public API, frame dispatch, sending helpers, closing
//   connect.cpp      CONNECT: limits, auth, client id, session takeover/resume, CONNACK
//   connect_auth.cpp CONNECT waiting for the Identity's verdict; packets held meanwhile
//   control.cpp      $CONTROL/herald/v1: requests to the ControlHandler, answers to admins
//   publish.cpp      inbound PUBLISH / PUBREL, acks from the client (PUBACK, PUBREC, PUBCOMP)
//   deliver.cpp      routing and fan-out, outgoing flow control, topic aliases out
//   subscribe.cpp    SUBSCRIBE / UNSUBSCRIBE, retained delivery
//   will.cpp         wills and will delay, session end
//   timers.cpp       deadlines heap: connect timeout, keepalive, will delay, session expiry
//   persist.cpp      persistent sessions written through to the Store, rebuilt at start
//   held_acks.cpp    PUBACK / PUBREC to a publisher only once the Store has committed
//   sys_topics.cpp   $SYS statistics
// Everything runs on the one loop thread; nothing is locked.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
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
#include "broker/core/presence_tracker.h"
#include "broker/core/retained_store.h"
#include "broker/core/session.h"
#include "broker/core/session_index.h"
#include "broker/core/streams.h"
#include "broker/core/subscription_tree.h"
#include "broker/core/topic_rules.h"
#include "broker/mqtt/codec.h"

namespace herald::core {

// A string safe to put in a log line: control bytes, invalid UTF-8 and backslashes escaped
// (\n, \xNN), cut at `max` bytes. Client ids, usernames and topics may hold any bytes.
std::string printable(std::string_view s, size_t max = 200);

// The username the topic rules (topic_rules.h) see: "" for an anonymous session.
inline std::string_view user_of(const Session& s) {
    return s.username ? std::string_view(*s.username) : std::string_view();
}

// A topic filter under `$CONTROL/` (SPEC 7): only admins may subscribe to one.
inline bool is_control_filter(std::string_view filter) {
    return filter == "$CONTROL" || filter.starts_with("$CONTROL/");
}

enum class TimerKind : uint8_t {
    ConnectTimeout,  // key = client slot, gen = serial; once Active, a keepalive check
    KeepAlive,       // key = client slot, gen = serial; re-armed lazily from last_packet_ms
    WillDelay,       // key = session slot, gen = Session::will_gen
    SessionExpiry,   // key = session slot, gen = Session::expiry_gen
};

// 16 bytes: the heap holds about one per connection. `key` is a slot (Impl::client_slots or
// Impl::session_slots); `gen` tells whether the slot still holds what the timer was for:
// the client's serial, or the session's will_gen / expiry_gen.
struct Deadline {
    uint64_t at_ms : 56;
    uint64_t kind_bits : 8;
    uint32_t key;
    uint32_t gen;
    TimerKind kind() const { return static_cast<TimerKind>(kind_bits); }
    bool operator>(const Deadline& o) const { return at_ms > o.at_ms; }
};

// Objects by a small integer index, with freed indexes reused: 8 bytes per object and no
// hash node, for the per-connection tables. Owns its objects.
template <typename T>
class SlotTable {
public:
    uint32_t add(std::unique_ptr<T> object) {
        ++count_;
        if (!free_.empty()) {
            const uint32_t slot = free_.back();
            free_.pop_back();
            slots_[slot] = std::move(object);
            return slot;
        }
        slots_.push_back(std::move(object));
        return static_cast<uint32_t>(slots_.size() - 1);
    }
    void erase(uint32_t slot) {  // frees the object
        slots_[slot].reset();
        free_.push_back(slot);
        --count_;
    }
    T* at(uint32_t slot) const { return slot < slots_.size() ? slots_[slot].get() : nullptr; }
    size_t size() const { return count_; }
    // Every object, in slot order. f must not add or erase.
    template <typename F>
    void for_each(F&& f) const {
        for (const auto& object : slots_)
            if (object) f(*object);
    }

private:
    std::vector<std::unique_ptr<T>> slots_;
    std::vector<uint32_t> free_;
    size_t count_ = 0;
};

// A CONNECT waiting for the Identity's verdict (ClientState::AwaitAuth), and the packets its
// client sent meanwhile (copied frames, in order), bounded by Impl::held_bytes_limit().
struct PendingConnect {
    uint32_t serial = 0;  // of the client in that slot when the check began
    mqtt::Connect connect;
    bool assigned = false;  // the client id was assigned by us (5.0: tell the client)
    std::string held;                 // frames back to back
    std::vector<uint32_t> held_sizes;  // their lengths
};

// Outcome of writing one PUBLISH to a connection.
enum class SendResult : uint8_t { Sent, Expired, TooLarge };

// An ack to a publisher that waits for a commit, or queues behind one that does (an ack
// never overtakes an earlier one of the same client [MQTT-4.6.0-2, -3]). 24 bytes.
struct HeldAck {
    uint64_t ticket = 0;  // the after_commit call it waits for (Impl::commit_tickets)
    uint32_t slot = 0;    // the client, by slot and serial (it may have gone meanwhile)
    uint32_t serial = 0;
    uint16_t packet_id = 0;
    mqtt::PacketType type = mqtt::PacketType::Puback;
    mqtt::ReasonCode reason = mqtt::ReasonCode::Success;
    bool needs_commit = false;  // false: only queued behind one that does
};

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
    const bool keep_sessions;  // store.keeps_sessions(), read once

    SubscriptionTree subscriptions;
    RetainedStore retained;
    Acl acl;
    auth::PasswordFile passwords;
    bool have_passwords = false;
    Identity* identity = nullptr;       // Broker::set_identity
    ControlHandler* control = nullptr;  // Broker::set_control_handler
    // Callbacks that may run after the Broker is gone (Identity verdicts, ControlHandler
    // replies) hold a weak_ptr to this and do nothing once it has expired.
    std::shared_ptr<char> life = std::make_shared<char>(0);
    std::unordered_map<uint32_t, PendingConnect> awaiting_auth;  // by client slot
    uint64_t auth_calls = 0;      // numbers each authenticate_in_loop() call
    uint64_t auth_sync_call = 0;  // the call on the stack: its verdict lands in auth_sync_verdict
    std::optional<Verdict> auth_sync_verdict;

    BrokerStats stats;
    bool shutting_down = false;

    SlotTable<Client> client_slots;  // owns the clients
    uint64_t next_client_serial = 1;
    SlotTable<Session> session_slots;  // owns the sessions
    SessionIndex sessions;  // by client id
    uint64_t next_session_seq = 1;
    uint32_t next_timer_gen = 0;
    std::deque<uint64_t> recent_connects;  // mono ms of CONNECTs in the last second

    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> timers;

    // Routing scratch, reused for every message (no allocation in the steady state).
    uint64_t route_epoch = 0;
    std::vector<RouteTarget> route_targets;
    size_t route_count = 0;
    mqtt::Properties out_props;  // properties of the PUBLISH being written

    // Sessions with queued messages held back by a full output buffer; retried every tick.
    std::vector<uint64_t> backlog;

    PresenceTracker presence;              // SPEC 4 (presence.cpp)
    struct PresenceAnswers;                       // presence_query.cpp
    std::unique_ptr<PresenceQuery> presence_query;  // made by init_presence_query()
    bool presence_counts_changed = false;  // $SYS/herald/users/online is due
    uint64_t next_presence_counts_ms = 0;

    // Persistence (persist.cpp, held_acks.cpp).
    uint64_t next_store_seq = 1;   // Delivery::seq: one counter, so increasing per session too
    uint64_t store_writes = 0;     // writes an ack must wait for (messages put, retained)
    uint64_t commit_tickets = 0;   // after_commit calls made
    Ring<HeldAck> held_acks;       // by ticket, oldest first

    StreamsState stream_state;  // SPEC 5 (streams.cpp, stream_replay.cpp)

    uint64_t started_mono_ms = 0;
    uint64_t next_sys_ms = 0;  // 0 = publish at the first tick

    // --- broker.cpp ---
    void on_frame(Client& c, std::span<const uint8_t> frame);
    // Decodes and dispatches one frame (after on_frame's accounting and state checks; also
    // for the frames held while the client was in AwaitAuth).
    void process_frame(Client& c, std::span<const uint8_t> frame, mqtt::PacketType type);
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
    // Everything checked and the client authenticated: session, CONNACK, resend.
    void accept_connect(Client& c, mqtt::Connect& p, bool assigned, bool admin);
    void refuse_connect(Client& c, std::string_view client_id, mqtt::ReasonCode reason,
                        std::string_view why);
    mqtt::ReasonCode authenticate(const mqtt::Connect& p) const;
    std::string assign_client_id();
    void resend_session(Client& c, Session& s);

    // --- connect_auth.cpp ---
    // Asks the Identity; the verdict comes now (anonymous) or later (AwaitAuth).
    void start_authentication(Client& c, mqtt::Connect& p, bool assigned);
    void apply_verdict(Client& c, mqtt::Connect& p, bool assigned, const Verdict& v);
    void verdict_arrived(uint32_t slot, uint32_t serial, Verdict v);
    // A packet from a client in AwaitAuth: kept for after the CONNACK, or the client closed.
    void hold_frame(Client& c, std::span<const uint8_t> frame, mqtt::PacketType type);
    size_t held_bytes_limit() const;

    // --- control.cpp ---
    // A PUBLISH to kControlTopic: acked, handed to the ControlHandler, never routed.
    void handle_control(Client& c, Session& s, mqtt::Publish& p, mqtt::PacketType ack_type);
    // Publishes an answer on kControlResponseTopic to the admins subscribed to it.
    void publish_control_reply(std::string response_json, std::optional<std::string> correlation);

    // --- publish.cpp ---
    void handle_publish(Client& c, mqtt::Publish& p);
    void handle_ack(Client& c, mqtt::Ack& a);
    void ack_publish(Client& c, mqtt::PacketType type, uint16_t packet_id, mqtt::ReasonCode rc);
    // Stores/clears the retained copy, then routes. Returns the number of receiving sessions.
    size_t publish_message(const MessagePtr& m);
    // Logs a PUBLISH / SUBSCRIBE the topic rules refused: info once per connection, then debug.
    void topic_rule_refused(Client& c, const char* what, std::string_view topic, RuleVerdict v);

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
    // Config ACL and topic rules, at each delivery; cls = classify_topic(topic), once per message.
    bool read_allowed(const Session& s, std::string_view topic, TopicClass cls) const;
    bool read_allowed(const Session& s, std::string_view topic) const {
        return read_allowed(s, topic, classify_topic(topic));
    }
    void pump_backlog();

    // --- subscribe.cpp ---
    void handle_subscribe(Client& c, mqtt::Subscribe& p);
    void handle_unsubscribe(Client& c, mqtt::Unsubscribe& p);
    void send_retained(Session& s, std::string_view filter, uint8_t granted_qos,
                       uint32_t subscription_id);

    // --- will.cpp ---
    // The connection of `s` ended without a normal DISCONNECT: publish or schedule its will.
    void will_on_abnormal_end(Session& s, Client& c, bool session_ending);
    // Publishes the will of a connection of `s` (ACL-checked as s.username).
    void publish_will(mqtt::Will& will, const Session& s);
    void publish_pending_will(Session& s);
    Session& create_session(std::string client_id);
    // Ends a session: publishes a pending will, removes its subscriptions, frees it.
    void end_session(Session& s);

    // The client in `slot` if its serial's low bits are `serial32`; the session with this id.
    Client* client_at(uint32_t slot, uint32_t serial32) const {
        Client* c = client_slots.at(slot);
        return c && c->serial == serial32 ? c : nullptr;
    }
    Session* session_by_id(uint64_t id) const {
        Session* s = session_slots.at(static_cast<uint32_t>(id));
        return s && s->id == id ? s : nullptr;
    }

    // --- timers.cpp ---
    uint32_t new_timer_gen() {  // never 0 (the value of a session with no timer)
        if (++next_timer_gen == 0) ++next_timer_gen;
        return next_timer_gen;
    }
    void schedule(TimerKind kind, uint32_t key, uint32_t gen, uint64_t at_ms);
    void schedule_keepalive(Client& c);
    void check_keepalive(Client& c, uint32_t gen, uint64_t now);
    void schedule_session_expiry(Session& s);
    void tick();
    void fire(const Deadline& d, uint64_t now);
    bool timer_live(const Deadline& d) const;  // false for an entry made moot since

    // --- presence.cpp ---
    void publish_presence(const std::string& user, PresenceChange change);
    // The device limit for a CONNECT of `user` with `client_id`: sets `refuse` (reject_new),
    // or returns the connection to push out (replace_oldest), or null.
    Client* presence_device_limit(Client& c, const std::string& user, std::string_view client_id,
                                  bool& refuse);
    void presence_connected(Client& c, Session& s, Client* replaced);
    void presence_disconnected(Client& c, Session& s);
    void presence_tick(uint64_t now);
    // A PUBLISH by a user to its own presence/{u}: merged, not routed. False: not one.
    bool presence_status_update(Session& s, const std::string& topic, const std::string& payload,
                                mqtt::ReasonCode& reason);
    void presence_restore();   // at start, from the retained records
    void init_presence_query();
    void presence_shutdown();  // every user offline, published
    // Disconnects every device of `user` (5.0: DISCONNECT `reason` with `why`); how many.
    size_t kick_user(std::string_view user, mqtt::ReasonCode reason, const std::string& why);

    // --- persist.cpp --- (each a no-op unless the session is stored; callers check s.stored
    // first so that clean sessions pay one flag test)
    void persist_connect(Session& s);     // after CONNECT: save, or start or stop storing
    void persist_disconnect(Session& s);  // the connection went, the session stays
    void persist_end(Session& s);         // the session ends: delete it
    void persist_subscription(Session& s, std::string_view filter, const SubscriptionEntry& e);
    void persist_unsubscribe(Session& s, std::string_view filter);
    // A QoS 1/2 delivery offered to a stored session: queued (packet_id 0) or sent.
    void persist_put(Session& s, Delivery& d, uint16_t packet_id);
    void persist_sent(Session& s, const Delivery& d, uint16_t packet_id);
    void persist_pubrec(Session& s, const Delivery& d, uint16_t packet_id);
    void persist_erase(Session& s, const Delivery& d);  // acked or dropped
    void restore_sessions();  // at start, from store.sessions_load()

    // --- held_acks.cpp ---
    // PUBACK / PUBREC / PUBCOMP to a publisher: at once, unless it must wait for what its
    // message wrote (needs_commit) or an earlier ack of this client waits.
    void ack_inbound(Client& c, mqtt::PacketType type, uint16_t packet_id, mqtt::ReasonCode rc,
                     bool needs_commit) {
        if (!needs_commit && !c.acks_held) return ack_publish(c, type, packet_id, rc);
        hold_ack(c, type, packet_id, rc, needs_commit);
    }
    void hold_ack(Client& c, mqtt::PacketType type, uint16_t packet_id, mqtt::ReasonCode rc,
                  bool needs_commit);
    void on_committed(uint64_t ticket, bool ok);

    // --- streams.cpp (SPEC 5) ---
    void streams_restore();  // at start, from store.streams_load()
    // Sets the broker's `seq` (0: none) and `ts` user properties, dropping the client's.
    void stream_stamp(Message& m, uint64_t seq, uint64_t ts_wall_ms);
    // A QoS 1/2 PUBLISH to stream `key`: seq given, stamped, appended (the ack waits for it).
    mqtt::ReasonCode stream_append(Session& s, Message& m, std::string_view key);
    // route() for a message with stream_seq: through the session's reader of that stream.
    void stream_deliver(Session& s, const MessagePtr& m, uint8_t qos, bool retain,
                        std::span<const uint32_t> subscription_ids);
    void stream_acked(Session& s, const Message& m);  // PUBACK / PUBCOMP: the cursor moves
    // route() kept entry `m` from its publishing session `s` by No Local: it counts as acked.
    void stream_own_suppressed(Session& s, const Message& m);
    void stream_fold_own(Session& s, StreamReader& r);  // own entries the cursor may pass now
    void stream_cursor_to(Session& s, StreamReader& r, uint64_t seq);  // acked and cursor = seq
    StreamReader* stream_reader(const Session& s, std::string_view key);
    bool covering_subscription(const Session& s, std::string_view key, uint8_t& qos,
                               uint32_t& sub_id) const;
    bool may_read_stream(const Session& s, std::string_view key) const;
    void streams_subscribed(Session& s, std::string_view filter);  // after the SUBACK
    void streams_attach(Session& s);  // after CONNECT: readers for the covered streams
    void streams_detach(Session& s);  // the connection went: readers dropped
    void streams_unsubscribed(Session& s);  // readers whose stream no filter covers now go
    // --- stream_replay.cpp ---
    size_t replay_page() const;
    StreamReader* stream_open_reader(Session& s, std::string_view key, uint8_t qos, uint32_t sub_id);
    void stream_read_next(Session& s, StreamReader& r);
    void stream_read_done(uint64_t session_id, uint64_t reader_id, StreamRead result);
    void streams_room(Session& s);  // the session's queue drained: readers waiting read on
    void streams_tick(uint64_t now);
    void streams_retention(uint64_t now);
    void streams_removed(const std::vector<StreamCount>& removed);  // deleted: counts follow
    void stream_device_seen(const Session& s);                       // now, in memory and stored
    bool device_reading(const std::string& device) const;

    // --- sys_topics.cpp ---
    void publish_sys(uint64_t now);
    void publish_sys_value(std::string_view topic, std::string value);
};

}  // namespace herald::core
