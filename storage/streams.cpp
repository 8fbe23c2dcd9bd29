// The stream_entries and cursors tables (SPEC 5): each user's and group's ordered log of
// messages, and how far each device has acknowledged it.
#include "storage/row_codec.h"
#include "storage/tables.h"

namespace herald::storage::streams {

Status append(Db& db, const StreamEntryRecord& e) {
    thread_local std::string props;
    Query q = db.query(
        "INSERT INTO stream_entries (stream, seq, topic, payload, qos, properties, sender, ts_ms, expiry_at_wall_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (stream, seq) DO NOTHING");
    q.bind(1, e.stream).bind(2, e.seq).bind(3, e.topic).bind_blob(4, detail::payload_view(e.payload)).bind(5, int{e.qos});
    detail::bind_props(q, 6, e.props, props);
    if (Status s = q.bind(7, e.sender).bind(8, e.ts_ms).bind(9, e.expiry_at_wall_ms).run(); !s) return s;
    if (db.changes() == 0)
        return Status::error(Code::Exists,
                             "stream '" + e.stream + "' already has an entry " + std::to_string(e.seq));
    return {};
}

Result<std::vector<StreamEntryRecord>> read(Db& db, std::string_view stream, uint64_t after_seq, size_t limit) {
    Query q = db.query(
        "SELECT stream, seq, topic, payload, qos, properties, sender, ts_ms, expiry_at_wall_ms FROM stream_entries "
        "WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    q.bind(1, stream).bind(2, after_seq).bind(3, static_cast<int64_t>(limit));
    std::vector<StreamEntryRecord> out;
    while (q.next()) {
        StreamEntryRecord e;
        e.stream = q.text(0);
        e.seq = q.u64(1);
        e.topic = q.text(2);
        e.payload = detail::column_payload(q, 3);
        e.qos = static_cast<uint8_t>(q.i64(4));
        e.props = detail::column_props(q, 5);
        e.sender = q.text(6);
        e.ts_ms = q.u64(7);
        e.expiry_at_wall_ms = q.u64(8);
        out.push_back(std::move(e));
    }
    if (!q.status()) return q.status();
    return out;
}

Result<uint64_t> last_seq(Db& db, std::string_view stream) {
    Query q = db.query("SELECT max(seq) FROM stream_entries WHERE stream = ?1");
    uint64_t seq = q.bind(1, stream).next() ? q.u64(0) : 0;  // max() of no rows is NULL: 0
    if (!q.status()) return q.status();
    return seq;
}

Status erase_through(Db& db, std::string_view stream, uint64_t seq) {
    return db.query("DELETE FROM stream_entries WHERE stream = ?1 AND seq <= ?2").bind(1, stream).bind(2, seq).run();
}

Status purge_expired(Db& db, uint64_t now_ms) {
    return db.query("DELETE FROM stream_entries WHERE expiry_at_wall_ms > 0 AND expiry_at_wall_ms <= ?1")
        .bind(1, now_ms)
        .run();
}

Status cursor_set(Db& db, const CursorRecord& c) {
    Query q = db.query(
        "INSERT INTO cursors (stream, user, client_id, seq) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (stream, user, client_id) DO UPDATE SET seq = excluded.seq");
    return q.bind(1, c.stream).bind(2, c.user).bind(3, c.client_id).bind(4, c.seq).run();
}

Result<std::optional<uint64_t>> cursor_get(Db& db, std::string_view stream, std::string_view user,
                                           std::string_view client_id) {
    Query q = db.query("SELECT seq FROM cursors WHERE stream = ?1 AND user = ?2 AND client_id = ?3");
    std::optional<uint64_t> out;
    if (q.bind(1, stream).bind(2, user).bind(3, client_id).next()) out = q.u64(0);
    if (!q.status()) return q.status();
    return out;
}

Result<std::vector<CursorRecord>> cursors_of(Db& db, std::string_view stream) {
    Query q = db.query("SELECT stream, user, client_id, seq FROM cursors WHERE stream = ?1 ORDER BY user, client_id");
    q.bind(1, stream);
    std::vector<CursorRecord> out;
    while (q.next()) out.push_back(CursorRecord{q.text(0), q.text(1), q.text(2), q.u64(3)});
    if (!q.status()) return q.status();
    return out;
}

}  // namespace herald::storage::streams

namespace herald::storage::streams {

Result<std::vector<StreamEntryRecord>> read_as_member(Db& db, std::string_view stream, std::string_view group,
                                                      std::string_view member, uint64_t after_seq, size_t limit) {
    Query j = db.query("SELECT joined_at FROM group_members WHERE group_name = ?1 AND user = ?2");
    if (!j.bind(1, group).bind(2, member).next()) {
        if (!j.status()) return j.status();
        return std::vector<StreamEntryRecord>{};
    }
    const uint64_t joined_at = j.u64(0);
    auto r = read(db, stream, after_seq, limit);
    if (!r) return r;
    std::vector<StreamEntryRecord>& entries = r.value();
    // Entries before the join are skipped; the last one read still tells the reader how far
    // this read went (its seq), so it keeps its place: mark them with an empty topic.
    for (StreamEntryRecord& e : entries)
        if (e.ts_ms < joined_at) e.topic.clear();
    return r;
}

Result<StreamsStart> load_state(Db& db) {
    StreamsStart out;
    Query q = db.query(
        "SELECT stream, max(seq) FROM (SELECT stream, seq FROM stream_entries "
        "UNION ALL SELECT stream, seq FROM cursors) GROUP BY stream");
    while (q.next()) out.last_seqs.emplace_back(q.text(0), q.u64(1));
    if (!q.status()) return q.status();
    Query c = db.query("SELECT stream, user, client_id, seq FROM cursors");
    while (c.next()) out.cursors.push_back(CursorRecord{c.text(0), c.text(1), c.text(2), c.u64(3)});
    if (!c.status()) return c.status();
    Query p = db.query(
        "SELECT stream, sender, count(*), sum(length(payload)) FROM stream_entries GROUP BY stream, sender");
    while (p.next()) out.pending.push_back(StreamCount{p.text(0), p.text(1), p.u64(2), p.u64(3)});
    if (!p.status()) return p.status();
    Query d = db.query("SELECT user, client_id, last_seen_ms FROM devices");
    while (d.next()) out.devices.push_back(DeviceRecord{d.text(0), d.text(1), d.u64(2)});
    if (!d.status()) return d.status();
    return out;
}

namespace {

#define HERALD_COUNT_SQL(where) \
    "SELECT stream, sender, count(*), sum(length(payload)) FROM stream_entries WHERE " where " GROUP BY stream, sender"
#define HERALD_DELETE_SQL(where) "DELETE FROM stream_entries WHERE " where

// Counts what a WHERE clause selects (per stream, sender), then deletes it: `count_sql` and
// `delete_sql` are the two statements (literals: the statement cache is keyed by address),
// both bound by `bind`.
template <class Bind>
Result<std::vector<StreamCount>> delete_counted(Db& db, const char* count_sql, const char* delete_sql, Bind bind) {
    std::vector<StreamCount> out;
    Query q = db.query(count_sql);
    bind(q);
    while (q.next()) out.push_back(StreamCount{q.text(0), q.text(1), q.u64(2), q.u64(3)});
    if (!q.status()) return q.status();
    if (out.empty()) return out;
    Query d = db.query(delete_sql);
    bind(d);
    if (Status s = d.run(); !s) return s;
    return out;
}

}  // namespace

Result<std::vector<StreamCount>> erase_through_counted(Db& db, std::string_view stream, uint64_t seq) {
    return delete_counted(db, HERALD_COUNT_SQL("stream = ?1 AND seq <= ?2"), HERALD_DELETE_SQL("stream = ?1 AND seq <= ?2"),
                          [&](Query& q) { q.bind(1, stream).bind(2, seq); });
}

Result<std::vector<StreamCount>> purge_expired_counted(Db& db, uint64_t now_ms) {
    return delete_counted(db, HERALD_COUNT_SQL("expiry_at_wall_ms > 0 AND expiry_at_wall_ms <= ?1"),
                          HERALD_DELETE_SQL("expiry_at_wall_ms > 0 AND expiry_at_wall_ms <= ?1"),
                          [&](Query& q) { q.bind(1, now_ms); });
}

Result<std::vector<StreamCount>> drop_oldest(Db& db, std::string_view stream, std::string_view sender) {
    Query q = sender.empty() ? db.query("SELECT min(seq) FROM stream_entries WHERE stream = ?1")
                             : db.query("SELECT min(seq) FROM stream_entries WHERE stream = ?1 AND sender = ?2");
    q.bind(1, stream);
    if (!sender.empty()) q.bind(2, sender);
    if (!q.next() || q.is_null(0)) {
        if (!q.status()) return q.status();
        return std::vector<StreamCount>{};
    }
    const uint64_t seq = q.u64(0);
    return delete_counted(db, HERALD_COUNT_SQL("stream = ?1 AND seq = ?2"), HERALD_DELETE_SQL("stream = ?1 AND seq = ?2"),
                          [&](Query& d) { d.bind(1, stream).bind(2, seq); });
}

#undef HERALD_COUNT_SQL
#undef HERALD_DELETE_SQL

}  // namespace herald::storage::streams
