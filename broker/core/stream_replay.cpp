// Stream replay (SPEC 5): a device that subscribes to (or resumes a session with) a filter
// covering a stream gets the entries after its cursor from the store, oldest first, then live
// ones, with no gap and no duplicate.
//
// How: a StreamReader per (session, stream). While `replaying`, pages of entries after
// `delivered` are read off the loop (Store::stream_read, answered on the loop) and offered to
// the session like any delivery, so the inflight window (receive maximum) and the session
// queue pace them; the next page is read only once the session queue holds less than a page.
// Live entries of that stream meanwhile are skipped (they are in the store: a read posted after
// their append sees them). A page shorter than asked means the reader caught up with what was
// appended before the read was posted; if more was appended since (last_seq is further), one
// more read, else the reader goes live: on the loop thread nothing can come in between, so the
// next live entry is exactly delivered + 1.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"

namespace herald::core {

size_t Broker::Impl::replay_page() const {
    size_t page = kReplayPage;
    if (config.max_queued_messages) page = std::min<size_t>(page, std::max<size_t>(1, config.max_queued_messages / 2));
    return page;
}

StreamReader* Broker::Impl::stream_open_reader(Session& s, std::string_view key, uint8_t qos, uint32_t sub_id) {
    StreamInfo& info = stream_state.streams[std::string(key)];
    const std::string dk = device_key(*s.username, s.client_id);
    uint64_t start;
    if (auto it = info.cursors.find(dk); it != info.cursors.end()) {
        start = it->second;
    } else {
        // A device new to this stream: after what its user's other devices acknowledged. Its
        // cursor is recorded now, so it counts as a known device from here on.
        start = info.user_max_cursor(*s.username);
        info.cursors.emplace(dk, start);
        store.stream_cursor_set(StreamCursor{std::string(key), s.username->str(), s.client_id.str(), start});
    }
    StreamReader r;
    r.stream = std::string(key);
    r.id = stream_state.next_reader_id++;
    r.acked = start;
    r.delivered = start;
    r.qos = qos;
    r.subscription_id = sub_id;
    r.as_member = key.starts_with("groups/");
    // A resumed persistent session may still hold entries of this stream in flight or queued
    // (they are resent with it): the reader starts after them.
    auto held = [&](const Delivery& d) {
        if (d.message && d.message->stream_seq && stream_key(d.message->topic) == key)
            r.delivered = std::max(r.delivered, d.message->stream_seq);
    };
    for (const InflightEntry& e : s.inflight) held(e.delivery);
    for (const Delivery& d : s.queue) held(d);
    auto& list = stream_state.readers[s.id];
    if (list.empty()) stream_device_seen(s);  // its first reader on this connection
    list.push_back(std::move(r));
    StreamReader& added = list.back();
    if (added.delivered < info.last_seq) {
        added.replaying = true;
        stream_read_next(s, added);
    }
    return &added;
}

void Broker::Impl::stream_read_next(Session& s, StreamReader& r) {
    if (r.reading) return;
    r.reading = true;
    r.read_upto = stream_state.streams[r.stream].last_seq;
    std::string member = r.as_member ? s.username->str() : std::string();
    store.stream_read(r.stream, r.delivered, replay_page(), std::move(member),
                      [this, alive = std::weak_ptr<char>(life), sid = s.id, rid = r.id](StreamRead result) {
                          if (alive.expired()) return;
                          stream_read_done(sid, rid, std::move(result));
                      });
}

void Broker::Impl::stream_read_done(uint64_t session_id, uint64_t reader_id, StreamRead result) {
    Session* s = session_by_id(session_id);
    if (!s) return;
    auto it = stream_state.readers.find(session_id);
    if (it == stream_state.readers.end()) return;
    auto rit = std::find_if(it->second.begin(), it->second.end(),
                            [reader_id](const StreamReader& r) { return r.id == reader_id; });
    if (rit == it->second.end()) return;  // the device went (and maybe came back) meanwhile
    StreamReader& r = *rit;
    r.reading = false;
    if (!s->client || s->client->state != ClientState::Active) return;
    if (!result.ok) {
        // Tried again at the next ack or tick, not in a loop against a failing disk.
        spdlog::warn("stream {}: replay to {} could not read the store", printable(r.stream),
                     printable(s->client_id));
        if (!r.waiting_room) {
            r.waiting_room = true;
            stream_state.waiting_room++;
        }
        return;
    }
    const size_t page = replay_page();
    uint32_t id = r.subscription_id;
    std::span<const uint32_t> ids;
    if (id) ids = std::span<const uint32_t>(&id, 1);
    StreamInfo& info = stream_state.streams[r.stream];
    const std::vector<uint64_t>* own = nullptr;  // the device's own entries No Local keeps from it
    if (!info.own_unacked.empty())
        if (auto o = info.own_unacked.find(device_key(*s->username, s->client_id)); o != info.own_unacked.end())
            own = &o->second;
    for (auto& [seq, m] : result.entries) {
        if (seq <= r.delivered) continue;
        r.delivered = seq;
        if (!m) continue;  // not for this reader (a group entry from before it joined)
        if (own && std::binary_search(own->begin(), own->end(), seq)) continue;  // passed, as acked
        stream_state.replayed++;
        offer(*s, m, r.qos, false, ids);
    }
    // A short page: the read saw everything appended before it was posted; what is missing up
    // to there was deleted (expired, or acked by every device) and is passed over.
    if (result.entries.size() < page) r.delivered = std::max(r.delivered, r.read_upto);
    if (own) stream_fold_own(*s, r);
    if (r.delivered >= info.last_seq) {
        r.replaying = false;  // caught up: live from the next entry on
        return;
    }
    if (s->queue.size() < page) return stream_read_next(*s, r);
    if (!r.waiting_room) {
        r.waiting_room = true;
        stream_state.waiting_room++;
    }
}

void Broker::Impl::streams_room(Session& s) {
    auto it = stream_state.readers.find(s.id);
    if (it == stream_state.readers.end()) return;
    if (s.queue.size() >= replay_page()) return;
    for (StreamReader& r : it->second) {
        if (!r.waiting_room) continue;
        r.waiting_room = false;
        stream_state.waiting_room--;
        stream_read_next(s, r);
    }
}

void Broker::Impl::streams_tick(uint64_t now) {
    streams_retention(now);
    if (stream_state.waiting_room == 0) return;
    std::vector<uint64_t> ids;
    for (const auto& [sid, list] : stream_state.readers)
        for (const StreamReader& r : list)
            if (r.waiting_room) {
                ids.push_back(sid);
                break;
            }
    for (uint64_t sid : ids)
        if (Session* s = session_by_id(sid); s && s->client && s->client->state == ClientState::Active)
            streams_room(*s);
}

// Is the device of `key` (device_key) connected and reading a stream? (Only asked for devices
// past their expiry, which are rarely connected.)
bool Broker::Impl::device_reading(const std::string& key) const {
    const size_t zero = key.find('\0');
    const Session* s = sessions.find(std::string_view(key).substr(zero + 1));
    return s && s->client && s->username && *s->username == std::string_view(key).substr(0, zero) &&
           stream_state.readers.count(s->id);
}

// Retention (SPEC 5): entries every device with a cursor has passed are deleted (a few
// streams per tick, those whose cursors moved), and expired ones every few seconds.
void Broker::Impl::streams_retention(uint64_t now) {
    auto removed = [this, alive = std::weak_ptr<char>(life)](bool expired) {
        return [this, alive, expired](std::vector<StreamCount> gone) {
            if (alive.expired()) return;
            for (const StreamCount& c : gone) (expired ? stream_state.expired : stream_state.deleted) += c.count;
            streams_removed(gone);
        };
    };
    std::vector<std::string> due;
    due.swap(stream_state.retention_due);
    for (const std::string& key : due) {
        auto it = stream_state.streams.find(key);
        if (it == stream_state.streams.end()) continue;
        StreamInfo& info = it->second;
        info.retention_due = false;
        if (info.cursors.empty()) continue;
        // Devices not seen within streams.device_expiry hold nothing back (a device reading
        // now was seen when its reader opened; the check is against that).
        const uint64_t wall = clock.wall_ms();
        const uint64_t expiry_ms = uint64_t(config.streams_device_expiry) * 1000;
        uint64_t passed = UINT64_MAX;
        for (const auto& [device, seq] : info.cursors) {
            if (expiry_ms) {
                auto seen = stream_state.device_seen.find(device);
                if (seen != stream_state.device_seen.end() && seen->second + expiry_ms < wall && !device_reading(device))
                    continue;
            }
            passed = std::min(passed, seq);
        }
        if (passed == UINT64_MAX || passed <= info.erased_through) continue;
        info.erased_through = passed;
        for (auto o = info.own_unacked.begin(); o != info.own_unacked.end();) {  // deleted: never replayed
            std::erase_if(o->second, [passed](uint64_t seq) { return seq <= passed; });
            o = o->second.empty() ? info.own_unacked.erase(o) : std::next(o);
        }
        store.stream_erase_through(key, passed, removed(false));
    }
    if (now >= stream_state.next_purge_ms) {
        stream_state.next_purge_ms = now + 5000;
        store.stream_purge_expired(removed(true));
    }
}

}  // namespace herald::core
