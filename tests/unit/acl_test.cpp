// ACL: mosquitto acl_file parsing (errors with line numbers), anonymous vs user rules, patterns
// with %u / %c (no widening), deny wins, and subscribe-time filter coverage.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "broker/core/acl.h"

using herald::core::Access;
using herald::core::Acl;
using herald::core::filter_covers;

namespace {

const std::optional<std::string> anon;
std::optional<std::string> user(const char* name) { return std::string(name); }

Acl load(const char* text) {
    Acl acl;
    std::string error;
    bool ok = acl.load(text, error);
    CAPTURE(error);
    REQUIRE(ok);
    return acl;
}

std::string load_error(const char* text) {
    Acl acl;
    std::string error;
    CHECK_FALSE(acl.load(text, error));
    CHECK_FALSE(acl.loaded());
    return error;
}

}  // namespace

TEST_CASE("acl: no ACL loaded allows everything") {
    Acl acl;
    CHECK_FALSE(acl.loaded());
    CHECK(acl.allowed(Access::Write, anon, "c", "a/b"));
    CHECK(acl.allowed(Access::Read, user("u"), "c", "#"));
}

TEST_CASE("acl: an empty or comment-only file denies everything") {
    Acl acl = load("# nothing\n\n   \n\t# indented comment\n");
    CHECK(acl.loaded());
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "a"));
    CHECK_FALSE(acl.allowed(Access::Read, user("u"), "c", "a"));
}

TEST_CASE("acl: parse errors carry the line number") {
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"topic a\nfoo bar\n", "line 2: unknown keyword 'foo'"},
        {"\n\n# c\ntopic read\n", "line 4: missing topic"},
        {"topic\n", "line 1: missing topic"},
        {"topic deny   \n", "line 1: missing topic"},
        {"user\n", "line 1: missing username"},
        {"user   \t\n", "line 1: missing username"},
        {"topic a/#/b\n", "line 1: invalid topic filter 'a/#/b'"},
        {"topic a\r\npattern write a+/b\r\n", "line 2: invalid topic filter 'a+/b'"},
        {"topic read a/b#\n", "line 1: invalid topic filter 'a/b#'"},
        {"Topic a\n", "line 1: unknown keyword 'Topic'"},
        {"topic a\n\n\nreadwrite a\n", "line 4: unknown keyword 'readwrite'"},
    };
    for (const auto& c : cases) {
        INFO("text = ", std::string(c.text));
        CHECK(load_error(c.text) == c.error);
    }
}

TEST_CASE("acl: a failed load leaves the previous ACL in place") {
    Acl acl = load("topic a\n");
    std::string error;
    CHECK_FALSE(acl.load("topic b\nbogus\n", error));
    CHECK(acl.allowed(Access::Write, anon, "c", "a"));
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "b"));
}

TEST_CASE("acl: access words; none means readwrite; topics may hold spaces") {
    Acl acl = load(
        "topic r/only\n"
        "topic read r2\n"
        "topic write w\n"
        "topic readwrite rw\n"
        "  topic   read   with space/+   \n"
        "topic no access word\n");
    CHECK(acl.allowed(Access::Read, anon, "c", "r/only"));
    CHECK(acl.allowed(Access::Write, anon, "c", "r/only"));
    CHECK(acl.allowed(Access::Read, anon, "c", "r2"));
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "r2"));
    CHECK(acl.allowed(Access::Write, anon, "c", "w"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "w"));
    CHECK(acl.allowed(Access::Read, anon, "c", "rw"));
    CHECK(acl.allowed(Access::Write, anon, "c", "rw"));
    CHECK(acl.allowed(Access::Read, anon, "c", "with space/x"));
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "with space/x"));
    CHECK(acl.allowed(Access::Write, anon, "c", "no access word"));
}

