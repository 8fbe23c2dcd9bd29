// The in-memory users and bans (identity::Logins) as the admin API's changes reach them, their
// loading from the store, and StoreIdentity answering from them on the loop, with no store read.
#include <doctest/doctest.h>

#include "broker/auth/password_hash.h"
#include "broker/identity/logins.h"
#include "broker/identity/store_identity.h"
#include "storage/tables.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::identity;
using storage::test::kNow;

TEST_CASE("SPEC2 logins copy: users and bans follow the admin API's changes") {
    Logins l;
    l.assign({{"ann", "hash-a", storage::Role::Admin, 0}, {"bob", "hash-b", storage::Role::User, 0}},
             {{"bob", kNow + 1000, "spam"}});
    REQUIRE(l.user("ann") != nullptr);
    CHECK(l.user("ann")->password_hash == "hash-a");
    CHECK(l.user("ann")->role == storage::Role::Admin);
    CHECK(l.user("cat") == nullptr);
    REQUIRE(l.active_ban("bob", kNow) != nullptr);
    CHECK(l.active_ban("bob", kNow)->reason == "spam");
    CHECK(l.active_ban("ann", kNow) == nullptr);

    // A ban that ended is ignored, and forgotten.
    CHECK(l.active_ban("bob", kNow + 1000) == nullptr);
    CHECK(l.bans() == 0);

    l.user_created({"cat", "hash-c", storage::Role::User, 0});
    CHECK(l.user("cat")->password_hash == "hash-c");
    l.password_changed("cat", "hash-c2");
    CHECK(l.user("cat")->password_hash == "hash-c2");
    l.password_changed("nobody", "x");  // no row: nothing appears
    CHECK(l.user("nobody") == nullptr);

    // A hash upgrade loses against a setPassword that came first.
    l.password_upgraded("cat", "hash-c", "upgraded");
    CHECK(l.user("cat")->password_hash == "hash-c2");
    l.password_upgraded("cat", "hash-c2", "upgraded");
    CHECK(l.user("cat")->password_hash == "upgraded");

    l.banned({"cat", kNow + 5000, ""});
    l.banned({"cat", kNow + 9000, "again"});  // replaces
    CHECK(l.active_ban("cat", kNow + 6000)->reason == "again");
    l.unbanned("cat");
    CHECK(l.active_ban("cat", kNow) == nullptr);

    l.banned({"ann", kNow + 5000, ""});
    l.user_deleted("ann");  // its ban goes with it
    CHECK(l.user("ann") == nullptr);
    CHECK(l.active_ban("ann", kNow) == nullptr);
    CHECK(l.users() == 2);
}

