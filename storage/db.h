// One SQLite connection with its prepared statements: the thin layer every table file uses.
//
// Statements are prepared once per connection and reused: Db::query() keys its cache by the
// address of the SQL text, which is why callers pass string literals (static storage) only.
// A Query resets its statement when it goes out of scope, so a statement is never left
// mid-step holding a read lock. Text and blobs are bound without copying (SQLITE_STATIC): what
// a caller binds must outlive the Query's last step().
//
// A Db belongs to one thread at a time: the thread that opened it until the writer thread
// starts, then the writer thread (see store.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace herald::storage {

class Query {
public:
    Query(sqlite3* db, sqlite3_stmt* stmt, std::string prepare_error);
    ~Query();
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    // Parameters are numbered from 1, as in the SQL (?1, ?2, ...).
    Query& bind(int index, int64_t value);
    Query& bind(int index, uint64_t value) { return bind(index, static_cast<int64_t>(value)); }
    Query& bind(int index, uint32_t value) { return bind(index, static_cast<int64_t>(value)); }
    Query& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Query& bind(int index, std::string_view text);
    Query& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Query& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Query& bind_blob(int index, std::string_view bytes);
    Query& bind_null(int index);

    // Steps once: true when a row is ready (read it with the column getters), false at the
    // end or on an error (then status() says which).
    bool next();
    // Steps to the end, for statements that return no rows.
    Status run();
    // The first error of this query (prepare or step), or ok.
    const Status& status() const { return status_; }

    int64_t i64(int column) const;
    uint64_t u64(int column) const { return static_cast<uint64_t>(i64(column)); }
    bool is_null(int column) const;
    std::string text(int column) const;
    std::string_view view(int column) const;  // valid until the next step

private:
    void fail(int rc);
    sqlite3* db_;
    sqlite3_stmt* stmt_;
    Status status_;
};

class Db {
public:
    // Opens (creating it if needed) the file at `path`. The message of an error is SQLite's.
    static Result<std::unique_ptr<Db>> open(const std::string& path);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // `sql` must be a string literal (the cache is keyed by its address).
    Query query(const char* sql);
    // Runs one or more statements without results (DDL, pragmas, BEGIN/COMMIT).
    Status exec(const char* sql);
    // Rows changed by the last INSERT/UPDATE/DELETE.
    int changes() const;
    // The rowid of the last INSERT on this connection.
    int64_t last_insert_rowid() const;
    // Whether SQLite is outside a transaction; true after BEGIN means SQLite rolled the
    // transaction back on its own (full disk, I/O error).
    bool autocommit() const;
    bool read_only() const;
    std::string errmsg() const;
    const std::string& path() const { return path_; }
    sqlite3* handle() { return db_; }

private:
    Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    sqlite3* db_;
    std::string path_;
    std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace herald::storage
