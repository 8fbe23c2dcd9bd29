// CoreStore's streams (SPEC 5): entries appended and read back as core's messages, cursors.
//
// An entry keeps the message as routed (the broker's `seq` / `ts` user properties included),
// so a replay sends exactly what live delivery sent. Reads run on the writer thread like every
// op, after the appends posted before them: a read posted after an append sees it.
#include "storage/core_store.h"
#include "storage/tables.h"

namespace herald::storage {

core::LoadedStreams CoreStore::streams_load() {
    core::LoadedStreams out;
    out.last_seqs = std::move(streams_.last_seqs);
    out.cursors.reserve(streams_.cursors.size());
    for (CursorRecord& c : streams_.cursors)
        out.cursors.push_back(core::StreamCursor{std::move(c.stream), std::move(c.user), std::move(c.client_id), c.seq});
    for (DeviceRecord& d : streams_.devices)
        out.devices_seen.push_back(core::StreamCursor{{}, std::move(d.user), std::move(d.client_id), d.last_seen_ms});
    for (StreamCount& p : streams_.pending)
        out.pending.push_back(core::StreamCount{std::move(p.stream), std::move(p.sender), p.count, p.bytes});
    streams_ = {};
    return out;
}

void CoreStore::stream_append(const std::string& stream, const core::Message& m, std::string_view sender,
                              uint64_t ts_wall_ms, uint64_t expiry_at_mono_ms) {
    StreamEntryRecord e;
    e.stream = stream;
    e.seq = m.stream_seq;
    e.topic = m.topic;
    e.payload = m.payload ? m.payload : std::make_shared<const std::string>();
    e.qos = m.qos;
    e.props = m.props;
    e.sender = std::string(sender);
    e.ts_ms = ts_wall_ms;
    e.expiry_at_wall_ms = mono_to_wall(expiry_at_mono_ms, clock_);
    store_.write([e = std::move(e)](Db& db) { return streams::append(db, e); });
}

void CoreStore::stream_device_seen(const std::string& user, const std::string& client_id, uint64_t wall_ms) {
    store_.device_seen(DeviceRecord{user, client_id, wall_ms});
}

void CoreStore::stream_cursor_set(const core::StreamCursor& c) {
    store_.write([r = CursorRecord{c.stream, c.user, c.client_id, c.seq}](Db& db) { return streams::cursor_set(db, r); });
}

namespace {

using Counts = std::vector<StreamCount>;

// Hands what a deletion removed to core (nothing when it failed: the store logged it).
ReadDone<Counts> counts_to_core(core::StreamCountsDone done) {
    return [done = std::move(done)](Result<Counts> r) {
        std::vector<core::StreamCount> out;
        if (r.ok())
            for (StreamCount& c : r.value())
                out.push_back(core::StreamCount{std::move(c.stream), std::move(c.sender), c.count, c.bytes});
        done(std::move(out));
    };
}

}  // namespace

void CoreStore::stream_erase_through(const std::string& stream, uint64_t seq, core::StreamCountsDone done) {
    store_.read<Counts>([stream, seq](Db& db) { return streams::erase_through_counted(db, stream, seq); },
                        counts_to_core(std::move(done)));
}

void CoreStore::stream_purge_expired(core::StreamCountsDone done) {
    store_.read<Counts>([now = clock_.wall_ms()](Db& db) { return streams::purge_expired_counted(db, now); },
                        counts_to_core(std::move(done)));
}

void CoreStore::stream_drop_oldest(const std::string& stream, const std::string& sender, core::StreamCountsDone done) {
    store_.read<Counts>([stream, sender](Db& db) { return streams::drop_oldest(db, stream, sender); },
                        counts_to_core(std::move(done)));
}

void CoreStore::stream_read(const std::string& stream, uint64_t after_seq, size_t limit, std::string member,
                            std::function<void(core::StreamRead)> done) {
    using Entries = std::vector<StreamEntryRecord>;
    auto work = [stream, after_seq, limit, member = std::move(member)](Db& db) -> Result<Entries> {
        if (member.empty()) return streams::read(db, stream, after_seq, limit);
        const std::string_view group = std::string_view(stream).substr(stream.find('/') + 1);
        return streams::read_as_member(db, stream, group, member, after_seq, limit);
    };
    store_.read<Entries>(work, [this, done = std::move(done)](Result<Entries> r) {
        core::StreamRead out;
        out.ok = r.ok();
        if (r.ok()) {
            out.entries.reserve(r.value().size());
            for (StreamEntryRecord& e : r.value()) {
                if (e.topic.empty()) {  // not for this reader (read_as_member)
                    out.entries.emplace_back(e.seq, nullptr);
                    continue;
                }
                auto m = std::make_shared<core::Message>();
                m->topic = std::move(e.topic);
                m->payload = e.payload ? std::move(e.payload) : std::make_shared<const std::string>();
                m->qos = e.qos;
                m->props = std::move(e.props);
                m->expiry_at_mono_ms = wall_to_mono(e.expiry_at_wall_ms, clock_);
                m->stream_seq = e.seq;
                out.entries.emplace_back(e.seq, std::move(m));
            }
        }
        done(std::move(out));
    });
}

}  // namespace herald::storage
