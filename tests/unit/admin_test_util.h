// Helpers for the admin API tests: a real SqliteStore in a temporary directory, a real uv
// loop, a manual clock, and a ControlApi over them with a cheap hash (the tests check what
// the API does, not how slow the hash is).
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "broker/admin/control_api.h"
#include "tests/unit/storage_test_util.h"

namespace herald::admin::test {

using nlohmann::json;
using storage::test::Loop;
using storage::test::ManualClock;
using storage::test::TempDir;

inline ControlApiOptions cheap_options() {
    ControlApiOptions o;
    o.hash_iterations = 1000;
    return o;
}

struct AdminFixture {
    TempDir dir;
    Loop loop;
    ManualClock clock;
    std::unique_ptr<storage::SqliteStore> store;
    std::unique_ptr<ControlApi> api;

    explicit AdminFixture(core::PresenceQuery* presence = nullptr, ControlApiOptions options = cheap_options()) {
        store = storage::test::open_store(dir.db());
        store->start(loop.get());
        api = std::make_unique<ControlApi>(*store, loop.get(), clock, presence, options);
    }
    ~AdminFixture() {
        api.reset();
        store->close();
    }

    // Sends `payload` as `caller` and runs the loop until the reply comes; returns its text.
    std::string raw(const std::string& payload, bool admin = true) {
        std::optional<std::string> out;
        int replies = 0;
        api->handle_in_loop(core::ControlCaller{"root", "root-1", admin}, payload, [&](std::string r) {
            out = std::move(r);
            ++replies;
        });
        REQUIRE(storage::test::run_until(loop.get(), [&] { return out.has_value(); }));
        CHECK(replies == 1);
        CHECK(api->in_flight() == 0);
        return *out;
    }
    json request(const json& req, bool admin = true) {
        json r = json::parse(raw(req.dump(), admin), nullptr, false);
        REQUIRE_FALSE(r.is_discarded());
        REQUIRE(r.contains("responses"));
        return r;
    }
    // One command; returns its answer object.
    json one(const json& command, bool admin = true) {
        json r = request(json{{"commands", json::array({command})}}, admin);
        REQUIRE(r["responses"].size() == 1);
        return r["responses"][0];
    }
    // One command that must succeed; returns its data.
    json ok(const json& command) {
        json a = one(command);
        INFO(a.dump());
        REQUIRE(a.contains("data"));
        CHECK_FALSE(a.contains("error"));
        CHECK(a["command"] == command["command"]);
        return a["data"];
    }
    // One command that must fail; returns its error sentence.
    std::string error(const json& command, bool admin = true) {
        json a = one(command, admin);
        INFO(a.dump());
        REQUIRE(a.contains("error"));
        CHECK_FALSE(a.contains("data"));
        REQUIRE(a["error"].is_string());
        return a["error"].get<std::string>();
    }
    void add_user(const std::string& name, const std::string& role = "user") {
        ok(json{{"command", "createUser"}, {"user", name}, {"password", "pw-" + name}, {"role", role}});
    }
    // The stored user, read straight from the store.
    std::optional<storage::UserRecord> user(const std::string& name) {
        std::optional<storage::Result<std::optional<storage::UserRecord>>> got;
        store->user_get(name, [&](storage::Result<std::optional<storage::UserRecord>> r) { got.emplace(std::move(r)); });
        REQUIRE(storage::test::run_until(loop.get(), [&] { return got.has_value(); }));
        REQUIRE(got->ok());
        return got->value();
    }
};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace herald::admin::test
