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
    streams_ = {};
    return out;
}

void CoreStore::stream_append(const std::string& stream, const core::Message& m, std::string_view sender,
                              uint64_t ts_wall_ms) {
    StreamEntryRecord e;
    e.stream = stream;
    e.seq = m.stream_seq;
    e.topic = m.topic;
    e.payload = m.payload ? m.payload : std::make_shared<const std::string>();
    e.qos = m.qos;
    e.props = m.props;
    e.sender = std::string(sender);
    e.ts_ms = ts_wall_ms;
    e.expiry_at_wall_ms = mono_to_wall(m.expiry_at_mono_ms, clock_);
    store_.write([e = std::move(e)](Db& db) { return streams::append(db, e); });
}

void CoreStore::stream_cursor_set(const core::StreamCursor& c) {
    store_.write([r = CursorRecord{c.stream, c.user, c.client_id, c.seq}](Db& db) { return streams::cursor_set(db, r); });
}

void CoreStore::stream_erase_through(const std::string& stream, uint64_t seq) {
    store_.write([stream, seq](Db& db) { return streams::erase_through(db, stream, seq); });
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
