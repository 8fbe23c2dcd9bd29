// Subscription tree: matching tables, the '$' rule, shared groups, replace, unsubscribe, pruning.
//
// Besides hand-written tables, every (filter, topic) pair over a small alphabet of levels is
// checked against a naive reference matcher, so the fast walk cannot drift from the rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "broker/core/subscription_tree.h"

using herald::core::Session;
using herald::core::ShareGroup;
using herald::core::SubscriptionEntry;
using herald::core::SubscriptionTree;

namespace {

Session* fake(uintptr_t n) { return reinterpret_cast<Session*>(n * 16); }

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t slash = s.find('/', start);
        out.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) return out;
        start = slash + 1;
    }
}

// The rules of 4.7 written as plainly as possible.
bool reference_matches(const std::string& filter, const std::string& topic) {
    auto f = split(filter), t = split(topic);
    if (!t[0].empty() && t[0][0] == '$' && (f[0] == "+" || f[0] == "#")) return false;
    size_t i = 0;
    for (; i < f.size(); ++i) {
        if (f[i] == "#") return true;  // i <= t.size(): '#' also matches the parent level
        if (i >= t.size()) return false;
        if (f[i] != "+" && f[i] != t[i]) return false;
    }
    return i == t.size();
}

// Subscription ids (non-shared) and "group:name" strings yielded for `topic`, sorted.
std::vector<std::string> matched(SubscriptionTree& tree, std::string_view topic) {
    std::vector<std::string> out;
    tree.match(
        topic, [&](const SubscriptionEntry& e) { out.push_back(std::to_string(e.subscription_id)); },
        [&](ShareGroup& g) { out.push_back("group:" + g.name); });
    std::sort(out.begin(), out.end());
    return out;
}

bool one_match(const char* filter, const char* topic) {
    SubscriptionTree tree;
    tree.subscribe(filter, SubscriptionEntry{fake(1), {}, 7});
    return matched(tree, topic) == std::vector<std::string>{"7"};
}

struct Case {
    const char* filter;
    const char* topic;
    bool match;
};

}  // namespace

TEST_CASE("subscription tree: matching table (4.7.1 wildcards, 4.7.3 case)") {
    const Case cases[] = {
        {"a/b/c", "a/b/c", true},    {"a/b/c", "a/b", false},     {"a/b/c", "a/b/c/d", false},
        {"a/+/c", "a/b/c", true},    {"a/+/c", "a/b/d", false},   {"a/+/c", "a/b/x/c", false},
        {"a/+/c", "a//c", true},     {"a/+", "a/", true},         {"a/+", "a", false},
        {"+", "a", true},            {"+", "/a", false},          {"/+", "/a", true},
        {"+/+", "/", true},          {"+/+", "a/b/c", false},     {"a/#", "a", true},
        {"a/#", "a/", true},         {"a/#", "a/b/c", true},      {"a/#", "ab", false},
        {"a/#", "b/a", false},       {"#", "a/b", true},          {"#", "/", true},
        {"+/#", "a", true},          {"+/#", "a/b/c", true},      {"a/b/#", "a/b", true},
        {"A/b", "a/b", false},       {"a/b", "a/b/", false},      {"a/b/", "a/b/", true},
        {"a/+", "a/$x", true},       {"a/#", "a/$x/y", true},     {"+/+/+", "a//", true},
    };
    for (const auto& c : cases) {
        INFO("filter = ", std::string(c.filter));
        INFO("topic = ", std::string(c.topic));
        CHECK(one_match(c.filter, c.topic) == c.match);
        CHECK(reference_matches(c.filter, c.topic) == c.match);
    }
}

TEST_CASE("[MQTT-4.7.2-1] a leading wildcard does not match a topic starting with '$'") {
    const Case cases[] = {
        {"#", "$SYS/x", false},         {"+/x", "$SYS/x", false},     {"+", "$SYS", false},
        {"+/#", "$SYS/a/b", false},     {"$SYS/#", "$SYS/x", true},   {"$SYS/#", "$SYS", true},
        {"$SYS/+", "$SYS/x", true},     {"$SYS/x", "$SYS/x", true},   {"#", "a$/x", true},
        {"+/+", "$/x", false},          {"$/+", "$/x", true},         {"#", "x/$SYS", true},
    };
    for (const auto& c : cases) {
        INFO("filter = ", std::string(c.filter));
        INFO("topic = ", std::string(c.topic));
        CHECK(one_match(c.filter, c.topic) == c.match);
    }
}