TEST_CASE("SPEC2 logins copy: loaded from the store, every user and only the bans still running") {
    storage::test::TempDir dir;
    auto store = storage::test::open_store(dir.db());
    REQUIRE(store->exec_now([](storage::Db& db) {
        for (int i = 0; i < 25; ++i) {
            storage::Status s = storage::users::create(
                db, {"u" + std::to_string(i), "h" + std::to_string(i), i == 3 ? storage::Role::Admin : storage::Role::User, 0});
            if (!s) return s;
        }
        if (storage::Status s = storage::bans::set(db, {"u1", kNow + 60'000, "why"}); !s) return s;
        return storage::bans::set(db, {"u2", kNow - 1, "over"});
    }));
    Logins l;
    REQUIRE(l.load(*store, kNow));
    CHECK(l.users() == 25);
    CHECK(l.user("u24")->password_hash == "h24");
    CHECK(l.user("u3")->role == storage::Role::Admin);
    CHECK(l.bans() == 1);
    CHECK(l.active_ban("u1", kNow)->reason == "why");
    CHECK(l.active_ban("u2", kNow) == nullptr);
}

TEST_CASE("SPEC2 StoreIdentity answers from memory: no store read, no pool, before returning") {
    storage::test::TempDir dir;
    auto store = storage::test::open_store(dir.db());  // never started: a store read would never answer
    storage::test::ManualClock clock;
    storage::test::Loop loop;
    Logins logins;
    logins.assign({{"ann", "", storage::Role::User, 0}}, {{"bad", kNow + 2000, "spam"}});
    StoreIdentity ident(*store, loop.get(), clock, GroupMembers{}, Contacts{}, std::move(logins));
    core::Config config;
    config.allow_anonymous = true;
    REQUIRE(ident.configure(config).empty());

    auto ask = [&](std::string user, std::optional<std::string> password) {
        core::Credentials who;
        who.username = std::move(user);
        who.password = std::move(password);
        who.client_id = "c";
        std::optional<core::Verdict> got;
        ident.authenticate_in_loop(std::move(who), [&](core::Verdict v) { got = std::move(v); });
        return got;
    };
    using mqtt::ReasonCode;
    auto unknown = ask("zed", std::nullopt);  // allow_anonymous: an unknown user comes in
    REQUIRE(unknown);
    CHECK(unknown->reason == ReasonCode::Success);
    auto banned = ask("bad", std::nullopt);
    REQUIRE(banned);
    CHECK(banned->reason == ReasonCode::Banned);
    CHECK(banned->why == "banned for 2 more seconds (spam)");
    auto no_password = ask("ann", std::nullopt);
    REQUIRE(no_password);
    CHECK(no_password->reason == ReasonCode::BadUserNameOrPassword);
    auto no_hash = ask("ann", "secret");  // a row with no hash matches no password
    REQUIRE(no_hash);
    CHECK(no_hash->reason == ReasonCode::BadUserNameOrPassword);
    CHECK(ident.checks_in_flight() == 0);

    // The admin API's changes reach it.
    ident.user_unbanned_in_loop("bad");
    CHECK(ask("bad", std::nullopt)->reason == ReasonCode::Success);
    ident.user_banned_in_loop({"zed", kNow + 1000, ""});
    CHECK(ask("zed", std::nullopt)->why == "banned for 1 more seconds");
    clock.wall += 1000;  // the ban is over
    CHECK(ask("zed", std::nullopt)->reason == ReasonCode::Success);
    ident.user_created_in_loop({"cat", "", storage::Role::User, 0});
    CHECK(ask("cat", std::nullopt)->reason == ReasonCode::BadUserNameOrPassword);
    ident.user_deleted_in_loop("cat");
    CHECK(ask("cat", std::nullopt)->reason == ReasonCode::Success);  // unknown again
}

TEST_CASE("SPEC2 StoreIdentity: a stored hash is checked on the pool, from the copy") {
    storage::test::TempDir dir;
    auto store = storage::test::open_store(dir.db());  // never started: the copy is all it has
    storage::test::ManualClock clock;
    storage::test::Loop loop;
    StoreIdentity ident(*store, loop.get(), clock, GroupMembers{}, Contacts{});
    REQUIRE(ident.configure(core::Config{}).empty());
    ident.set_hash_iterations(1000);  // the hashes below are not weak: no re-hash, no store write
    const std::string hash = auth::hash_password("pw1", 1000);
    ident.user_created_in_loop({"ann", hash, storage::Role::Admin, 0});

    auto ask = [&](std::string password) {
        core::Credentials who;
        who.username = "ann";
        who.password = std::move(password);
        who.client_id = "c";
        std::optional<core::Verdict> got;
        ident.authenticate_in_loop(std::move(who), [&](core::Verdict v) { got = std::move(v); });
        CHECK_FALSE(got);  // not before returning: the hash is checked off the loop
        CHECK(ident.checks_in_flight() == 1);
        CHECK(storage::test::run_until(loop.get(), [&] { return got.has_value(); }));
        return got.value_or(core::Verdict{});
    };
    core::Verdict good = ask("pw1");
    CHECK(good.reason == mqtt::ReasonCode::Success);
    CHECK(good.admin);
    CHECK(ask("pw2").reason == mqtt::ReasonCode::BadUserNameOrPassword);
    ident.password_changed_in_loop("ann", auth::hash_password("pw2", 1000));
    CHECK(ask("pw2").reason == mqtt::ReasonCode::Success);
    CHECK(ident.checks_in_flight() == 0);
}
