// The record-level operations of every table: plain functions over a Db, run on the thread
// that owns it (the writer thread once the store has started; see store.h, which wraps each
// of them in an asynchronous call for the loop). One .cpp per table or concern.
//
// Writes return a Status: NotFound / Exists / Invalid for what the caller asked that makes no
// sense here (one statement, nothing else is undone), Db when SQLite failed. None of these
// begins or commits a transaction: the caller (the writer's batch, or exec_now) does.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/db.h"
#include "storage/records.h"
#include "storage/result.h"

namespace herald::storage {

// users.cpp. Deleting a user also removes its contacts, group memberships, ban, devices and
// presence row; its sessions and stream entries are left to their own expiry.
namespace users {
Status create(Db& db, const UserRecord& user);  // Exists
Status remove(Db& db, std::string_view name);   // NotFound
Status set_password_hash(Db& db, std::string_view name, std::string_view hash);  // NotFound
Status set_role(Db& db, std::string_view name, Role role);                       // NotFound
Result<std::optional<UserRecord>> get(Db& db, std::string_view name);
// Ordered by name, names after `after` ("" = from the start), at most `limit`.
Result<Page<UserRecord>> list(Db& db, std::string_view after, size_t limit);
Result<uint64_t> count(Db& db);
}  // namespace users

// contacts.cpp: symmetric pairs (a contact of b means b contact of a), stored once.
namespace contacts {
Status add(Db& db, std::string_view a, std::string_view b, uint64_t now_ms);  // Invalid if a == b; adding twice is ok
Status remove(Db& db, std::string_view a, std::string_view b);               // NotFound
Result<bool> are_contacts(Db& db, std::string_view a, std::string_view b);
Result<std::vector<std::string>> of_user(Db& db, std::string_view user);    // sorted
// Every pair, once each, as (smaller name, larger name), sorted: the broker's in-memory copy
// (presence visibility, SPEC 4) is loaded from it at start.
Result<std::vector<std::pair<std::string, std::string>>> all_pairs(Db& db);
}  // namespace contacts

// groups.cpp: groups and their members.
namespace groups {
Status create(Db& db, std::string_view name, uint64_t now_ms);  // Exists
Status remove(Db& db, std::string_view name);                   // NotFound; members go too
Result<std::optional<GroupRecord>> get(Db& db, std::string_view name);
Result<Page<GroupRecord>> list(Db& db, std::string_view after, size_t limit);
Status add_member(Db& db, std::string_view group, std::string_view user, uint64_t now_ms);  // NotFound (group); twice is ok
Status remove_member(Db& db, std::string_view group, std::string_view user);               // NotFound
Result<std::vector<GroupMemberRecord>> members(Db& db, std::string_view group);           // by user
Result<std::vector<std::string>> of_user(Db& db, std::string_view user);                  // group names, sorted
// Every membership, by group then user: the broker's in-memory copy is loaded from it at start.
Result<std::vector<GroupMemberRecord>> all_members(Db& db);
}  // namespace groups

// bans.cpp: one ban per user, replaced by a new one.
namespace bans {
Status set(Db& db, const BanRecord& ban);
Status remove(Db& db, std::string_view user);  // NotFound
Result<std::optional<BanRecord>> get(Db& db, std::string_view user);
Result<std::vector<BanRecord>> active(Db& db, uint64_t now_ms);  // until_ms > now, by user
Status purge_expired(Db& db, uint64_t now_ms);
}  // namespace bans

// devices.cpp: the client ids a user has connected with, and when each was last seen.
namespace devices {
Status seen(Db& db, const DeviceRecord& device);  // insert or update last_seen_ms
Status remove(Db& db, std::string_view user, std::string_view client_id);  // NotFound
Result<std::vector<DeviceRecord>> of_user(Db& db, std::string_view user);  // by client id
Status purge_older(Db& db, uint64_t before_ms);  // devices not seen since
}  // namespace devices

// retained.cpp
namespace retained {
Status set(Db& db, const RetainedRecord& message);  // replaces the topic's message
Status erase(Db& db, std::string_view topic);       // no row is not an error
Result<std::vector<RetainedRecord>> load_all(Db& db);
Status purge_expired(Db& db, uint64_t now_ms);
}  // namespace retained

// sessions.cpp: persistent sessions and their subscriptions.
namespace sessions {
Status save(Db& db, const SessionRecord& session);  // insert or replace (subscriptions and messages stay)
// The session, its subscriptions and messages; none is ok. Finding the messages is a scan of
// session_messages (which has no index by session): for the start, tools and tests.
Status remove(Db& db, std::string_view client_id);
// The session and its subscriptions only: the running broker's way, which erases the
// session's messages by seq first (it knows them) and leaves no scan to the writer.
Status remove_keep_messages(Db& db, std::string_view client_id);
Status subscription_set(Db& db, std::string_view client_id, const SubscriptionRecord& sub);
Status subscription_erase(Db& db, std::string_view client_id, std::string_view filter);
Result<std::optional<SavedSession>> load(Db& db, std::string_view client_id);
Result<std::vector<SavedSession>> load_all(Db& db);  // ordered by client id
// Sessions whose expiry passed while the broker was down (expiry_interval seconds after
// disconnected_at_wall_ms), with everything they own, and the messages of sessions that are
// gone (one scan). 0xFFFFFFFF never expires.
Status purge_expired(Db& db, uint64_t now_ms);
}  // namespace sessions

// session_messages.cpp: a session's outgoing QoS 1/2 messages, keyed by seq, which is unique
// in the whole table (core's one counter). A message for one session holds its body (topic,
// payload, properties, expiry) in its row; the rows of a message for many name one body in
// stored_messages, deleted with its last row (schema.cpp, migrations 3 and 4).
namespace session_messages {
// What one session's row of a shared message holds besides the body.
struct Row {
    std::string client_id;
    uint64_t seq = 0;
    MessageState state = MessageState::Queued;
    uint16_t packet_id = 0;
    uint8_t qos = 1;
    bool retain = false;
    std::vector<uint32_t> subscription_ids;
};
Status put(Db& db, std::string_view client_id, const SessionMessageRecord& message);  // insert or replace by seq
// One body (topic, payload, props, expiry of `body`; its other fields and its subscription
// identifiers are ignored) and one row per entry of `rows`, each inserted or replaced by seq.
// A single row holds the body itself.
Status put_shared(Db& db, const SessionMessageRecord& body, std::span<const Row> rows);
Status set_state(Db& db, std::string_view client_id, uint64_t seq, MessageState state, uint16_t packet_id);  // NotFound
Status erase(Db& db, std::string_view client_id, uint64_t seq);  // no row is not an error
Status clear(Db& db, std::string_view client_id);  // a scan
Status clear_orphans(Db& db);  // the rows of sessions that are not in `sessions`; a scan
// Payloads already read, by body id: loading many sessions with one cache gives the rows of
// one body one shared payload in memory, as before the restart.
using PayloadCache = std::unordered_map<int64_t, mqtt::SharedPayload>;
Result<std::vector<SessionMessageRecord>> load(Db& db, std::string_view client_id,
                                               PayloadCache* cache = nullptr);  // by seq; a scan
// Every row, by seq, with its session's client id: one scan for the whole start.
Status load_all(Db& db, PayloadCache& cache,
                const std::function<void(std::string_view client_id, SessionMessageRecord message)>& each);
}  // namespace session_messages

// streams.cpp: stream entries and device cursors (SPEC 5; used by the streams issue).
namespace streams {
Status append(Db& db, const StreamEntryRecord& entry);  // Exists if (stream, seq) is taken
Result<std::vector<StreamEntryRecord>> read(Db& db, std::string_view stream, uint64_t after_seq, size_t limit);
Result<uint64_t> last_seq(Db& db, std::string_view stream);  // 0 for an empty stream
Status erase_through(Db& db, std::string_view stream, uint64_t seq);  // entries with seq <= seq
Status purge_expired(Db& db, uint64_t now_ms);
Status cursor_set(Db& db, const CursorRecord& cursor);
Result<std::optional<uint64_t>> cursor_get(Db& db, std::string_view stream, std::string_view user,
                                           std::string_view client_id);
Result<std::vector<CursorRecord>> cursors_of(Db& db, std::string_view stream);  // by user, client id
// Entries of a group stream after `after_seq` that `member` may see: those stamped no earlier
// than the member joined (SPEC 5: a new member starts after joining). Not a member: none.
Result<std::vector<StreamEntryRecord>> read_as_member(Db& db, std::string_view stream, std::string_view group,
                                                      std::string_view member, uint64_t after_seq, size_t limit);
// Each stream's highest seq (of its entries or, when those were deleted, of its cursors: a seq
// a device has passed is never given again) and every cursor: what core keeps in memory.
Result<StreamsStart> load_state(Db& db);
// Deletions that say what they deleted (per stream and sender), so that core's counts follow:
// entries up to `seq`; expired ones; the oldest one of `stream` (of `sender` if not empty).
Result<std::vector<StreamCount>> erase_through_counted(Db& db, std::string_view stream, uint64_t seq);
Result<std::vector<StreamCount>> purge_expired_counted(Db& db, uint64_t now_ms);
Result<std::vector<StreamCount>> drop_oldest(Db& db, std::string_view stream, std::string_view sender);
}  // namespace streams

// presence.cpp: the last known presence of each user (SPEC 4; used by the presence issue).
namespace presence {
Status set(Db& db, const PresenceRecord& record);
Result<std::optional<PresenceRecord>> get(Db& db, std::string_view user);
}  // namespace presence

}  // namespace herald::storage
