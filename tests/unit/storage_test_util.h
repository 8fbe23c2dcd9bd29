// Helpers for the storage tests: a temporary directory per test, a store opened in it, a
// manual clock, and running a uv loop until a condition holds.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <uv.h>

#include "broker/core/clock.h"
#include "storage/store.h"

namespace herald::storage::test {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "herald-store-XXXXXX").string();
        char* made = mkdtemp(pattern.data());
        REQUIRE(made != nullptr);
        path_ = made;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string db() const { return path_ + "/herald.db"; }

private:
    std::string path_;
};

inline constexpr uint64_t kNow = 1'763'700'000'000;  // a wall-clock time in 2025

inline std::unique_ptr<SqliteStore> open_store(const std::string& path, Durability d = Durability::Process,
                                               uint64_t now = kNow) {
    auto r = SqliteStore::open(path, d, now);
    REQUIRE_MESSAGE(r.ok(), r.error());
    return std::move(r.value().store);
}

inline mqtt::SharedPayload payload(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

class ManualClock final : public core::Clock {
public:
    uint64_t mono = 1'000;
    uint64_t wall = kNow;
    uint64_t mono_ms() const override { return mono; }
    uint64_t wall_ms() const override { return wall; }
};

// Runs `loop` until `done()` is true (checked after every turn), for at most ~5 s.
template <class F>
bool run_until(uv_loop_t* loop, F done) {
    for (int i = 0; i < 50000 && !done(); ++i) {
        uv_run(loop, UV_RUN_ONCE);
    }
    return done();
}

// A loop that checks, at the end of the test, that every handle was closed.
struct Loop {
    uv_loop_t loop;
    Loop() { uv_loop_init(&loop); }
    ~Loop() {
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
    uv_loop_t* get() { return &loop; }
};

}  // namespace herald::storage::test
