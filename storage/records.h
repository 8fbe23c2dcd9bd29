// The records the store takes and gives back: plain values, one per table row (STYLE 9).
//
// Never a broker object (no Session&, no Message): core converts at its edge (see
// core_store.h for retained messages). Payloads are mqtt::SharedPayload so that a record
// built from a routed message shares its bytes instead of copying them; the writer thread
// only reads them. Times are wall-clock milliseconds since the Unix epoch (monotonic time
// means nothing after a restart); 0 means "never" for expiries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/mqtt/packets.h"
#include "broker/mqtt/properties.h"

namespace herald::storage {

enum class Role : uint8_t { User, Admin };
const char* role_name(Role role);                         // "user" / "admin" (the stored text)
std::optional<Role> parse_role(std::string_view text);   // nullopt for anything else

struct UserRecord {
    std::string name;
    std::string password_hash;  // a slow salted hash in its own self-describing text form
    Role role = Role::User;
    uint64_t created_at_ms = 0;
};

struct GroupRecord {
    std::string name;
    uint64_t created_at_ms = 0;
};

struct GroupMemberRecord {
    std::string group;
    std::string user;
    uint64_t joined_at_ms = 0;
};

struct BanRecord {
    std::string user;
    uint64_t until_ms = 0;  // the ban ends then (wall clock)
    std::string reason;
};

struct DeviceRecord {
    std::string user;
    std::string client_id;
    uint64_t last_seen_ms = 0;
};

struct RetainedRecord {
    std::string topic;
    mqtt::SharedPayload payload;  // never null
    uint8_t qos = 0;
    mqtt::Properties props;       // only the fields properties_blob.h persists
    uint64_t expiry_at_wall_ms = 0;
};

struct SessionRecord {
    std::string client_id;
    std::optional<std::string> username;
    uint32_t expiry_interval = 0;          // seconds after disconnect (0xFFFFFFFF: never)
    uint64_t disconnected_at_wall_ms = 0;  // 0 while a client is attached
};

// One subscription of a session. `options` is the SUBSCRIBE options byte (spec 3.8.3.1):
// QoS in bits 0-1, No Local bit 2, Retain As Published bit 3, Retain Handling bits 4-5.
struct SubscriptionRecord {
    std::string filter;
    uint8_t options = 0;
    uint32_t subscription_id = 0;  // 0 = none
};
uint8_t pack_options(const mqtt::SubscribeOptions& options);
mqtt::SubscribeOptions unpack_options(uint8_t byte);

// Where an outgoing QoS 1/2 message of a session stands (core's queue and inflight window).
enum class MessageState : uint8_t {
    Queued,           // not sent yet (waiting for the window or the client)
    InflightPublish,  // PUBLISH sent, waiting for PUBACK / PUBREC
    InflightPubrel,   // PUBREL sent, waiting for PUBCOMP (topic and payload no longer needed)
};
const char* state_name(MessageState state);  // "queued", "inflight_publish", "inflight_pubrel"
std::optional<MessageState> parse_state(std::string_view text);

// One outgoing message of a session, ordered by `seq` (chosen by core, increasing per
// session). Subscription identifiers of the delivery travel in props.
struct SessionMessageRecord {
    uint64_t seq = 0;
    MessageState state = MessageState::Queued;
    uint16_t packet_id = 0;  // 0 while queued
    std::string topic;
    mqtt::SharedPayload payload;  // never null
    uint8_t qos = 1;
    bool retain = false;
    mqtt::Properties props;
    uint64_t expiry_at_wall_ms = 0;
};

// A persistent session as saved: what core rebuilds at start or at a reconnect.
struct SavedSession {
    SessionRecord session;
    std::vector<SubscriptionRecord> subscriptions;  // ordered by filter
    std::vector<SessionMessageRecord> messages;     // ordered by seq
};

// --- for the streams and presence issue (SPEC 4, 5) ---

struct StreamEntryRecord {
    std::string stream;  // "users/alice" or "groups/devs"
    uint64_t seq = 0;    // grows by one within the stream
    std::string topic;
    mqtt::SharedPayload payload;
    uint8_t qos = 1;
    mqtt::Properties props;
    std::string sender;
    uint64_t ts_ms = 0;
    uint64_t expiry_at_wall_ms = 0;
};

struct CursorRecord {
    std::string stream;
    std::string user;
    std::string client_id;
    uint64_t seq = 0;  // highest acknowledged
};

// Entries of one sender in one stream: what waits (at start), or what a deletion removed.
struct StreamCount {
    std::string stream;
    std::string sender;
    uint64_t count = 0;
    uint64_t bytes = 0;  // payload bytes
};

// Where the streams stand at start: each stream's last seq, every device cursor, what waits.
struct StreamsStart {
    std::vector<std::pair<std::string, uint64_t>> last_seqs;  // (stream, highest seq given)
    std::vector<CursorRecord> cursors;
    std::vector<StreamCount> pending;
    std::vector<DeviceRecord> devices;  // when each device was last seen (device_expiry)
};

// What the broker needs before it serves anyone (SqliteStore::open).
struct StartState {
    std::vector<RetainedRecord> retained;  // unexpired ones only
    std::vector<SavedSession> sessions;
    StreamsStart streams;
};

struct PresenceRecord {
    std::string user;
    uint64_t seq = 0;
    uint64_t last_seen_ms = 0;
    std::string status;  // "available", "away", ...
    std::string text;
};

// One page of a long list. Pass `next` back as `after` for the following page; empty when
// this page is the last.
template <class T>
struct Page {
    std::vector<T> items;
    std::string next;
};

}  // namespace herald::storage
