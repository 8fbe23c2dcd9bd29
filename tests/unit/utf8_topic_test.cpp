// Tests of the UTF-8 rules (spec 1.5.4) and of topic names, filters, shared subscriptions and
// matching (spec 4.7, 4.8), as tables.
#include <doctest/doctest.h>

#include <string>

#include "broker/mqtt/topic.h"

using namespace herald::mqtt;

TEST_CASE("[MQTT-1.5.4-1] well-formed UTF-8 is accepted") {
    const char* good[] = {
        "",
        "plain ascii long enough for the 8-byte fast path, with / and $",
        "\xC3\xA9t\xC3\xA9",          // U+00E9
        "\xE2\x82\xAC",               // U+20AC
        "\xED\x9F\xBF",               // U+D7FF, just below the surrogates
        "\xEE\x80\x80",               // U+E000, just above them
        "\xEF\xBF\xBF",               // U+FFFF (a non-character, SHOULD NOT but valid)
        "\xF0\x9F\x98\x80",           // U+1F600
        "\xF4\x8F\xBF\xBF",           // U+10FFFF
        "\x01\x1F\x7F",               // control characters are valid (SHOULD NOT)
        "abcdefg\xC3\xA9xyzabcdefgh",  // multibyte between fast-path chunks
    };
    for (const char* s : good) {
        CAPTURE(s);
        CHECK(valid_utf8(s));
    }
}

TEST_CASE("[MQTT-1.5.4-1] ill-formed UTF-8 and surrogates are refused") {
    const std::string bad[] = {
        "\x80",                          // lone continuation
        "\xC3",                          // truncated
        "abcdefgh\xC3",                  // truncated after a fast-path chunk
        "\xC0\x80",                      // overlong NUL
        "\xC1\xBF",                      // overlong
        "\xE0\x80\xAF",                  // overlong 3-byte
        "\xF0\x80\x80\xAF",              // overlong 4-byte
        "\xED\xA0\x80",                  // U+D800 surrogate
        "\xED\xBF\xBF",                  // U+DFFF surrogate
        "\xF4\x90\x80\x80",              // U+110000
        "\xF5\x80\x80\x80",              // lead byte above F4
        "\xFF",
        "\xE2\x82",                      // truncated 3-byte
        "\xE2\x28\xA1",                  // bad continuation
    };
    for (const auto& s : bad) {
        CAPTURE(s);
        CHECK_FALSE(valid_utf8(s));
    }
}

TEST_CASE("[MQTT-1.5.4-2] U+0000 is refused anywhere") {
    CHECK_FALSE(valid_utf8(std::string("\0", 1)));
    CHECK_FALSE(valid_utf8(std::string("abc\0", 4)));
    CHECK_FALSE(valid_utf8(std::string("abcdefgh\0ijklmnop", 17)));  // inside a fast-path chunk
    CHECK_FALSE(valid_utf8(std::string("abcdefghijklmno\0", 16)));
}

TEST_CASE("[MQTT-4.7.3-1] [MQTT-3.3.2-2] topic names") {
    CHECK(valid_topic_name("a"));
    CHECK(valid_topic_name("/"));
    CHECK(valid_topic_name("a//b"));
    CHECK(valid_topic_name("$SYS/broker"));
    CHECK(valid_topic_name(" "));
    CHECK_FALSE(valid_topic_name(""));
    CHECK_FALSE(valid_topic_name("a/+"));
    CHECK_FALSE(valid_topic_name("a/#"));
    CHECK_FALSE(valid_topic_name("a+b"));
    CHECK_FALSE(valid_topic_name("\xC0\x80"));
    CHECK(valid_topic_name(std::string(65535, 'a')));
    CHECK_FALSE(valid_topic_name(std::string(65536, 'a')));
}

TEST_CASE("[MQTT-4.7.1-1] [MQTT-4.7.1-2] topic filters") {
    const char* good[] = {"#", "+", "a", "a/b", "a/#", "a/+", "+/+", "+/#", "/#", "a//b", "/", "$SYS/#", "a/+/c"};
    for (const char* f : good) {
        CAPTURE(f);
        CHECK(valid_topic_filter(f));
    }
    const char* bad[] = {"", "a#", "#/a", "a/#/b", "a+", "+a", "a/b+", "a/#b", "##", "++"};
    for (const char* f : bad) {
        CAPTURE(f);
        CHECK_FALSE(valid_topic_filter(f));
    }
    CHECK_FALSE(valid_topic_filter("\xED\xA0\x80"));
}

TEST_CASE("[MQTT-4.8.2-1] [MQTT-4.8.2-2] shared subscription filters") {
    CHECK(valid_topic_filter("$share/g/a/b"));
    CHECK(valid_topic_filter("$share/g/#"));
    CHECK(valid_topic_filter("$share/g/+/x"));
    CHECK_FALSE(valid_topic_filter("$share/g"));     // no filter
    CHECK_FALSE(valid_topic_filter("$share/g/"));    // empty filter
    CHECK_FALSE(valid_topic_filter("$share//a"));    // empty group
    CHECK_FALSE(valid_topic_filter("$share/g+/a"));  // wildcard in group
    CHECK_FALSE(valid_topic_filter("$share/#/a"));
    CHECK_FALSE(valid_topic_filter("$share/g/a#"));
    CHECK(valid_topic_filter("$shared/a"));  // not a share prefix: an ordinary filter

    std::string_view group, real;
    REQUIRE(split_shared("$share/grp/a/+", group, real));
    CHECK(group == "grp");
    CHECK(real == "a/+");
    CHECK_FALSE(split_shared("a/b", group, real));
    CHECK_FALSE(split_shared("$SYS/x", group, real));
    CHECK_FALSE(split_shared("$share", group, real));
}

TEST_CASE("[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] topic matching table") {
    struct Row {
        const char* filter;
        const char* topic;
        bool match;
    };
    const Row rows[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},
        {"#", "a", true},
        {"#", "a/b/c", true},
        {"#", "/", true},
        {"a/#", "a", true},  // the parent level too
        {"a/#", "a/b", true},
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"a/#", "b/a", false},
        {"+", "a", true},
        {"+", "a/b", false},
        {"+", "/a", false},
        {"+/+", "/a", true},  // '+' matches the empty first level
        {"a/+", "a/", true},
        {"a/+", "a", false},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a//c", true},
        {"a/+/c", "a/b/d", false},
        {"+/#", "a", true},
        {"/#", "/a", true},
        {"/+", "/", true},
        {"a//b", "a//b", true},
        {"a//b", "a/b", false},
        {"#", "$SYS/x", false},  // [MQTT-4.7.2-1]
        {"+/x", "$SYS/x", false},
        {"+", "$SYS", false},
        {"$SYS/#", "$SYS/x", true},
        {"$SYS/+", "$SYS/x", true},
        {"$SYS/#", "$SYS", true},
        {"users/+/alice", "users/bob/alice", true},
        {"users/+/alice", "users/bob/alice/x", false},
        {"users/+/alice/#", "users/bob/alice", true},
    };
    for (const auto& row : rows) {
        CAPTURE(row.filter);
        CAPTURE(row.topic);
        CHECK(topic_matches(row.filter, row.topic) == row.match);
    }
}
