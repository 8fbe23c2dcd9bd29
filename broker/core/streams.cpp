// Streams (SPEC 5), the broker's side: QoS 1/2 messages to users/{to}/... and groups/{g}/...
// appended to the stream of {to} / {g} before they are routed, live delivery to readers in
// seq order, cursors moved by the device's PUBACK / PUBCOMP. Replay: stream_replay.cpp.
//
// Choices where the spec is silent (for the README):
// - A stream message is stamped by the broker with user properties `seq` and `ts` (wall-clock
//   ms); ones of those names the publisher sent are removed. QoS 0 messages to stream topics
//   are not stored and get only `ts`.
// - The stream is the queue: a stream message is never put in the queue of an offline
//   persistent session (nor stored with it); the device gets it by replay when it is back and
//   subscribed (or resumes a session with a covering subscription). What is in flight to a
//   connected persistent session is not stored with the session either, for the same reason.
// - A device reads a stream (replay, cursor) only through a filter covering the whole stream
//   (users/alice/#, users/+/#, groups/devs/#, groups/+/#, #); a narrower one (users/alice/bob)
//   gets live messages only and moves no cursor.
// - The cursor is the highest seq the device acknowledged among those delivered in order.
// - A device seen for the first time on a stream starts at the highest cursor of its user's
//   other devices (0 if none): what no device of that user acknowledged; it is recorded
//   (cursor row) at once, so it is a known device from then on. Group streams are read with
//   the member's join time: entries stamped before the user joined are skipped.
// - A group stream is known to a device subscribed with a wildcard group level (groups/+/#)
//   once it has an entry; a concrete filter (groups/devs/#) makes it known at once.
// - A retained PUBLISH to a stream topic is the topic's retained message, as in plain MQTT,
//   and is not appended to the stream (else a subscriber would get it twice: retained, and
//   replayed); like QoS 0 it gets only `ts`.
// - No Local: the publishing device's own entry counts as delivered and acknowledged by it
//   (stream_own_suppressed), so no replay sends it back.
// - The sender of a stream message is acked Success (not 0x10) even when nobody is subscribed:
//   the message is stored for its readers.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"

