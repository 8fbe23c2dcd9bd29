// User ids and group names (SPEC 2): they become topic levels, so the table below is what
// may and may not become one.
#include <doctest/doctest.h>

#include <string>

#include "broker/auth/user_id.h"

using namespace herald::auth;

TEST_CASE("SPEC 2: valid user ids") {
    for (const char* id : {"alice", "a", "Bob_42", "user.name@example.com", "with space",
                           "J\xc3\xbcrgen", "\xe6\x9d\x8e\xe9\x9b\xb7", "emoji\xf0\x9f\x98\x80",
                           "mid$dollar", "-", "\xc2\xa0nbsp"}) {
        CAPTURE(id);
        CHECK(user_id_error(id).empty());
        CHECK(valid_group_name(id));
    }
    CHECK(valid_user_id(std::string(64, 'x')));
}

TEST_CASE("SPEC 2: refused user ids, with the reason") {
    struct Case {
        std::string id;
        const char* reason;
    };
    const Case cases[] = {
        {"", "user id is empty"},
        {std::string(65, 'x'), "user id is longer than 64 bytes"},
        {"a/b", "user id contains '/'"},
        {"/", "user id contains '/'"},
        {"a+b", "user id contains '+'"},
        {"#", "user id contains '#'"},
        {std::string("a\0b", 3), "user id contains NUL"},
        {"tab\there", "user id contains a control character"},
        {"nl\n", "user id contains a control character"},
        {"del\x7f", "user id contains a control character"},
        {"c1\xc2\x85", "user id contains a control character"},  // U+0085 NEL
        {"c1\xc2\x9f", "user id contains a control character"},  // U+009F
        {"$SYS", "user id starts with '$'"},
        {"$", "user id starts with '$'"},
        {"bad\xff", "user id is not valid UTF-8"},
        {"\xc0\xaf", "user id is not valid UTF-8"},               // overlong '/'
        {"\xed\xa0\x80", "user id is not valid UTF-8"},           // surrogate
        {"cut\xe6\x9d", "user id is not valid UTF-8"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.id);
        CHECK(user_id_error(c.id) == c.reason);
        CHECK_FALSE(valid_user_id(c.id));
    }
}

TEST_CASE("user id length is in bytes and configurable") {
    std::string four_bytes = "\xf0\x9f\x98\x80";  // one code point, four bytes
    CHECK(valid_user_id(four_bytes, 4));
    CHECK(user_id_error(four_bytes, 3) == "user id is longer than 3 bytes");
    CHECK(valid_user_id(std::string(200, 'u'), 200));
    CHECK_FALSE(valid_user_id(std::string(201, 'u'), 200));
}

TEST_CASE("group names follow the same rules and say so") {
    CHECK(group_name_error("team/a") == "group name contains '/'");
    CHECK(group_name_error("") == "group name is empty");
    CHECK(group_name_error("$admins") == "group name starts with '$'");
    CHECK(group_name_error("team-a").empty());
}
