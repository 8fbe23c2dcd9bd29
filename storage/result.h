// The store's small result types: Status (ok, or an error with a code and a sentence) and
// Result<T> (a value, or a Status error). No exceptions leave storage/ (STYLE 8).
//
// Codes let a caller map an error to a protocol answer (the admin API says "user exists" for
// Exists, "no such user" for NotFound) without parsing the sentence; the sentence is written
// for a person ("user 'bob' does not exist", "cannot open data/herald.db: disk I/O error").
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace herald::storage {

enum class Code : uint8_t {
    Ok,
    NotFound,  // the row the operation names is not there
    Exists,    // the row the operation would create is already there
    Invalid,   // the arguments make no sense (a contact with oneself)
    Db,        // SQLite failed: I/O, full disk, corrupt file, read-only file; the batch is lost
};

class Status {
public:
    Status() = default;  // ok
    static Status error(Code code, std::string message) { return Status(code, std::move(message)); }
    static Status db_error(std::string message) { return Status(Code::Db, std::move(message)); }

    bool ok() const { return code_ == Code::Ok; }
    explicit operator bool() const { return ok(); }
    Code code() const { return code_; }
    const std::string& message() const { return message_; }

private:
    Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
    Code code_ = Code::Ok;
    std::string message_;
};

template <class T>
class Result {
public:
    Result(T value) : value_(std::move(value)) {}                       // NOLINT: implicit on purpose
    Result(Status error) : status_(std::move(error)) {}                 // NOLINT: must not be ok
    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }
    T& value() { return *value_; }
    const T& value() const { return *value_; }
    T* operator->() { return &*value_; }
    const Status& status() const { return status_; }
    const std::string& error() const { return status_.message(); }

private:
    std::optional<T> value_;
    Status status_;
};

}  // namespace herald::storage
