// Storage: a message routed to many persistent sessions is one body in stored_messages that
// their rows share; the body goes with its last row however the rows go (erase, clear, a
// session removed, a row replaced), and a version 2 file's rows move to the shared form.
#include <sqlite3.h>

#include "storage/properties_blob.h"
#include "storage/schema.h"
#include "storage/tables.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::storage;
using namespace herald::storage::test;

namespace {

int64_t count(SqliteStore& store, const char* sql) {
    int64_t n = -1;
    REQUIRE(store.exec_now([&](Db& db) {
        Query q = db.query(sql);
        if (q.next()) n = q.i64(0);
        return q.status();
    }).ok());
    return n;
}

int64_t bodies(SqliteStore& store) { return count(store, "SELECT count(*) FROM stored_messages"); }

session_messages::Row row(std::string client_id, uint64_t seq, std::vector<uint32_t> ids = {}) {
    return session_messages::Row{std::move(client_id), seq, MessageState::Queued, 0, 1, false, std::move(ids)};
}

template <class T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), r.error());
    return std::move(r.value());
}

// Version 2 exactly as heraldd wrote it before migration 3 (frozen: never edit): the tables
// of version 1 and migration 2's indexes.
constexpr const char* kV2Schema = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (2);
CREATE TABLE users (name TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')), created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE contacts (user_a TEXT NOT NULL, user_b TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (user_a, user_b), CHECK (user_a < user_b)) WITHOUT ROWID;
CREATE TABLE groups (name TEXT PRIMARY KEY NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE group_members (group_name TEXT NOT NULL, user TEXT NOT NULL, joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, user)) WITHOUT ROWID;
CREATE TABLE bans (user TEXT PRIMARY KEY NOT NULL, until_ms INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE devices (user TEXT NOT NULL, client_id TEXT NOT NULL, last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (user, client_id)) WITHOUT ROWID;
CREATE TABLE retained (topic TEXT PRIMARY KEY NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,
    properties BLOB, expiry_at_wall_ms INTEGER NOT NULL);
CREATE TABLE sessions (client_id TEXT PRIMARY KEY NOT NULL, username TEXT, expiry_interval INTEGER NOT NULL,
    disconnected_at_wall_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE session_subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, options INTEGER NOT NULL,
    subscription_id INTEGER NOT NULL, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
CREATE TABLE session_messages (client_id TEXT NOT NULL, seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'inflight_publish', 'inflight_pubrel')),
    packet_id INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,
    retain INTEGER NOT NULL, properties BLOB, expiry_at_wall_ms INTEGER NOT NULL, PRIMARY KEY (client_id, seq));
CREATE TABLE stream_entries (stream TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, qos INTEGER NOT NULL, properties BLOB, sender TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    expiry_at_wall_ms INTEGER NOT NULL, PRIMARY KEY (stream, seq));
CREATE TABLE cursors (stream TEXT NOT NULL, user TEXT NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (stream, user, client_id)) WITHOUT ROWID;
CREATE TABLE presence (user TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
    status TEXT NOT NULL, text TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX contacts_by_b ON contacts (user_b, user_a);
CREATE INDEX group_members_by_user ON group_members (user, group_name);
CREATE INDEX stream_entries_by_expiry ON stream_entries (expiry_at_wall_ms) WHERE expiry_at_wall_ms > 0;
CREATE INDEX bans_by_until ON bans (until_ms);
INSERT INTO sessions VALUES ('phone-1', 'alice', 3600, 0);
INSERT INTO sessions VALUES ('phone-2', 'alice', 3600, 0);
INSERT INTO session_messages VALUES ('phone-1', 1, 'inflight_pubrel', 5, 'a/1', X'6f6e65', 2, 1, NULL, 0);
INSERT INTO session_messages VALUES ('phone-2', 1, 'queued', 0, 'a/1', X'6f6e65', 1, 0, NULL, 0);
)sql";

}  // namespace

