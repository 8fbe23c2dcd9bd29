// The SQLite connection wrapper: statement cache, binding and errors as Status values.
#include "storage/db.h"

#include <sqlite3.h>

namespace herald::storage {

Query::Query(sqlite3* db, sqlite3_stmt* stmt, std::string prepare_error) : db_(db), stmt_(stmt) {
    if (stmt_ == nullptr) status_ = Status::db_error(std::move(prepare_error));
}

Query::~Query() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

void Query::fail(int rc) {
    if (!status_.ok()) return;
    // A constraint failure is one statement's business (SQLite undoes only that statement);
    // the table files turn the ones they expect into Exists before this is reached.
    const char* msg = sqlite3_errmsg(db_);
    status_ = Status::db_error(msg != nullptr ? msg : sqlite3_errstr(rc));
}

Query& Query::bind(int index, int64_t value) {
    if (stmt_ != nullptr) {
        int rc = sqlite3_bind_int64(stmt_, index, value);
        if (rc != SQLITE_OK) fail(rc);
    }
    return *this;
}

Query& Query::bind(int index, std::string_view text) {
    if (stmt_ != nullptr) {
        int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
        if (rc != SQLITE_OK) fail(rc);
    }
    return *this;
}

Query& Query::bind_blob(int index, std::string_view bytes) {
    if (stmt_ != nullptr) {
        // A zero-length blob with a null pointer would bind NULL: use a static empty buffer.
        const char* data = bytes.empty() ? "" : bytes.data();
        int rc = sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes.size()), SQLITE_STATIC);
        if (rc != SQLITE_OK) fail(rc);
    }
    return *this;
}

Query& Query::bind_null(int index) {
    if (stmt_ != nullptr) {
        int rc = sqlite3_bind_null(stmt_, index);
        if (rc != SQLITE_OK) fail(rc);
    }
    return *this;
}

bool Query::next() {
    if (stmt_ == nullptr || !status_.ok()) return false;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(rc);
    return false;
}

Status Query::run() {
    while (next()) {
    }
    return status_;
}

int64_t Query::i64(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Query::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::string_view Query::view(int column) const {
    // sqlite3_column_blob then _bytes, in that order (SQLite's documented safe order).
    const void* p = sqlite3_column_blob(stmt_, column);
    int n = sqlite3_column_bytes(stmt_, column);
    if (p == nullptr || n <= 0) return {};
    return std::string_view(static_cast<const char*>(p), static_cast<size_t>(n));
}

std::string Query::text(int column) const { return std::string(view(column)); }

Result<std::unique_ptr<Db>> Db::open(const std::string& path) {
    // Memory statistics cost a global mutex on every SQLite allocation (several per row
    // written); nothing reads them. Must precede SQLite's initialization (else a no-op).
    static const int no_memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)no_memstatus;
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        sqlite3_close(raw);
        return Status::db_error(msg);
    }
    sqlite3_extended_result_codes(raw, 1);
    return std::unique_ptr<Db>(new Db(raw, path));
}

Db::~Db() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
}

Query Db::query(const char* sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return Query(db_, it->second, {});
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        // Not cached: a failed prepare (a corrupt file) is retried by the next call.
        return Query(db_, nullptr, errmsg());
    }
    statements_.emplace(sql, stmt);
    return Query(db_, stmt, {});
}

Status Db::exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return {};
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::db_error(msg);
}

int Db::changes() const { return sqlite3_changes(db_); }
int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
bool Db::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }
bool Db::read_only() const { return sqlite3_db_readonly(db_, "main") == 1; }
std::string Db::errmsg() const { return sqlite3_errmsg(db_); }

}  // namespace herald::storage
