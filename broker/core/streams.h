// Streams and cursors (SPEC 5): what core keeps in memory about each user's and group's log of
// messages, and the pure rules of reading one (stream keys, which filters cover a stream, how
// a live entry meets a replay). The broker's handlers are in streams.cpp (append, live
// delivery, acks) and stream_replay.cpp (reading from the store).
//
// A stream is named by its first two topic levels: "users/alice" holds every QoS 1/2 message
// published to users/alice/..., "groups/devs" every one to groups/devs/.... Entries are on
// disk (the Store); memory holds per stream only its last seq and the device cursors.
//
// A device (user + client id) reads a stream through a StreamReader while it is connected and
// subscribed to a filter that covers the whole stream. The reader delivers strictly by seq:
// `delivered` is the last seq handed to the session; a live entry is delivered only when it is
// the next one, anything else (a replay running, a gap) is read from the store instead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::core {

// "users/alice" for "users/alice/bob/x", "groups/devs" for "groups/devs/carol"; empty for
// anything else (other namespaces, or fewer than three levels: not a publishable stream topic).
std::string_view stream_key(std::string_view topic);

// Does `filter` (without "$share/") match every topic of stream `key` ("users/alice": every
// users/alice/x[/...])? Partial filters (users/alice/bob) do not: a cursor is for the stream.
bool filter_covers_stream(std::string_view filter, std::string_view key);

// The key of a device in StreamInfo::cursors.
inline std::string device_key(std::string_view user, std::string_view client_id) {
    std::string k;
    k.reserve(user.size() + 1 + client_id.size());
    k.append(user).push_back('\0');
    k.append(client_id);
    return k;
}

struct StreamInfo {
    uint64_t last_seq = 0;  // the highest seq given (the next entry gets last_seq + 1)
    std::unordered_map<std::string, uint64_t> cursors;  // device_key -> highest acked seq
    // What waits in the store (for the limits; deletions report back what they removed).
    uint64_t pending = 0;
    uint64_t pending_bytes = 0;
    std::unordered_map<std::string, uint64_t> per_sender;  // entries waiting per sender
    uint64_t erased_through = 0;  // entries up to here were deleted: every device passed them
    bool retention_due = false;   // a cursor moved: listed in StreamsState::retention_due
    // device_key -> the device's own entries (it published them) that No Local kept from it
    // and its cursor has not passed yet, ascending: they count as delivered and acknowledged
    // by it (streams.cpp, stream_own_suppressed). Usually empty; memory only.
    std::unordered_map<std::string, std::vector<uint64_t>> own_unacked;
    // The highest cursor among `user`'s devices (0: none), where a new device starts.
    uint64_t user_max_cursor(std::string_view user) const;
};

struct StreamReader {
    std::string stream;      // its key
    uint64_t id = 0;         // unique; a read answered after the reader went finds nothing
    uint64_t delivered = 0;  // every entry up to this seq was handed to the session (or skipped)
    uint64_t acked = 0;      // the device's cursor
    uint64_t read_upto = 0;  // the stream's last_seq when the outstanding read was posted
    uint32_t subscription_id = 0;
    uint8_t qos = 1;           // granted QoS of the covering subscription
    bool replaying = false;    // entries after `delivered` come from the store; live ones wait
    bool reading = false;      // a store read is outstanding
    bool waiting_room = false; // a full page was delivered: the next read waits for the queue
    bool as_member = false;    // a group stream, the device's user had no cursor: from joining
};

// What to do with a live entry of seq `seq` for a reader (pure: the replay-merge rule).
enum class LiveStep : uint8_t {
    Deliver,  // the next one: deliver, delivered = seq
    Skip,     // already delivered, or a replay will read it from the store
    Replay,   // a gap: start reading from the store after `delivered`
};
LiveStep live_step(const StreamReader& r, uint64_t seq);

// Everything streams keep in Broker::Impl.
struct StreamsState {
    bool enabled = false;  // the Store keeps streams
    std::unordered_map<std::string, StreamInfo> streams;  // by key
    std::unordered_map<uint64_t, std::vector<StreamReader>> readers;  // by session id
    size_t waiting_room = 0;  // readers with waiting_room set (0: acks skip the check)
    uint64_t next_reader_id = 1;
    std::vector<std::string> retention_due;  // streams whose cursors moved since the last tick
    // device_key -> when last seen (wall ms; connected or left): a device not seen within
    // streams.device_expiry no longer holds entries back.
    std::unordered_map<std::string, uint64_t> device_seen;
    uint64_t next_purge_ms = 0;              // expired entries are deleted every few seconds
    // What waits in the store over all streams: the sum of StreamInfo::pending (_bytes), kept
    // so that $SYS and GET /metrics need not walk every stream.
    uint64_t pending_total = 0, pending_bytes_total = 0;
    // $SYS/herald/streams/... counters.
    uint64_t appended = 0, replayed = 0, rejected = 0, dropped = 0, expired = 0, deleted = 0;
};

// Which limit a new entry of `size` payload bytes from `sender` would break (pure).
enum class StreamLimit : uint8_t { None, Conversation, Pending, PendingBytes };
StreamLimit stream_limit(const StreamInfo& info, std::string_view sender, uint64_t size, uint64_t max_pending,
                         uint64_t max_pending_bytes, uint64_t max_per_conversation);

// Entries read from the store per request: a page, well under max_queued_messages.
inline constexpr size_t kReplayPage = 100;

}  // namespace herald::core
