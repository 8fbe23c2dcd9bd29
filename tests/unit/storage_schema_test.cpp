// Storage: opening, WAL and durability settings, numbered migrations (fresh, from a v1 file
// written by hand, a newer schema refused), bad files refused with a clear error, and the
// properties blob format.
#include <fstream>

#include <sqlite3.h>

#include "storage/properties_blob.h"
#include "storage/schema.h"
#include "storage/tables.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// Runs raw SQL on a file with the SQLite C API, as an older heraldd (or a person) would.
void raw_exec(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    std::string msg = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE_MESSAGE(rc == SQLITE_OK, msg);
}

// Reads one text or integer value with a query on a store's connection.
std::string one_value(SqliteStore& store, const char* sql) {
    std::string out;
    REQUIRE(store.exec_now([&](Db& db) {
        Query q = db.query(sql);
        if (q.next()) out = q.text(0);
        return q.status();
    }).ok());
    return out;
}

// The schema of version 1 exactly as the first release wrote it (frozen: never edit).
constexpr const char* kV1Schema = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
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
INSERT INTO users VALUES ('alice', '$argon2id$v=19$x', 'admin', 1700000000000);
INSERT INTO group_members VALUES ('devs', 'alice', 1700000000001);
INSERT INTO groups VALUES ('devs', 1700000000001);
INSERT INTO retained VALUES ('news/today', X'68656c6c6f', 1, NULL, 0);
INSERT INTO sessions VALUES ('phone-1', 'alice', 3600, 0);
INSERT INTO session_subscriptions VALUES ('phone-1', 'users/alice/#', 1, 7);
)sql";

}  // namespace

TEST_CASE("storage: a fresh file gets the whole schema, in WAL mode") {
    TempDir dir;
    auto store = open_store(dir.path() + "/sub/dir/herald.db");  // directories are created
    CHECK(one_value(*store, "PRAGMA journal_mode") == "wal");
    CHECK(one_value(*store, "PRAGMA synchronous") == "1");  // NORMAL
    CHECK(one_value(*store, "SELECT version FROM schema_version") == std::to_string(kSchemaVersion));
    for (const char* table : {"users", "contacts", "groups", "group_members", "bans", "devices", "retained",
                              "sessions", "session_subscriptions", "session_messages", "stored_messages", "stream_entries", "cursors",
                              "presence"}) {
        CAPTURE(table);
        std::string n;
        REQUIRE(store->exec_now([&](Db& db) {
            Query q = db.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
            if (q.bind(1, table).next()) n = q.text(0);
            return q.status();
        }).ok());
        CHECK(n == "1");
    }
}

TEST_CASE("storage: durability power means synchronous=FULL") {
    TempDir dir;
    auto store = open_store(dir.db(), Durability::Power);
    CHECK(one_value(*store, "PRAGMA synchronous") == "2");
}

TEST_CASE("storage: reopening a current file runs no migration and keeps the data") {
    TempDir dir;
    {
        auto store = open_store(dir.db());
        REQUIRE(store->exec_now([](Db& db) { return users::create(db, {"bob", "h", Role::User, 5}); }).ok());
    }
    auto store = open_store(dir.db());
    CHECK(one_value(*store, "SELECT count(*) FROM schema_version") == "1");
    CHECK(one_value(*store, "SELECT name FROM users") == "bob");
}

TEST_CASE("storage: a version 1 file written by hand is upgraded in place, data kept") {
    TempDir dir;
    raw_exec(dir.db(), kV1Schema);
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE_MESSAGE(opened.ok(), opened.error());
    SqliteStore& store = *opened.value().store;
    CHECK(one_value(store, "SELECT version FROM schema_version") == std::to_string(kSchemaVersion));
    // Migration 2's indexes are there.
    CHECK(one_value(store, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                           "('contacts_by_b', 'group_members_by_user', 'stream_entries_by_expiry', 'bans_by_until')") ==
          "4");
    // The rows written by the old version read back through the new code.
    auto& state = opened.value().state;
    REQUIRE(state.retained.size() == 1);
    CHECK(state.retained[0].topic == "news/today");
    CHECK(*state.retained[0].payload == "hello");
    REQUIRE(state.sessions.size() == 1);
    CHECK(state.sessions[0].session.username == std::optional<std::string>("alice"));
    REQUIRE(state.sessions[0].subscriptions.size() == 1);
    CHECK(state.sessions[0].subscriptions[0].subscription_id == 7);
    REQUIRE(store.exec_now([](Db& db) {
        auto u = users::get(db, "alice");
        REQUIRE(u.ok());
        REQUIRE(u.value().has_value());
        CHECK(u.value()->role == Role::Admin);
        auto g = groups::of_user(db, "alice");
        REQUIRE(g.ok());
        CHECK(g.value() == std::vector<std::string>{"devs"});
        return Status{};
    }).ok());
}

TEST_CASE("storage: a file from a newer heraldd is refused and left untouched") {
    TempDir dir;
    { auto store = open_store(dir.db()); }
    raw_exec(dir.db(), "UPDATE schema_version SET version = 99; CREATE TABLE future_things (x)");
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().find("cannot open " + dir.db() + ": ") == 0);
    CHECK(opened.error().find("newer heraldd") != std::string::npos);
    CHECK(opened.error().find("99") != std::string::npos);
    raw_exec(dir.db(), "SELECT * FROM future_things");  // still there
}

TEST_CASE("storage: a file that is not a database is refused with a clear error") {
    TempDir dir;
    {
        std::ofstream f(dir.db());
        f << std::string(8192, 'x');
    }
    auto opened = SqliteStore::open(dir.db(), Durability::Process, kNow);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().find("cannot open " + dir.db() + ": ") == 0);
    CHECK(opened.error().find("not a database") != std::string::npos);
}

TEST_CASE("storage: a data directory that cannot be created is a clear error") {
    TempDir dir;
    { std::ofstream f(dir.path() + "/plainfile"); }
    std::string path = dir.path() + "/plainfile/herald.db";
    auto opened = SqliteStore::open(path, Durability::Process, kNow);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().find("cannot open " + path + ": ") == 0);
}

TEST_CASE("storage: the properties blob keeps the persisted properties and drops the others") {
    mqtt::Properties p;
    p.payload_format_indicator = 1;
    p.content_type = "text/plain";
    p.response_topic = "reply/here";
    p.correlation_data = std::string("\x00\x01\xff", 3);
    p.subscription_identifiers = {1, 300, 268435455};
    p.user_properties = {{"k", "v"}, {"k", "v2"}, {"", ""}};
    mqtt::Properties dropped = p;
    dropped.message_expiry_interval = 60;  // stored as an absolute time elsewhere
    dropped.topic_alias = 3;               // never outlives a connection
    std::string blob;
    encode_properties_blob(dropped, blob);
    // The MQTT 5 encoding: 0x01 byte first, 0x03 length-prefixed string next.
    CHECK(blob.substr(0, 2) == std::string("\x01\x01", 2));
    CHECK(blob.substr(2, 3) == std::string("\x03\x00\x0a", 3));
    mqtt::Properties back;
    REQUIRE(decode_properties_blob(blob, back));
    CHECK(back == p);

    std::string none;
    encode_properties_blob(mqtt::Properties{}, none);
    CHECK(none.empty());
    mqtt::Properties bad;
    CHECK_FALSE(decode_properties_blob(std::string("\x03\x00\x09" "abc", 6), bad));  // truncated
    CHECK_FALSE(decode_properties_blob(std::string("\x23\x00\x01", 3), bad));         // topic alias: not persisted
}
