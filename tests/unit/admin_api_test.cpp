// SPEC 7 admin API as a whole: request shape, bad JSON, unknown commands, the admin role,
// ordering of answers, bans, stats, presence commands and the first admin.
#include <cstdio>

#include "broker/admin/first_admin.h"
#include "broker/auth/password_hash.h"
#include "storage/tables.h"
#include "tests/unit/admin_test_util.h"

using namespace herald::admin::test;
using herald::admin::ensure_first_admin;

TEST_CASE("SPEC7 a payload that is not JSON gets one error and no answers") {
    AdminFixture f;
    json r = json::parse(f.raw("{\"commands\": [ nope"));
    CHECK(r["responses"] == json::array());
    REQUIRE(r["error"].is_string());
    std::string e = r["error"];
    CHECK(e.rfind("request is not valid JSON: ", 0) == 0);
    CHECK(contains(e, "line 1"));
    CHECK(json::parse(f.raw(""))["error"].get<std::string>().rfind("request is not valid JSON", 0) == 0);
    CHECK(json::parse(f.raw(std::string("\xff\xfe", 2)))["responses"] == json::array());
    // Valid JSON of the wrong shape.
    for (const char* bad : {"[]", "{}", "{\"commands\":{}}", "42", "{\"commands\":\"listUsers\"}"}) {
        INFO(bad);
        json w = json::parse(f.raw(bad));
        CHECK(w["responses"] == json::array());
        CHECK(contains(w["error"], "\"commands\" array"));
    }
    CHECK(json::parse(f.raw("{\"commands\":[]}")) == json{{"responses", json::array()}});
}

TEST_CASE("SPEC7 unknown commands and malformed entries are named") {
    AdminFixture f;
    json r = f.request({{"commands", {{{"command", "dropTables"}}, 5, {{"user", "x"}}, {{"command", 3}}}}});
    REQUIRE(r["responses"].size() == 4);
    CHECK(r["responses"][0]["command"] == "dropTables");
    CHECK(contains(r["responses"][0]["error"], "unknown command \"dropTables\""));
    CHECK(contains(r["responses"][0]["error"], "createUser"));
    CHECK(r["responses"][1]["command"].is_null());
    CHECK(contains(r["responses"][1]["error"], "JSON object"));
    CHECK(contains(r["responses"][2]["error"], "\"command\" string"));
    CHECK(contains(r["responses"][3]["error"], "\"command\" string"));
}

TEST_CASE("SPEC7 only admins: others get one refusal per command and nothing runs") {
    AdminFixture f;
    json req = {{"commands", {{{"command", "createUser"}, {"user", "eve"}, {"password", "p"}},
                              {{"command", "listUsers"}, {"correlationData", "c1"}}}}};
    json r = f.request(req, false);
    REQUIRE(r["responses"].size() == 2);
    CHECK(r["responses"][0] == json{{"command", "createUser"}, {"error", "not authorized: the admin role is needed"}});
    CHECK(r["responses"][1] == json{{"command", "listUsers"}, {"error", "not authorized: the admin role is needed"},
                                    {"correlationData", "c1"}});
    CHECK_FALSE(f.user("eve"));
}

TEST_CASE("SPEC7 commands run in order and answers keep request order") {
    AdminFixture f;
    // Each depends on the one before: the order is visible in the results.
    json req = {{"commands",
                 {{{"command", "createUser"}, {"user", "ann"}, {"password", "p"}, {"correlationData", 1}},
                  {{"command", "createUser"}, {"user", "bob"}, {"password", "p"}},
                  {{"command", "addContact"}, {"user", "ann"}, {"contact", "bob"}},
                  {{"command", "nope"}},
                  {{"command", "listContacts"}, {"user", "ann"}},
                  {{"command", "deleteUser"}, {"user", "bob"}},
                  {{"command", "listContacts"}, {"user", "ann"}},
                  {{"command", "createUser"}, {"user", "ann"}, {"password", "p"}},
                  {{"command", "getStats"}}}}};
    json r = f.request(req);
    const json& a = r["responses"];
    REQUIRE(a.size() == 9);
    const char* names[] = {"createUser", "createUser", "addContact", "nope", "listContacts",
                           "deleteUser", "listContacts", "createUser", "getStats"};
    for (size_t i = 0; i < 9; ++i) CHECK(a[i]["command"] == names[i]);
    CHECK(a[0]["correlationData"] == 1);
    CHECK(a[2].contains("data"));
    CHECK(a[3].contains("error"));
    CHECK(a[4]["data"]["contacts"] == json{"bob"});
    CHECK(a[6]["data"]["contacts"] == json::array());
    CHECK(a[7]["error"] == "user 'ann' already exists");
    CHECK(a[8]["data"]["users"] == 1);
}