TEST_CASE("acl: rules before any user line are for anonymous clients; user blocks add up") {
    Acl acl = load(
        "topic public/#\n"
        "user alice\n"
        "topic alice/#\n"
        "user bob smith\n"
        "topic read bob/#\n"
        "user alice\n"
        "topic write shared\n");
    CHECK(acl.allowed(Access::Read, anon, "c", "public/x"));
    CHECK_FALSE(acl.allowed(Access::Read, user("alice"), "c", "public/x"));  // not for users
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "alice/x"));
    CHECK(acl.allowed(Access::Read, user("alice"), "c", "alice/x"));
    CHECK(acl.allowed(Access::Write, user("alice"), "c", "shared"));  // second alice block
    CHECK(acl.allowed(Access::Read, user("bob smith"), "c", "bob/x"));
    CHECK_FALSE(acl.allowed(Access::Read, user("bob"), "c", "bob/x"));
    CHECK_FALSE(acl.allowed(Access::Read, user("carol"), "c", "alice/x"));
    CHECK_FALSE(acl.allowed(Access::Read, user(""), "c", "public/x"));  // empty name is a user
}

TEST_CASE("acl: patterns apply to every client with %u and %c substituted") {
    Acl acl = load(
        "pattern readwrite users/%u/#\n"
        "pattern write devices/%c/status\n"
        "pattern read box/%u-%c\n"
        "user alice\n"
        "topic read other\n");
    CHECK(acl.allowed(Access::Write, user("alice"), "phone", "users/alice/x"));
    CHECK(acl.allowed(Access::Read, user("alice"), "phone", "users/alice"));
    CHECK_FALSE(acl.allowed(Access::Write, user("alice"), "phone", "users/bob/x"));
    CHECK(acl.allowed(Access::Write, user("bob"), "pc", "users/bob/x"));  // user without block
    CHECK(acl.allowed(Access::Write, user("bob"), "pc", "devices/pc/status"));
    CHECK_FALSE(acl.allowed(Access::Write, user("bob"), "pc", "devices/phone/status"));
    CHECK(acl.allowed(Access::Read, user("bob"), "pc", "box/bob-pc"));
    CHECK_FALSE(acl.allowed(Access::Read, user("bob"), "pc", "box/bob-pcx"));
    CHECK_FALSE(acl.allowed(Access::Read, user("bob"), "pc", "box/bob"));
    // Anonymous clients: %u patterns never apply, %c patterns do.
    CHECK_FALSE(acl.allowed(Access::Write, anon, "pc", "users//x"));
    CHECK(acl.allowed(Access::Write, anon, "pc", "devices/pc/status"));
    // Subscribe-time: the substituted rule covers the filter.
    CHECK(acl.allowed(Access::Read, user("alice"), "phone", "users/alice/+/x"));
    CHECK_FALSE(acl.allowed(Access::Read, user("alice"), "phone", "users/+/x"));
    // A plain "topic" line is never substituted.
    Acl literal = load("topic %u/x\n");
    CHECK(literal.allowed(Access::Write, anon, "c", "%u/x"));
}

TEST_CASE("acl: a username or client id holding '+', '#' or '/' does not widen a pattern") {
    Acl acl = load("pattern readwrite users/%u/inbox\npattern write dev/%c\n");
    CHECK_FALSE(acl.allowed(Access::Read, user("+"), "c", "users/+/inbox"));
    CHECK_FALSE(acl.allowed(Access::Read, user("+"), "c", "users/x/inbox"));
    CHECK_FALSE(acl.allowed(Access::Read, user("#"), "c", "users/#"));
    CHECK_FALSE(acl.allowed(Access::Write, user("a/b"), "c", "users/a/b/inbox"));
    CHECK_FALSE(acl.allowed(Access::Write, user("u"), "x/y", "dev/x/y"));
    CHECK_FALSE(acl.allowed(Access::Write, user("u"), "#", "dev/#"));
    CHECK(acl.allowed(Access::Write, user("u"), "ok", "dev/ok"));
}