TEST_CASE("storage bodies: one body for the rows of a routed message, gone with its last row") {
    TempDir dir;
    auto store = open_store(dir.db());
    mqtt::Properties props;
    props.content_type = "text/plain";
    props.subscription_identifiers = {99};  // a delivery's, never the body's
    SessionMessageRecord m{0, MessageState::Queued, 0, "chat/room", payload("hello"), 1, false, props, kNow + 60'000};
    std::vector<session_messages::Row> rows;
    for (int i = 0; i < 10; ++i)
        rows.push_back(row("s" + std::to_string(i), uint64_t(i + 1), i == 3 ? std::vector<uint32_t>{4, 70000} : std::vector<uint32_t>{}));
    REQUIRE(store->exec_now([&](Db& db) { return session_messages::put_shared(db, m, rows); }).ok());
    CHECK(bodies(*store) == 1);
    CHECK(count(*store, "SELECT refs FROM stored_messages") == 10);
    CHECK(count(*store, "SELECT count(*) FROM session_messages") == 10);

    REQUIRE(store->exec_now([&](Db& db) {
        auto three = ok(session_messages::load(db, "s3"));
        REQUIRE(three.size() == 1);
        CHECK(three[0].topic == "chat/room");
        CHECK(*three[0].payload == "hello");
        CHECK(three[0].props.content_type == std::optional<std::string>("text/plain"));
        CHECK(three[0].props.subscription_identifiers == std::vector<uint32_t>{4, 70000});
        CHECK(three[0].expiry_at_wall_ms == kNow + 60'000);
        auto four = ok(session_messages::load(db, "s4"));
        REQUIRE(four.size() == 1);
        CHECK(four[0].props.subscription_identifiers.empty());

        CHECK(session_messages::erase(db, "s0", 1).ok());
        CHECK(session_messages::erase(db, "s1", 1).ok());  // not s1's seq: nothing
        CHECK(session_messages::clear(db, "s1").ok());
        CHECK(sessions::remove(db, "s2").ok());
        // A row put again under its seq holds its new body and gives the old one back.
        CHECK(session_messages::put(db, "s3", {4, MessageState::Queued, 0, "other", payload("x"), 1, false, {}, 0}).ok());
        return Status{};
    }).ok());
    CHECK(bodies(*store) == 1);  // "other" is in its row
    CHECK(count(*store, "SELECT refs FROM stored_messages WHERE topic = 'chat/room'") == 6);
    REQUIRE(store->exec_now([&](Db& db) {
        for (int i = 4; i < 10; ++i) CHECK(session_messages::erase(db, "s" + std::to_string(i), uint64_t(i + 1)).ok());
        return Status{};
    }).ok());
    CHECK(bodies(*store) == 0);
    REQUIRE(store->exec_now([&](Db& db) {
        auto three = ok(session_messages::load(db, "s3"));
        REQUIRE(three.size() == 1);
        CHECK(three[0].topic == "other");
        return session_messages::erase(db, "s3", 4);
    }).ok());
    CHECK(count(*store, "SELECT count(*) FROM session_messages") == 0);
}

TEST_CASE("storage bodies: the same row twice in one put counts once; expired sessions take their bodies") {
    TempDir dir;
    auto store = open_store(dir.db());
    SessionMessageRecord m{0, MessageState::Queued, 0, "t", payload("p"), 1, false, {}, 0};
    std::vector<session_messages::Row> rows{row("a", 1), row("a", 1), row("b", 2)};
    REQUIRE(store->exec_now([&](Db& db) {
        CHECK(sessions::save(db, {"a", "u", 60, kNow - 61'000}).ok());  // expired
        CHECK(sessions::save(db, {"b", "u", 3600, kNow}).ok());
        return session_messages::put_shared(db, m, rows);
    }).ok());
    CHECK(count(*store, "SELECT refs FROM stored_messages") == 2);
    store.reset();
    store = open_store(dir.db());  // purges "a"
    CHECK(count(*store, "SELECT refs FROM stored_messages") == 1);
    REQUIRE(store->exec_now([&](Db& db) { return sessions::remove(db, "b"); }).ok());
    CHECK(bodies(*store) == 0);
}

TEST_CASE("storage bodies: a version 2 file's messages move to bodies (3), then get unique seqs (4), ids kept") {
    TempDir dir;
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
        char* err = nullptr;
        int rc = sqlite3_exec(db, kV2Schema, nullptr, nullptr, &err);
        std::string msg = err != nullptr ? err : "";
        sqlite3_free(err);
        CHECK_MESSAGE(rc == SQLITE_OK, msg);
        // A row whose properties blob holds its delivery's subscription identifiers, as version 2 wrote.
        mqtt::Properties props;
        props.subscription_identifiers = {7};
        props.correlation_data = "corr";
        std::string blob;
        encode_properties_blob(props, blob);
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db,
                                   "INSERT INTO session_messages VALUES ('phone-1', 2, 'queued', 0, 'a/2', X'74776f', 1, 0, "
                                   "?1, 0)",
                                   -1, &st, nullptr) == SQLITE_OK);
        sqlite3_bind_blob(st, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE_MESSAGE(opened.ok(), opened.error());
    SqliteStore& store = *opened.value().store;
    CHECK(count(store, "SELECT max(version) FROM schema_version") == kSchemaVersion);
    CHECK(bodies(store) == 3);  // one per old row
    auto& ss = opened.value().state.sessions;
    REQUIRE(ss.size() == 2);
    REQUIRE(ss[0].messages.size() == 2);
    CHECK(ss[0].messages[0].state == MessageState::InflightPubrel);
    CHECK(ss[0].messages[0].packet_id == 5);
    CHECK(ss[0].messages[0].qos == 2);
    CHECK(ss[0].messages[0].retain);
    CHECK(*ss[0].messages[0].payload == "one");
    CHECK(ss[0].messages[1].topic == "a/2");
    CHECK(*ss[0].messages[1].payload == "two");
    CHECK(ss[0].messages[1].props.subscription_identifiers == std::vector<uint32_t>{7});
    CHECK(ss[0].messages[1].props.correlation_data == std::optional<std::string>("corr"));
    REQUIRE(ss[1].messages.size() == 1);
    CHECK(ss[1].messages[0].topic == "a/1");
    // Migration 4 numbered the rows anew, in (seq, client id) order: unique, each session's in order.
    CHECK(ss[0].messages[0].seq == 1);
    CHECK(ss[1].messages[0].seq == 2);
    CHECK(ss[0].messages[1].seq == 3);
    // The triggers work on migrated rows too.
    REQUIRE(store.exec_now([](Db& db) { return sessions::remove(db, "phone-1"); }).ok());
    CHECK(bodies(store) == 1);
}

TEST_CASE("storage bodies: sessions loaded at start share the payload of one body") {
    TempDir dir;
    auto store = open_store(dir.db());
    SessionMessageRecord m{0, MessageState::Queued, 0, "t", payload("shared"), 1, false, {}, 0};
    std::vector<session_messages::Row> rows{row("a", 1), row("b", 7)};
    REQUIRE(store->exec_now([&](Db& db) {
        CHECK(sessions::save(db, {"a", "u", 3600, kNow}).ok());
        CHECK(sessions::save(db, {"b", "u", 3600, kNow}).ok());
        return session_messages::put_shared(db, m, rows);
    }).ok());
    store.reset();
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE(opened.ok());
    auto& ss = opened.value().state.sessions;
    REQUIRE(ss.size() == 2);
    REQUIRE(ss[0].messages.size() == 1);
    REQUIRE(ss[1].messages.size() == 1);
    CHECK(ss[1].messages[0].seq == 7);
    CHECK(*ss[0].messages[0].payload == "shared");
    CHECK(ss[0].messages[0].payload == ss[1].messages[0].payload);  // one copy in memory
}