TEST_CASE("SPEC7 too many commands in one request is refused whole") {
    herald::admin::ControlApiOptions o = cheap_options();
    o.max_commands = 3;
    AdminFixture f(nullptr, o);
    json cmds = json::array();
    for (int i = 0; i < 4; ++i) cmds.push_back({{"command", "getStats"}});
    json r = f.request({{"commands", cmds}});
    CHECK(r["responses"] == json::array());
    CHECK(contains(r["error"], "too many commands"));
}

TEST_CASE("SPEC7 banUser and unbanUser") {
    AdminFixture f;
    f.add_user("bob");
    json d = f.ok({{"command", "banUser"}, {"user", "bob"}, {"seconds", 60}, {"reason", "spam"}});
    CHECK(d["user"] == "bob");
    CHECK(d["seconds"] == 60);
    CHECK(d["until_ms"] == f.clock.wall + 60'000);
    CHECK(d["reason"] == "spam");
    CHECK(f.ok({{"command", "getStats"}})["activeBans"] == 1);
    // A new ban replaces the old one; no reason is fine.
    CHECK(f.ok({{"command", "banUser"}, {"user", "bob"}, {"seconds", 10}})["reason"] == "");
    CHECK(f.ok({{"command", "unbanUser"}, {"user", "bob"}}) == json{{"user", "bob"}});
    CHECK(f.error({{"command", "unbanUser"}, {"user", "bob"}}) == "user 'bob' is not banned");
    CHECK(f.error({{"command", "banUser"}, {"user", "zed"}, {"seconds", 5}}) == "user 'zed' does not exist");
    CHECK(contains(f.error({{"command", "banUser"}, {"user", "bob"}}), "\"seconds\" is missing"));
    CHECK(contains(f.error({{"command", "banUser"}, {"user", "bob"}, {"seconds", 0}}), "\"seconds\" must be in"));
    CHECK(contains(f.error({{"command", "banUser"}, {"user", "bob"}, {"seconds", -5}}), "\"seconds\""));
    CHECK(contains(f.error({{"command", "banUser"}, {"user", "bob"}, {"seconds", "60"}}), "\"seconds\" must be a number"));
    CHECK(contains(f.error({{"command", "banUser"}, {"user", "bob"}, {"seconds", 6}, {"reason", 1}}),
                   "\"reason\" must be a string"));
}

namespace {

// Records what the admin API tells the broker, and answers presence queries.
struct FakePresence : herald::core::PresenceQuery {
    std::vector<std::string> events;
    void get_presence_in_loop(const std::string& user, Answer done) override {
        done({}, json{{"user", user}, {"online", true}}.dump());
    }
    void user_banned_in_loop(const std::string& user, uint64_t, const std::string& reason) override {
        events.push_back("banned " + user + " " + reason);
    }
    void user_deleted_in_loop(const std::string& user) override { events.push_back("deleted " + user); }
};

}  // namespace

TEST_CASE("SPEC7 presence commands go through PresenceQuery; bans and deletions are told to the broker") {
    SUBCASE("without presence: a sentence saying so") {
        AdminFixture f;
        CHECK(f.error({{"command", "getPresence"}, {"user", "bob"}}) == "presence is not available in this version");
        CHECK(f.error({{"command", "listOnline"}}) == "presence is not available in this version");
        CHECK(f.error({{"command", "kickUser"}, {"user", "bob"}}) == "presence is not available in this version");
        CHECK(contains(f.error({{"command", "kickUser"}}), "\"user\" is missing"));
        CHECK(contains(f.error({{"command", "listOnline"}, {"limit", 0}}), "\"limit\""));
    }
    SUBCASE("with presence") {
        FakePresence presence;
        AdminFixture f(&presence);
        CHECK(f.ok({{"command", "getPresence"}, {"user", "bob"}}) == json{{"user", "bob"}, {"online", true}});
        CHECK(f.error({{"command", "listOnline"}}) == "presence is not available in this version");
        f.add_user("bob");
        f.ok({{"command", "banUser"}, {"user", "bob"}, {"seconds", 5}, {"reason", "r"}});
        f.ok({{"command", "deleteUser"}, {"user", "bob"}});
        CHECK(presence.events == std::vector<std::string>{"banned bob r", "deleted bob"});
    }
}

TEST_CASE("SPEC7 getStats counts what the store holds") {
    AdminFixture f;
    json d = f.ok({{"command", "getStats"}});
    CHECK(d["users"] == 0);
    f.add_user("ann", "admin");
    f.add_user("bob");
    f.ok({{"command", "createGroup"}, {"group", "g"}});
    f.ok({{"command", "addGroupMember"}, {"group", "g"}, {"user", "bob"}});
    f.ok({{"command", "addContact"}, {"user", "ann"}, {"contact", "bob"}});
    d = f.ok({{"command", "getStats"}});
    CHECK(d["users"] == 2);
    CHECK(d["admins"] == 1);
    CHECK(d["groups"] == 1);
    CHECK(d["groupMembers"] == 1);
    CHECK(d["contacts"] == 1);
    CHECK(d["activeBans"] == 0);
    CHECK(d.contains("sessions"));
    CHECK(d.contains("retained"));
}

TEST_CASE("SPEC7 the ControlApi destroyed mid-request drops the answer and leaves no handle open") {
    AdminFixture f;
    bool replied = false;
    f.api->handle_in_loop({"root", "r", true}, R"({"commands":[{"command":"createUser","user":"x","password":"p"}]})",
                          [&](std::string) { replied = true; });
    f.api.reset();
    uv_run(f.loop.get(), UV_RUN_DEFAULT);  // the store lookup and nothing after it
    CHECK_FALSE(replied);
}

TEST_CASE("SPEC7 first admin: created once, with the given or a generated password") {
    TempDir dir;
    using herald::storage::test::open_store;
    SUBCASE("given password") {
        auto store = open_store(dir.db());
        auto r = ensure_first_admin(*store, std::string("hunter2"), 1234, 1000, nullptr);
        REQUIRE_MESSAGE(r.ok(), r.error());
        CHECK(r->created);
        CHECK_FALSE(r->generated);
        CHECK(r->password.empty());
        std::optional<herald::storage::UserRecord> admin;
        REQUIRE(store->exec_now([&](herald::storage::Db& db) {
            auto got = herald::storage::users::get(db, "admin");
            if (got) admin = got.value();
            return got ? herald::storage::Status{} : got.status();
        }));
        REQUIRE(admin);
        CHECK(admin->role == herald::storage::Role::Admin);
        CHECK(admin->created_at_ms == 1234);
        CHECK(herald::auth::verify_password("hunter2", admin->password_hash));
        // Idempotent: the second start changes nothing, whatever password it is given.
        auto again = ensure_first_admin(*store, std::string("other"), 9999, 1000, nullptr);
        REQUIRE(again.ok());
        CHECK_FALSE(again->created);
    }
    SUBCASE("generated password, printed once") {
        auto store = open_store(dir.db());
        std::FILE* notice = std::tmpfile();
        REQUIRE(notice);
        auto r = ensure_first_admin(*store, std::nullopt, 1, 1000, notice);
        REQUIRE(r.ok());
        CHECK(r->created);
        CHECK(r->generated);
        CHECK(r->password.size() == 22);  // 16 bytes, base64url without padding
        CHECK(r->password.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
        std::rewind(notice);
        char buf[512] = {};
        size_t n = std::fread(buf, 1, sizeof buf - 1, notice);
        std::fclose(notice);
        CHECK(contains(std::string(buf, n), r->password));
        CHECK(herald::admin::generate_password() != r->password);
        auto again = ensure_first_admin(*store, std::nullopt, 2, 1000, nullptr);
        REQUIRE(again.ok());
        CHECK_FALSE(again->created);
    }
    SUBCASE("an existing admin under another name counts") {
        auto store = open_store(dir.db());
        REQUIRE(store->exec_now([](herald::storage::Db& db) {
            return herald::storage::users::create(db, {"boss", "$pbkdf2-sha512$x", herald::storage::Role::Admin, 1});
        }));
        auto r = ensure_first_admin(*store, std::string("pw"), 1, 1000, nullptr);
        REQUIRE(r.ok());
        CHECK_FALSE(r->created);
    }
    SUBCASE("a plain user named admin is not promoted") {
        auto store = open_store(dir.db());
        REQUIRE(store->exec_now([](herald::storage::Db& db) {
            return herald::storage::users::create(db, {"admin", "$pbkdf2-sha512$x", herald::storage::Role::User, 1});
        }));
        auto r = ensure_first_admin(*store, std::string("pw"), 1, 1000, nullptr);
        CHECK_FALSE(r.ok());
        CHECK(contains(r.error(), "without it"));
    }
}
