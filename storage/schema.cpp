// Migrations 1..kSchemaVersion. Each is SQL run once, in order, inside the opening transaction.
//
// Tables that hold payloads (retained, stored_messages, session_messages, stream_entries) keep their rowid:
// SQLite's WITHOUT ROWID suits small rows only. Booleans and enums are stored as integers or
// as the short texts of records.cpp.
#include "storage/schema.h"

#include <string>

namespace herald::storage {
namespace {

// Migration 1: every table of the first release.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE users (
    name TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- a symmetric pair stored once, in canonical order (user_a < user_b)
CREATE TABLE contacts (
    user_a TEXT NOT NULL,
    user_b TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_a, user_b),
    CHECK (user_a < user_b)
) WITHOUT ROWID;
CREATE TABLE groups (
    name TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_members (
    group_name TEXT NOT NULL,
    user TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, user)
) WITHOUT ROWID;
CREATE TABLE bans (
    user TEXT PRIMARY KEY NOT NULL,
    until_ms INTEGER NOT NULL,
    reason TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE devices (
    user TEXT NOT NULL,
    client_id TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (user, client_id)
) WITHOUT ROWID;
CREATE TABLE retained (
    topic TEXT PRIMARY KEY NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    properties BLOB,
    expiry_at_wall_ms INTEGER NOT NULL
);
CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY NOT NULL,
    username TEXT,
    expiry_interval INTEGER NOT NULL,
    disconnected_at_wall_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE session_subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    options INTEGER NOT NULL,
    subscription_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;
CREATE TABLE session_messages (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'inflight_publish', 'inflight_pubrel')),
    packet_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    properties BLOB,
    expiry_at_wall_ms INTEGER NOT NULL,
    PRIMARY KEY (client_id, seq)
);
CREATE TABLE stream_entries (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    properties BLOB,
    sender TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    expiry_at_wall_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, seq)
);
CREATE TABLE cursors (
    stream TEXT NOT NULL,
    user TEXT NOT NULL,
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (stream, user, client_id)
) WITHOUT ROWID;
CREATE TABLE presence (
    user TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    text TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Migration 2: indexes for the lookups by the second column: a user's contacts where the
// user is user_b, the groups of a user (group co-members for presence visibility), and
// expired stream entries and bans.
constexpr const char* kMigration2 = R"sql(
CREATE INDEX contacts_by_b ON contacts (user_b, user_a);
CREATE INDEX group_members_by_user ON group_members (user, group_name);
CREATE INDEX stream_entries_by_expiry ON stream_entries (expiry_at_wall_ms) WHERE expiry_at_wall_ms > 0;
CREATE INDEX bans_by_until ON bans (until_ms);
)sql";

// Migration 3: a message routed to many persistent sessions is stored once. Its body (topic,
// payload, properties, expiry) goes to stored_messages; each session's row keeps only its own
// fields and the body's id. `refs` counts the rows that name a body: the writer sets it when it
// inserts the body with all its rows, and the trigger takes one off for each row deleted (by
// any DELETE), deleting the body at zero. A row put again under its seq is deleted and
// inserted again (session_messages.cpp): no UPDATE trigger, which would cost every upsert an
// ephemeral table per row. A count costs one small UPDATE per row erased; a NOT
// EXISTS sweep would need an index on body_id, paid on every insert, which is the hot side
// (offline sessions piling up).
//
// Old rows move over one body each, under their old rowid, with their whole properties blob
// (subscription identifiers included: the new rows' own subscription_ids stay NULL, and loading
// appends a row's ids to its body's, one of which is always empty). Session rows are small now,
// so the table becomes WITHOUT ROWID: one b-tree per insert instead of a table and its key index.
// Its CHECK compares with OR, not IN: SQLite builds an ephemeral table for an IN list of three
// on every insert (a temporary pager, opened and zeroed per row).
constexpr const char* kMigration3 = R"sql(
CREATE TABLE stored_messages (
    id INTEGER PRIMARY KEY,
    refs INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    properties BLOB,
    expiry_at_wall_ms INTEGER NOT NULL
);
INSERT INTO stored_messages (id, refs, topic, payload, properties, expiry_at_wall_ms)
    SELECT rowid, 1, topic, payload, properties, expiry_at_wall_ms FROM session_messages;
CREATE TABLE session_messages_v3 (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state = 'queued' OR state = 'inflight_publish' OR state = 'inflight_pubrel'),
    packet_id INTEGER NOT NULL,
    body_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    subscription_ids BLOB,
    PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
