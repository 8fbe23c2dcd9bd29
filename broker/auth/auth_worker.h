// Authentication off the loop thread: one check (or one new hash) per uv_work_t on the libuv
// thread pool, the result handed back on the loop thread.
//
// Why: a password hash costs ~0.1 s of CPU on purpose; done on the loop it would stall every
// client. The loop copies what the check needs into a Request (no pointer into broker state
// crosses threads, only shared_ptrs to immutable objects), and the worker thread touches
// nothing else.
//
// Cancellation: a connection may close, or be taken over, before its result arrives. The
// `done` callback is always called (exactly once, on the loop thread, never from inside
// check_async) and must not capture a raw pointer to the connection or session. Instead give
// each request an `id` (e.g. the connection's id and a generation counter bumped at each close
// or new CONNECT), capture the broker and the id, and in `done` look the connection up by id:
// if it is gone or its generation moved on, drop the result.
//
// Shutdown: queued work cannot be abandoned; keep running the loop until the pending `done`
// callbacks have run (uv_run does so: they are active requests), then uv_loop_close.
// Throughput is bounded by the thread pool (UV_THREADPOOL_SIZE, default 4, shared with libuv's
// file operations); the caller should cap the checks in flight and refuse CONNECTs beyond it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/auth/jwt.h"
#include "broker/auth/password_file.h"
#include "broker/auth/password_hash.h"

namespace herald::auth {

struct Request {
    enum class Kind : uint8_t {
        StoredHash,    // secret = password, checked against stored_hash (users table)
        PasswordFile,  // secret = password, checked with password_file->check(username, ...)
        Token,         // secret = JWT, checked with jwt->verify(secret, username, now_unix)
        MakeHash,      // secret = new password; Result::hash = hash_password(secret, iterations)
    };

    uint64_t id = 0;  // the caller's ticket, echoed in Result::id (see Cancellation above)
    Kind kind = Kind::StoredHash;
    std::string username;
    std::string secret;       // password bytes or token; wiped after use
    std::string stored_hash;  // StoredHash
    std::shared_ptr<const PasswordFile> password_file;  // PasswordFile
    std::shared_ptr<const JwtVerifier> jwt;             // Token
    int64_t now_unix = 0;     // Token: the loop's wall clock, seconds since the epoch
    uint32_t iterations = kDefaultPbkdf2Iterations;  // MakeHash
};

struct Result {
    uint64_t id = 0;
    bool ok = false;
    std::string reason;     // when !ok: a sentence for the log ("token expired")
    std::string hash;       // MakeHash: the new stored hash
    bool rehash = false;    // StoredHash, ok: the stored hash is weak; store a new one (MakeHash)
};

// The check itself, on the calling thread. The worker runs this; tests and tools (the
// `herald` CLI importing users) may call it directly. Never call it on the loop thread.
Result check(const Request& request);

// Queues check(request) on loop's thread pool; `done(result)` runs later on the loop thread.
// Returns 0, or a negative libuv error when nothing was queued (then `done` is never called).
// Call on the loop thread only.
int check_async(uv_loop_t* loop, Request request, std::function<void(Result)> done);

}  // namespace herald::auth