TEST_CASE("acl: deny wins over any grant, whatever the order of the lines") {
    Acl acl = load(
        "topic deny secret/#\n"
        "topic #\n"
        "user alice\n"
        "topic readwrite #\n"
        "topic deny a/private\n"
        "pattern deny users/%u/blocked\n");
    CHECK(acl.allowed(Access::Write, anon, "c", "a/b"));
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "secret/x"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "secret"));  // "secret/#" covers "secret"
    CHECK(acl.allowed(Access::Write, user("alice"), "c", "secret/x"));  // anonymous deny only
    CHECK_FALSE(acl.allowed(Access::Write, user("alice"), "c", "a/private"));
    CHECK_FALSE(acl.allowed(Access::Read, user("alice"), "c", "a/private"));
    CHECK_FALSE(acl.allowed(Access::Write, user("alice"), "c", "users/alice/blocked"));
    CHECK(acl.allowed(Access::Write, user("alice"), "c", "users/bob/blocked"));
    // Subscribe time: refused when a deny covers the filter, accepted when it only overlaps.
    CHECK_FALSE(acl.allowed(Access::Read, user("alice"), "c", "a/private"));
    CHECK(acl.allowed(Access::Read, user("alice"), "c", "a/+"));  // delivery check filters
    CHECK(acl.allowed(Access::Read, user("alice"), "c", "#"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "secret/+"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "secret/#"));
}

TEST_CASE("[MQTT-4.7.2-1] acl: a rule '#' does not grant '$SYS' topics") {
    Acl acl = load("topic #\ntopic read $SYS/broker/#\n");
    CHECK(acl.allowed(Access::Write, anon, "c", "a/b"));
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "$SYS/x"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "$SYS/x"));
    CHECK(acl.allowed(Access::Read, anon, "c", "$SYS/broker/uptime"));
    CHECK(acl.allowed(Access::Read, anon, "c", "$SYS/broker/+"));
    CHECK_FALSE(acl.allowed(Access::Write, anon, "c", "$SYS/broker/uptime"));
    CHECK(acl.allowed(Access::Read, anon, "c", "#"));  // "#" never matches $ topics either
}

TEST_CASE("[MQTT-4.8.2] acl: a shared subscription filter is checked as its real filter") {
    Acl acl = load("topic read jobs/#\n");
    CHECK(acl.allowed(Access::Read, anon, "c", "$share/workers/jobs/+"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "$share/workers/other"));
    CHECK_FALSE(acl.allowed(Access::Read, anon, "c", "$share/jobs/x"));  // "x" is the filter
}

TEST_CASE("acl: filter_covers table") {
    struct Case {
        const char* rule;
        const char* filter;
        bool covers;
    };
    const Case cases[] = {
        {"a/#", "a/+/c", true},   {"a/#", "a/#", true},    {"a/#", "a", true},
        {"a/#", "a/b/c", true},   {"a/#", "#", false},     {"a/#", "+/b", false},
        {"a/+", "a/b", true},     {"a/+", "a/+", true},    {"a/+", "a/#", false},
        {"a/+", "a", false},      {"a/+", "a/b/c", false}, {"a/+", "a/", true},
        {"a/b", "a/b", true},     {"a/b", "a/+", false},   {"a/b", "a/#", false},
        {"a/b", "a/b/c", false},  {"a/b", "a", false},     {"#", "#", true},
        {"#", "+/+/#", true},     {"#", "$SYS/x", false},  {"+/#", "$SYS/#", false},
        {"+", "$SYS", false},     {"+", "+", true},        {"+", "#", false},
        {"+/+", "+/#", false},    {"+/#", "+", true},      {"a/+/#", "a/#", false},
        {"a/+/#", "a/b/#", true}, {"$SYS/#", "$SYS/+", true}, {"$SYS/#", "#", false},
        {"a/+/c", "a/+/c", true}, {"a/+/c", "a/b/+", false}, {"/#", "/", true},
        {"+", "", true},
    };
    for (const auto& c : cases) {
        INFO("rule = ", std::string(c.rule));
        INFO("filter = ", std::string(c.filter));
        CHECK(filter_covers(c.rule, c.filter) == c.covers);
    }
}