INSERT INTO session_messages_v3 (client_id, seq, state, packet_id, body_id, qos, retain, subscription_ids)
    SELECT client_id, seq, state, packet_id, rowid, qos, retain, NULL FROM session_messages;
DROP TABLE session_messages;
ALTER TABLE session_messages_v3 RENAME TO session_messages;
CREATE TRIGGER session_messages_release AFTER DELETE ON session_messages BEGIN
    UPDATE stored_messages SET refs = refs - 1 WHERE id = OLD.body_id;
    DELETE FROM stored_messages WHERE id = OLD.body_id AND refs <= 0;
END;
)sql";

// Migration 4: session rows go in where the last one went. Keyed by (client id, seq), the rows
// of many sessions queued at once land on as many b-tree pages, and each commit wrote every one
// of them whole to the WAL (4 KB for a 60-byte row: 45 times the data, and as much again at
// each checkpoint). Keyed by seq alone (core's one counter, increasing across all sessions)
// every insert appends to the last page. A session's rows are found by a scan, which only the
// start (one pass for all sessions) and tests do: the broker erases a session's messages by
// seq, as it knows them (core/persist.cpp). No index by client id either: it would scatter again.
// A message for one session keeps its body in its own row (body_id NULL: one insert, no
// trigger); one routed to many keeps a shared body in stored_messages as in version 3. Old rows
// are numbered anew in (seq, client id) order, which keeps each session's order and makes seqs
// unique (version 3 allowed the same seq in two sessions); their bodies stay where they are.
constexpr const char* kMigration4 = R"sql(
CREATE TABLE session_messages_v4 (
    seq INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state = 'queued' OR state = 'inflight_publish' OR state = 'inflight_pubrel'),
    packet_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    subscription_ids BLOB,
    body_id INTEGER,
    topic TEXT,
    payload BLOB,
    properties BLOB,
    expiry_at_wall_ms INTEGER NOT NULL
);
INSERT INTO session_messages_v4 (seq, client_id, state, packet_id, qos, retain, subscription_ids, body_id,
                                 topic, payload, properties, expiry_at_wall_ms)
    SELECT row_number() OVER (ORDER BY seq, client_id), client_id, state, packet_id, qos, retain,
           subscription_ids, body_id, NULL, NULL, NULL, 0 FROM session_messages;
DROP TABLE session_messages;
ALTER TABLE session_messages_v4 RENAME TO session_messages;
CREATE TRIGGER session_messages_release AFTER DELETE ON session_messages WHEN OLD.body_id IS NOT NULL BEGIN
    UPDATE stored_messages SET refs = refs - 1 WHERE id = OLD.body_id;
    DELETE FROM stored_messages WHERE id = OLD.body_id AND refs <= 0;
END;
)sql";

constexpr const char* kMigrations[] = {kMigration1, kMigration2, kMigration3, kMigration4};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

}  // namespace

Result<int> schema_version(Db& db) {
    Query exists = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
    bool has_table = exists.next();
    if (!exists.status().ok()) return exists.status();
    if (!has_table) return 0;
    Query q = db.query("SELECT max(version) FROM schema_version");
    int version = q.next() ? static_cast<int>(q.i64(0)) : 0;
    if (!q.status().ok()) return q.status();
    return version;
}

Status migrate(Db& db) {
    // IMMEDIATE: take the write lock before reading the version, so that two processes opening
    // one file cannot both run a migration.
    if (Status s = db.exec("BEGIN IMMEDIATE"); !s) return s;
    auto fail = [&db](Status s) {
        db.exec("ROLLBACK");
        return s;
    };
    Result<int> version = schema_version(db);
    if (!version) return fail(version.status());
    int from = version.value();
    if (from > kSchemaVersion)
        return fail(Status::db_error("it was written by a newer heraldd (schema version " + std::to_string(from) +
                                     "; this heraldd knows up to " + std::to_string(kSchemaVersion) + ")"));
    if (from == kSchemaVersion) return db.exec("COMMIT");
    if (from == 0) {
        if (Status s = db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)"); !s) return fail(s);
    }
    for (int v = from + 1; v <= kSchemaVersion; ++v) {
        if (Status s = db.exec(kMigrations[v - 1]); !s)
            return fail(Status::db_error("migration " + std::to_string(v) + " failed: " + s.message()));
    }
    if (Status s = db.exec("DELETE FROM schema_version"); !s) return fail(s);
    Query q = db.query("INSERT INTO schema_version (version) VALUES (?1)");
    if (Status s = q.bind(1, kSchemaVersion).run(); !s) return fail(s);
    if (Status s = db.exec("COMMIT"); !s) return fail(s);
    return {};
}

}  // namespace herald::storage