namespace herald::core {

namespace {

// Levels of `s` split on '/', at most `max` (the last one keeps the rest).
size_t split_levels(std::string_view s, std::string_view* out, size_t max) {
    size_t n = 0;
    while (n + 1 < max) {
        const size_t slash = s.find('/');
        if (slash == std::string_view::npos) break;
        out[n++] = s.substr(0, slash);
        s.remove_prefix(slash + 1);
    }
    out[n++] = s;
    return n;
}

bool is_user_property(const mqtt::UserProperty& p, std::string_view name) { return p.key == name; }

}  // namespace

std::string_view stream_key(std::string_view topic) {
    std::string_view levels[3];
    if (split_levels(topic, levels, 3) < 3) return {};
    if (levels[0] != "users" && levels[0] != "groups") return {};
    if (levels[1].empty()) return {};
    return topic.substr(0, levels[0].size() + 1 + levels[1].size());
}

bool filter_covers_stream(std::string_view filter, std::string_view key) {
    std::string_view f[4], k[2];
    const size_t nf = split_levels(filter, f, 4);
    if (split_levels(key, k, 2) != 2) return false;
    for (size_t i = 0; i < 2; ++i) {
        if (i >= nf) return false;
        if (f[i] == "#") return true;
        if (f[i] != "+" && f[i] != k[i]) return false;
    }
    if (nf < 3) return false;
    // What is left after the two levels: "#", or "+/#" (every topic has a third level).
    if (nf == 3) return f[2] == "#";
    return f[2] == "+" && f[3] == "#";
}

uint64_t StreamInfo::user_max_cursor(std::string_view user) const {
    uint64_t best = 0;
    for (const auto& [key, seq] : cursors) {
        if (key.size() > user.size() && key[user.size()] == '\0' && key.starts_with(user))
            best = std::max(best, seq);
    }
    return best;
}

StreamLimit stream_limit(const StreamInfo& info, std::string_view sender, uint64_t size, uint64_t max_pending,
                         uint64_t max_pending_bytes, uint64_t max_per_conversation) {
    if (max_per_conversation) {
        auto it = info.per_sender.find(std::string(sender));
        if (it != info.per_sender.end() && it->second >= max_per_conversation) return StreamLimit::Conversation;
    }
    if (max_pending && info.pending >= max_pending) return StreamLimit::Pending;
    if (max_pending_bytes && info.pending_bytes + size > max_pending_bytes) return StreamLimit::PendingBytes;
    return StreamLimit::None;
}

LiveStep live_step(const StreamReader& r, uint64_t seq) {
    if (seq <= r.delivered) return LiveStep::Skip;
    if (r.replaying) return LiveStep::Skip;  // the running replay reads it from the store
    if (seq == r.delivered + 1) return LiveStep::Deliver;
    return LiveStep::Replay;
}

// ---------------------------------------------------------------------------------------------

void Broker::Impl::streams_restore() {
    stream_state.enabled = store.keeps_streams();
    if (!stream_state.enabled) return;
    LoadedStreams loaded = store.streams_load();
    for (auto& [key, seq] : loaded.last_seqs) stream_state.streams[key].last_seq = seq;
    for (StreamCursor& c : loaded.cursors) {
        StreamInfo& info = stream_state.streams[c.stream];
        info.cursors[device_key(c.user, c.client_id)] = c.seq;
        info.last_seq = std::max(info.last_seq, c.seq);
    }
    for (StreamCursor& d : loaded.devices_seen) stream_state.device_seen[device_key(d.user, d.client_id)] = d.seq;
    for (StreamCount& p : loaded.pending) {
        StreamInfo& info = stream_state.streams[p.stream];
        info.pending += p.count;
        info.pending_bytes += p.bytes;
        info.per_sender[p.sender] += p.count;
        stream_state.pending_total += p.count;
        stream_state.pending_bytes_total += p.bytes;
    }
    if (!loaded.last_seqs.empty())
        spdlog::info("streams: {} streams, {} device cursors", stream_state.streams.size(), loaded.cursors.size());
}

void Broker::Impl::stream_stamp(Message& m, uint64_t seq, uint64_t ts_wall_ms) {
    auto& ups = m.props.user_properties;
    std::erase_if(ups, [](const mqtt::UserProperty& p) {
        return is_user_property(p, "seq") || is_user_property(p, "ts");
    });
    if (seq) ups.push_back(mqtt::UserProperty{"seq", std::to_string(seq)});
    ups.push_back(mqtt::UserProperty{"ts", std::to_string(ts_wall_ms)});
}

mqtt::ReasonCode Broker::Impl::stream_append(Session& s, Message& m, std::string_view key) {
    const std::string stream(key);
    StreamInfo& info = stream_state.streams[stream];
    const std::string_view sender = user_of(s);
    const uint64_t size = m.payload->size();
    if (key.starts_with("users/")) {  // the limits are per user and per conversation (SPEC 5)
        const StreamLimit limit = stream_limit(info, sender, size, config.streams_max_pending,
                                               config.streams_max_pending_bytes, config.streams_max_per_conversation);
        if (limit != StreamLimit::None) {
            const char* what = limit == StreamLimit::Conversation ? "max_per_conversation"
                               : limit == StreamLimit::Pending    ? "max_pending"
                                                                  : "max_pending_bytes";
            // Logged at info once per 1000 (a full inbox under load would flood the log).
            const auto level = (stream_state.rejected + stream_state.dropped) % 1000 == 0 ? spdlog::level::info
                                                                                          : spdlog::level::debug;
            if (config.streams_policy != "drop_oldest") {
                stream_state.rejected++;
                spdlog::log(level, "stream {}: message from {} refused, streams.{} reached ({} so far)", printable(stream),
                             printable(sender), what, stream_state.rejected);
                return mqtt::ReasonCode::QuotaExceeded;
            }
            stream_state.dropped++;
            spdlog::log(level, "stream {}: oldest message{} dropped, streams.{} reached ({} so far)", printable(stream),
                       limit == StreamLimit::Conversation ? " from " + printable(sender) : std::string(), what,
                       stream_state.dropped);
            store.stream_drop_oldest(stream, limit == StreamLimit::Conversation ? std::string(sender) : std::string(),
                                     [this, alive = std::weak_ptr<char>(life)](std::vector<StreamCount> removed) {
                                         if (!alive.expired()) streams_removed(removed);
                                     });
        }
    }
    m.stream_seq = ++info.last_seq;
    const uint64_t ts = clock.wall_ms();
    stream_stamp(m, m.stream_seq, ts);
    // Kept until the sooner of its message expiry and streams.ttl.
    uint64_t expiry = m.expiry_at_mono_ms;
    if (config.streams_ttl) {
        const uint64_t ttl_at = clock.mono_ms() + uint64_t(config.streams_ttl) * 1000;
        expiry = expiry ? std::min(expiry, ttl_at) : ttl_at;
    }
    store.stream_append(stream, m, sender, ts, expiry);
    ++store_writes;  // the sender's ack waits for the commit (held_acks.cpp)
    info.pending++;
    info.pending_bytes += size;
    stream_state.pending_total++;
    stream_state.pending_bytes_total += size;
    info.per_sender[std::string(sender)]++;
    stream_state.appended++;
    return mqtt::ReasonCode::Success;
}

void Broker::Impl::streams_removed(const std::vector<StreamCount>& removed) {
    for (const StreamCount& c : removed) {
        auto it = stream_state.streams.find(c.stream);
        if (it == stream_state.streams.end()) continue;
        StreamInfo& info = it->second;
        const uint64_t count = std::min(info.pending, c.count), bytes = std::min(info.pending_bytes, c.bytes);
        info.pending -= count;
        info.pending_bytes -= bytes;
        stream_state.pending_total -= std::min(stream_state.pending_total, count);
        stream_state.pending_bytes_total -= std::min(stream_state.pending_bytes_total, bytes);
        if (auto s = info.per_sender.find(c.sender); s != info.per_sender.end()) {
            s->second -= std::min(s->second, c.count);
            if (s->second == 0) info.per_sender.erase(s);
        }
    }
}

StreamReader* Broker::Impl::stream_reader(const Session& s, std::string_view key) {
    auto it = stream_state.readers.find(s.id);
    if (it == stream_state.readers.end()) return nullptr;
    for (StreamReader& r : it->second)
        if (r.stream == key) return &r;
    return nullptr;
}

void Broker::Impl::stream_deliver(Session& s, const MessagePtr& m, uint8_t qos, bool retain,
                                  std::span<const uint32_t> ids) {
    if (!s.client || s.client->state != ClientState::Active) return;  // the stream is the queue
    const std::string_view key = stream_key(m->topic);
    StreamReader* r = stream_reader(s, key);
    if (!r) {
        // First entry of this stream since the device subscribed: read it as a stream if a
        // subscription covers the whole stream, else deliver it live only.
        uint32_t sub_id = 0;
        uint8_t granted = 0;
        if (s.username && covering_subscription(s, key, granted, sub_id))
            r = stream_open_reader(s, key, granted, sub_id);
        if (!r) return offer(s, m, qos, retain, ids);
    }
    switch (live_step(*r, m->stream_seq)) {
        case LiveStep::Skip: return;
        case LiveStep::Replay:
            r->replaying = true;
            return stream_read_next(s, *r);
        case LiveStep::Deliver:
            if (s.queue.size() >= replay_page()) {
                // The device is behind: the store holds the rest until its queue drains.
                r->replaying = true;
                if (!r->waiting_room) {
                    r->waiting_room = true;
                    stream_state.waiting_room++;
                }
                return;
            }
            r->delivered = m->stream_seq;
            return offer(s, m, qos, retain, ids);
    }
}

void Broker::Impl::stream_acked(Session& s, const Message& m) {
    StreamReader* r = stream_reader(s, stream_key(m.topic));
    if (!r || !s.username) return;
    const uint64_t seq = m.stream_seq;
    if (seq > r->delivered || seq <= r->acked) return;
    stream_cursor_to(s, *r, seq);
    stream_fold_own(s, *r);
}

void Broker::Impl::stream_cursor_to(Session& s, StreamReader& r, uint64_t seq) {
    r.acked = seq;
    StreamInfo& info = stream_state.streams[r.stream];
    info.cursors[device_key(*s.username, s.client_id)] = seq;
    if (!info.retention_due) {  // streams_tick() deletes what every device has passed
        info.retention_due = true;
        stream_state.retention_due.push_back(r.stream);
    }
    store.stream_cursor_set(StreamCursor{r.stream, s.username->str(), s.client_id.str(), seq});
}

// No Local (MQTT 5 3.8.3.1) on a stream: the publishing device does not get its own entry, live
// or by replay, and the entry counts as delivered and acknowledged by it, so that its cursor can
// pass it (else the device's next replay would send it its own message). Only as acknowledged as
// the rest, though: the cursor moves onto it once every entry before it that was handed to the
// device is acknowledged (stream_fold_own), never over an unacknowledged one.
// - Called only when No Local kept the entry from the session: a publisher that also has a
//   matching subscription without No Local gets its entry (and acks it) like anyone.
// - The device may not be reading the stream live right now (a replay running, a gap, or no
//   reader: only a narrower No Local filter): the entry is remembered for the device in
//   StreamInfo::own_unacked, the replay passes over it, and the cursor moves when it can. The
//   memory lasts until the cursor passes the entry or the entry is deleted, not over a restart.
// - A publisher with no matching subscription at all is not concerned: No Local belongs to a
//   subscription, and it gets the entry by replay if it subscribes later.
void Broker::Impl::stream_own_suppressed(Session& s, const Message& m) {
    if (!s.username || !s.client || s.client->state != ClientState::Active) return;
    const std::string_view key = stream_key(m.topic);
    if (!may_read_stream(s, key)) return;
    StreamInfo& info = stream_state.streams[std::string(key)];
    info.own_unacked[device_key(*s.username, s.client_id)].push_back(m.stream_seq);  // the newest seq
    StreamReader* r = stream_reader(s, key);
    if (!r) {
        uint32_t sub_id = 0;
        uint8_t granted = 0;
        if (!covering_subscription(s, key, granted, sub_id)) return;  // a later reader passes it
        r = stream_open_reader(s, key, granted, sub_id);  // its replay reads up to this entry
    }
    switch (live_step(*r, m.stream_seq)) {
        case LiveStep::Skip: break;  // the running replay passes over it
        case LiveStep::Replay:
            r->replaying = true;
            stream_read_next(s, *r);
            break;
        case LiveStep::Deliver: r->delivered = m.stream_seq; break;  // passed: nothing to send
    }
    stream_fold_own(s, *r);
}

void Broker::Impl::stream_fold_own(Session& s, StreamReader& r) {
    StreamInfo& info = stream_state.streams[r.stream];
    if (info.own_unacked.empty()) return;
    auto it = info.own_unacked.find(device_key(*s.username, s.client_id));
    if (it == info.own_unacked.end()) return;
    // Is an entry of this stream after the cursor and before `seq` still held by the session
    // (queued, or in flight until its PUBACK / PUBCOMP)?
    auto held_before = [&](uint64_t seq) {
        auto held = [&](const Delivery& d) {
            return d.message && d.message->stream_seq > r.acked && d.message->stream_seq < seq &&
                   stream_key(d.message->topic) == r.stream;
        };
        for (const InflightEntry& e : s.inflight)
            if (held(e.delivery)) return true;
        for (const Delivery& d : s.queue)
            if (held(d)) return true;
        return false;
    };
    std::vector<uint64_t>& own = it->second;
    size_t passed = 0;
    for (; passed < own.size() && own[passed] <= r.delivered; ++passed) {
        if (own[passed] <= r.acked) continue;  // the device acked something later already
        if (held_before(own[passed])) break;
        stream_cursor_to(s, r, own[passed]);
    }
    own.erase(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(passed));
    if (own.empty()) info.own_unacked.erase(it);
}

bool Broker::Impl::covering_subscription(const Session& s, std::string_view key, uint8_t& qos,
                                         uint32_t& sub_id) const {
    bool found = false;
    s.subscriptions.for_each([&](const std::string& filter) {
        if (filter.starts_with("$share/") || !filter_covers_stream(filter, key)) return;
        if (const SubscriptionEntry* e = subscriptions.find(filter, &s)) {
            if (!found || e->options.qos > qos) {
                qos = e->options.qos;
                sub_id = e->subscription_id;
            }
            found = true;
        }
    });
    return found;
}

bool Broker::Impl::may_read_stream(const Session& s, std::string_view key) const {
    if (!s.username) return false;
    const std::string_view user = *s.username;
    if (key.starts_with("users/")) return key.substr(6) == user;
    return identity && identity->is_group_member(key.substr(7), user);
}

void Broker::Impl::streams_subscribed(Session& s, std::string_view filter) {
    if (!stream_state.enabled || !s.username || filter.starts_with("$share/")) return;
    const std::string own = "users/" + s.username->str();
    std::vector<std::string> keys;
    if (filter_covers_stream(filter, own)) keys.push_back(own);
    // A concrete group level names its stream even before it has an entry.
    std::string_view levels[3];
    if (split_levels(filter, levels, 3) == 3 && (levels[0] == "groups" || levels[0] == "+") &&
        levels[1] != "+" && levels[1] != "#")
        keys.push_back("groups/" + std::string(levels[1]));
    for (const auto& [key, info] : stream_state.streams)
        if (key.starts_with("groups/") && filter_covers_stream(filter, key)) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (const std::string& key : keys) {
        if (!filter_covers_stream(filter, key) || !may_read_stream(s, key) || stream_reader(s, key)) continue;
        uint8_t qos = 0;
        uint32_t sub_id = 0;
        if (!covering_subscription(s, key, qos, sub_id)) continue;
        stream_open_reader(s, key, qos, sub_id);
    }
}

void Broker::Impl::streams_attach(Session& s) {
    streams_detach(s);
    if (!stream_state.enabled || !s.username || s.subscriptions.size() == 0) return;
    std::vector<std::string> filters;
    s.subscriptions.for_each([&](const std::string& f) { filters.push_back(f); });
    for (const std::string& f : filters) streams_subscribed(s, f);
}

void Broker::Impl::streams_unsubscribed(Session& s) {
    auto it = stream_state.readers.find(s.id);
    if (it == stream_state.readers.end()) return;
    std::erase_if(it->second, [&](const StreamReader& r) {
        uint8_t qos = 0;
        uint32_t sub_id = 0;
        if (covering_subscription(s, r.stream, qos, sub_id)) return false;
        if (r.waiting_room) stream_state.waiting_room--;
        return true;
    });
}

void Broker::Impl::stream_device_seen(const Session& s) {
    const uint64_t now = clock.wall_ms();
    stream_state.device_seen[device_key(*s.username, s.client_id)] = now;
    store.stream_device_seen(s.username->str(), s.client_id.str(), now);
}

void Broker::Impl::streams_detach(Session& s) {
    auto it = stream_state.readers.find(s.id);
    if (it == stream_state.readers.end()) return;
    if (s.username && !it->second.empty()) stream_device_seen(s);  // a reader leaves: seen now
    for (const StreamReader& r : it->second)
        if (r.waiting_room) stream_state.waiting_room--;
    stream_state.readers.erase(it);
}

}  // namespace herald::core