TEST_CASE("subscription tree: every filter over a small alphabet agrees with the reference") {
    // Filters of 1..3 levels from {a, b, "", $s, +, #} ('#' only last); topics of 1..3 levels
    // from {a, b, "", $s}.
    const std::vector<std::string> flevels = {"a", "b", "", "$s", "+", "#"};
    const std::vector<std::string> tlevels = {"a", "b", "", "$s"};
    std::vector<std::string> filters, topics;
    std::vector<std::string> cur;
    auto build = [&](auto&& self, const std::vector<std::string>& alphabet,
                     std::vector<std::string>& out, std::string prefix, int depth) -> void {
        for (const auto& l : alphabet) {
            std::string s = depth == 0 ? l : prefix + "/" + l;
            out.push_back(s);
            if (l != "#" && depth < 2) self(self, alphabet, out, s, depth + 1);
        }
    };
    build(build, flevels, filters, "", 0);
    build(build, tlevels, topics, "", 0);

    SubscriptionTree tree;
    for (size_t i = 0; i < filters.size(); ++i)
        CHECK(tree.subscribe(filters[i], SubscriptionEntry{fake(1), {}, uint32_t(i + 1)}));
    CHECK(tree.size() == filters.size());
    for (const auto& topic : topics) {
        std::vector<std::string> want;
        for (size_t i = 0; i < filters.size(); ++i)
            if (reference_matches(filters[i], topic)) want.push_back(std::to_string(i + 1));
        std::sort(want.begin(), want.end());
        CAPTURE(topic);
        CHECK(matched(tree, topic) == want);
    }
    for (const auto& f : filters) CHECK(tree.unsubscribe(f, fake(1)));
    CHECK(tree.size() == 0);
    CHECK(tree.node_count() == 0);
}

TEST_CASE("[MQTT-3.8.4-3] same session and filter: options and id replaced, not added") {
    SubscriptionTree tree;
    herald::mqtt::SubscribeOptions o1, o2;
    o1.qos = 0;
    o2.qos = 2;
    CHECK(tree.subscribe("a/+", SubscriptionEntry{fake(1), o1, 1}));
    CHECK_FALSE(tree.subscribe("a/+", SubscriptionEntry{fake(1), o2, 9}));
    CHECK(tree.subscribe("a/+", SubscriptionEntry{fake(2), o1, 3}));  // another session: new
    CHECK(tree.size() == 2);
    int seen = 0;
    tree.match(
        "a/x",
        [&](const SubscriptionEntry& e) {
            ++seen;
            if (e.session == fake(1)) {
                CHECK(e.options.qos == 2);
                CHECK(e.subscription_id == 9);
            }
        },
        [](ShareGroup&) { FAIL("no group expected"); });
    CHECK(seen == 2);
}

TEST_CASE("[MQTT-4.8.2] shared subscriptions: stored under the real filter, each group yielded once") {
    SubscriptionTree tree;
    CHECK(tree.subscribe("$share/g/a/+", SubscriptionEntry{fake(1), {}, 1}));
    CHECK(tree.subscribe("$share/g/a/+", SubscriptionEntry{fake(2), {}, 2}));
    CHECK(tree.subscribe("$share/h/a/+", SubscriptionEntry{fake(3), {}, 3}));
    CHECK(tree.subscribe("$share/g/a/#", SubscriptionEntry{fake(4), {}, 4}));  // other filter
    CHECK(tree.subscribe("a/+", SubscriptionEntry{fake(1), {}, 5}));           // not shared
    CHECK_FALSE(tree.subscribe("$share/g/a/+", SubscriptionEntry{fake(2), {}, 6}));  // replace
    CHECK(tree.size() == 5);

    std::vector<std::string> groups;
    size_t members_g_plus = 0;
    int entries = 0;
    tree.match(
        "a/x", [&](const SubscriptionEntry& e) { ++entries; CHECK(e.subscription_id == 5); },
        [&](ShareGroup& g) {
            groups.push_back(g.name);
            if (g.name == "g" && g.members.size() == 2) {
                ++members_g_plus;
                CHECK(g.members[1].subscription_id == 6);
            }
        });
    std::sort(groups.begin(), groups.end());
    CHECK(groups == std::vector<std::string>{"g", "g", "h"});  // g under a/+ and under a/#
    CHECK(members_g_plus == 1);
    CHECK(entries == 1);
    // A shared filter is not matched literally as a topic "$share/...".
    CHECK(matched(tree, "$share/g/a/x").empty());

    // Unsubscribe: wrong group or session is a no-op; the last member removes the group.
    CHECK_FALSE(tree.unsubscribe("$share/zz/a/+", fake(1)));
    CHECK_FALSE(tree.unsubscribe("$share/h/a/+", fake(1)));
    CHECK_FALSE(tree.unsubscribe("a/+", fake(3)));
    CHECK(tree.unsubscribe("$share/h/a/+", fake(3)));
    CHECK(matched(tree, "a/x") == std::vector<std::string>{"5", "group:g", "group:g"});
    CHECK(tree.unsubscribe("$share/g/a/+", fake(1)));
    CHECK(tree.unsubscribe("$share/g/a/+", fake(2)));
    CHECK(tree.unsubscribe("$share/g/a/#", fake(4)));
    CHECK(tree.unsubscribe("a/+", fake(1)));
    CHECK(tree.size() == 0);
    CHECK(tree.node_count() == 0);
}

