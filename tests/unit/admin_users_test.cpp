// SPEC 7 admin API, user commands: createUser, deleteUser, setPassword, listUsers (paging).
#include "broker/auth/password_hash.h"
#include "tests/unit/admin_test_util.h"

using namespace herald::admin::test;
using herald::storage::Role;

TEST_CASE("SPEC7 createUser stores a slow hash and the role") {
    AdminFixture f;
    json data = f.ok({{"command", "createUser"}, {"user", "bob"}, {"password", "s3cret"}});
    CHECK(data == json{{"user", "bob"}, {"role", "user"}});
    auto bob = f.user("bob");
    REQUIRE(bob);
    CHECK(bob->role == Role::User);
    CHECK(bob->created_at_ms == f.clock.wall);
    CHECK(bob->password_hash.rfind("$pbkdf2-sha512$", 0) == 0);
    CHECK(herald::auth::verify_password("s3cret", bob->password_hash));
    CHECK_FALSE(herald::auth::verify_password("wrong", bob->password_hash));

    data = f.ok({{"command", "createUser"}, {"user", "ann"}, {"password", "x"}, {"role", "admin"}});
    CHECK(data["role"] == "admin");
    CHECK(f.user("ann")->role == Role::Admin);
}

TEST_CASE("SPEC7 createUser refuses bad arguments, naming them") {
    AdminFixture f;
    CHECK(contains(f.error({{"command", "createUser"}, {"password", "p"}}), "\"user\" is missing"));
    CHECK(contains(f.error({{"command", "createUser"}, {"user", 5}, {"password", "p"}}), "\"user\" must be a string"));
    CHECK(contains(f.error({{"command", "createUser"}, {"user", "bob"}}), "\"password\" is missing"));
    CHECK(contains(f.error({{"command", "createUser"}, {"user", "bob"}, {"password", ""}}), "\"password\" must not be empty"));
    CHECK(contains(f.error({{"command", "createUser"}, {"user", "bob"}, {"password", true}}), "\"password\" must be a string"));
    CHECK(contains(f.error({{"command", "createUser"}, {"user", "bob"}, {"password", "p"}, {"role", "root"}}),
                   "\"role\" must be \"admin\" or \"user\""));
    CHECK(contains(f.error({{"command", "createUser"}, {"user", "bob"}, {"password", "p"}, {"role", 1}}),
                   "\"role\" must be a string"));
    // SPEC 2 user-id rules: ids become topic levels.
    for (const char* bad : {"a/b", "a+b", "a#", "$sys", ""}) {
        INFO(bad);
        CHECK(contains(f.error({{"command", "createUser"}, {"user", bad}, {"password", "p"}}), "not a valid user id"));
    }
    CHECK(contains(f.error({{"command", "createUser"}, {"user", std::string(65, 'x')}, {"password", "p"}}),
                   "not a valid user id"));
    CHECK_FALSE(f.user("bob"));
}

TEST_CASE("SPEC7 createUser of an existing user is refused") {
    AdminFixture f;
    f.add_user("bob");
    CHECK(f.error({{"command", "createUser"}, {"user", "bob"}, {"password", "other"}}) == "user 'bob' already exists");
    CHECK(herald::auth::verify_password("pw-bob", f.user("bob")->password_hash));
}

TEST_CASE("SPEC7 deleteUser removes the user and its contacts; unknown user is an error") {
    AdminFixture f;
    f.add_user("root", "admin");
    f.add_user("bob");
    f.add_user("ann");
    f.ok({{"command", "addContact"}, {"user", "bob"}, {"contact", "ann"}});
    CHECK(f.ok({{"command", "deleteUser"}, {"user", "bob"}}) == json{{"user", "bob"}});
    CHECK_FALSE(f.user("bob"));
    CHECK(f.ok({{"command", "listContacts"}, {"user", "ann"}})["contacts"] == json::array());
    CHECK(f.error({{"command", "deleteUser"}, {"user", "bob"}}) == "user 'bob' does not exist");
    CHECK(contains(f.error({{"command", "deleteUser"}}), "\"user\" is missing"));
}

TEST_CASE("SPEC7 deleteUser refuses to delete the only admin") {
    AdminFixture f;
    f.add_user("root", "admin");
    std::string e = f.error({{"command", "deleteUser"}, {"user", "root"}});
    CHECK(contains(e, "only admin"));
    CHECK(f.user("root"));
    f.add_user("second", "admin");
    f.ok({{"command", "deleteUser"}, {"user", "root"}});
    CHECK_FALSE(f.user("root"));
}

TEST_CASE("SPEC7 setPassword replaces the hash") {
    AdminFixture f;
    f.add_user("bob");
    CHECK(f.ok({{"command", "setPassword"}, {"user", "bob"}, {"password", "new-one"}}) == json{{"user", "bob"}});
    std::string hash = f.user("bob")->password_hash;
    CHECK(herald::auth::verify_password("new-one", hash));
    CHECK_FALSE(herald::auth::verify_password("pw-bob", hash));
    CHECK(f.error({{"command", "setPassword"}, {"user", "nobody"}, {"password", "x"}}) == "user 'nobody' does not exist");
    CHECK(contains(f.error({{"command", "setPassword"}, {"user", "bob"}}), "\"password\" is missing"));
    CHECK(contains(f.error({{"command", "setPassword"}, {"user", "bob"}, {"password", std::string(2000, 'p')}}),
                   "too long"));
}

TEST_CASE("SPEC7 listUsers pages with cursor and limit") {
    AdminFixture f;
    // Fewer hashes: one request creates them all (and shows commands run in order).
    json cmds = json::array();
    for (int i = 0; i < 7; ++i)
        cmds.push_back({{"command", "createUser"}, {"user", "u" + std::to_string(i)}, {"password", "p"}});
    json r = f.request({{"commands", cmds}});
    for (const json& a : r["responses"]) CHECK(a.contains("data"));

    json page = f.ok({{"command", "listUsers"}, {"limit", 3}});
    CHECK(page["users"] == json::array({{{"user", "u0"}, {"role", "user"}},
                                        {{"user", "u1"}, {"role", "user"}},
                                        {{"user", "u2"}, {"role", "user"}}}));
    REQUIRE(page["cursor"].is_string());
    std::vector<std::string> seen;
    json cursor = nullptr;
    int pages = 0;
    do {
        json cmd = {{"command", "listUsers"}, {"limit", 3}};
        if (!cursor.is_null()) cmd["cursor"] = cursor;
        page = f.ok(cmd);
        for (const json& u : page["users"]) seen.push_back(u["user"]);
        cursor = page["cursor"];
        ++pages;
    } while (!cursor.is_null() && pages < 10);
    CHECK(pages == 3);
    CHECK(seen == std::vector<std::string>{"u0", "u1", "u2", "u3", "u4", "u5", "u6"});

    // Default limit: everything here, and the last page says so with a null cursor.
    page = f.ok({{"command", "listUsers"}});
    CHECK(page["users"].size() == 7);
    CHECK(page["cursor"].is_null());

    CHECK(contains(f.error({{"command", "listUsers"}, {"limit", 0}}), "\"limit\" must be in 1..1000"));
    CHECK(contains(f.error({{"command", "listUsers"}, {"limit", 5000}}), "\"limit\" must be in 1..1000"));
    CHECK(contains(f.error({{"command", "listUsers"}, {"limit", -1}}), "\"limit\""));
    CHECK(contains(f.error({{"command", "listUsers"}, {"limit", "3"}}), "\"limit\" must be a number"));
    CHECK(contains(f.error({{"command", "listUsers"}, {"cursor", 3}}), "\"cursor\" must be a string"));
}