TEST_CASE("share group round robin cursor stays in range after a member leaves") {
    SubscriptionTree tree;
    for (uintptr_t i = 1; i <= 3; ++i) tree.subscribe("$share/g/t", SubscriptionEntry{fake(i), {}, 0});
    tree.match("t", [](const SubscriptionEntry&) {}, [](ShareGroup& g) { g.next_index = 2; });
    CHECK(tree.unsubscribe("$share/g/t", fake(3)));
    tree.match("t", [](const SubscriptionEntry&) {},
               [](ShareGroup& g) { CHECK(g.next_index < g.members.size()); });
}

TEST_CASE("[MQTT-3.10.4-1] unsubscribe removes only the exact filter and prunes empty nodes") {
    SubscriptionTree tree;
    tree.subscribe("a/b/c/d", SubscriptionEntry{fake(1), {}, 1});
    tree.subscribe("a/b", SubscriptionEntry{fake(1), {}, 2});
    tree.subscribe("a/+/#", SubscriptionEntry{fake(2), {}, 3});
    CHECK(tree.node_count() == 6);  // a, b, c, d, +, #
    CHECK_FALSE(tree.unsubscribe("a/b/c", fake(1)));  // inner node, no subscription there
    CHECK_FALSE(tree.unsubscribe("a/+", fake(2)));
    CHECK_FALSE(tree.unsubscribe("x/y", fake(1)));
    CHECK(tree.unsubscribe("a/b/c/d", fake(1)));
    CHECK(tree.node_count() == 4);  // c and d pruned; a/b still holds a subscription
    CHECK(matched(tree, "a/b") == std::vector<std::string>{"2", "3"});
    CHECK(tree.unsubscribe("a/+/#", fake(2)));
    CHECK(tree.node_count() == 2);
    CHECK(tree.unsubscribe("a/b", fake(1)));
    CHECK(tree.node_count() == 0);
    CHECK(tree.size() == 0);
    CHECK(matched(tree, "a/b").empty());
}

TEST_CASE("subscription tree: a level with many children (hash index) subscribes, matches, prunes") {
    SubscriptionTree tree;
    const int n = 200;
    for (int i = 0; i < n; ++i)
        tree.subscribe("users/u" + std::to_string(i) + "/#", SubscriptionEntry{fake(i + 1), {}, uint32_t(i)});
    CHECK(tree.size() == n);
    for (int i = 0; i < n; i += 37)
        CHECK(matched(tree, "users/u" + std::to_string(i) + "/x") == std::vector<std::string>{std::to_string(i)});
    for (int i = 0; i < n; i += 2) CHECK(tree.unsubscribe("users/u" + std::to_string(i) + "/#", fake(i + 1)));
    for (int i = 0; i < n; ++i) {
        auto got = matched(tree, "users/u" + std::to_string(i));
        CHECK(got.size() == size_t(i % 2));
    }
    for (int i = 1; i < n; i += 2) CHECK(tree.unsubscribe("users/u" + std::to_string(i) + "/#", fake(i + 1)));
    CHECK(tree.node_count() == 0);
}

TEST_CASE("subscription tree: a very deep filter is torn down without deep recursion") {
    SubscriptionTree tree;
    std::string deep(20000, '/');
    tree.subscribe(deep, SubscriptionEntry{fake(1), {}, 1});
    CHECK(tree.size() == 1);
}
