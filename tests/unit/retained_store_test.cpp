// Retained store: set/replace/erase, filter walks (wildcards, '$' rule), expiry, pruning.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "broker/core/retained_store.h"

using herald::core::Message;
using herald::core::MessagePtr;
using herald::core::RetainedStore;

namespace {

MessagePtr msg(const std::string& topic, const std::string& payload = "p", uint64_t expiry = 0) {
    auto m = std::make_shared<Message>();
    m->topic = topic;
    m->payload = std::make_shared<const std::string>(payload);
    m->retain = true;
    m->expiry_at_mono_ms = expiry;
    return m;
}

std::vector<std::string> topics(const RetainedStore& store, std::string_view filter, uint64_t now = 0) {
    std::vector<std::string> out;
    store.match(filter, now, [&](const MessagePtr& m) { out.push_back(m->topic); });
    std::sort(out.begin(), out.end());
    return out;
}

using V = std::vector<std::string>;

std::string join(const V& v) {
    std::string out;
    for (const auto& s : v) out += "[" + s + "]";
    return out;
}

}  // namespace

TEST_CASE("[MQTT-3.3.1-5] retained store: set replaces the message on a topic") {
    RetainedStore store;
    store.set(msg("a/b", "one"));
    store.set(msg("a/b", "two"));
    CHECK(store.size() == 1);
    std::string payload;
    store.match("a/b", 0, [&](const MessagePtr& m) { payload = *m->payload; });
    CHECK(payload == "two");
}

TEST_CASE("retained store: filter walk table") {
    RetainedStore store;
    for (const char* t : {"a", "a/b", "a/b/c", "a/c", "a//c", "a/", "/a", "b", "$SYS/x", "$SYS",
                          "a/$x"})
        store.set(msg(t));
    CHECK(store.size() == 11);
    struct Case {
        const char* filter;
        V want;
    };
    const Case cases[] = {
        {"a", {"a"}},
        {"a/b", {"a/b"}},
        {"a/+", {"a/", "a/$x", "a/b", "a/c"}},
        {"a/+/c", {"a//c", "a/b/c"}},
        {"a/#", {"a", "a/", "a//c", "a/$x", "a/b", "a/b/c", "a/c"}},  // '#' includes "a"
        {"+", {"a", "b"}},
        {"+/+", {"/a", "a/", "a/$x", "a/b", "a/c"}},
        {"/+", {"/a"}},
        {"#", {"/a", "a", "a/", "a//c", "a/$x", "a/b", "a/b/c", "a/c", "b"}},
        {"$SYS/#", {"$SYS", "$SYS/x"}},
        {"$SYS/+", {"$SYS/x"}},
        {"+/x", {}},
        {"A", {}},
        {"a/b/c/d", {}},
        {"x/#", {}},
    };
    for (const auto& c : cases) {
        INFO("filter = ", std::string(c.filter));
        V want = c.want;
        std::sort(want.begin(), want.end());
        CHECK(join(topics(store, c.filter)) == join(want));
    }
}

TEST_CASE("[MQTT-4.7.2-1] retained: leading wildcards skip '$' topics") {
    RetainedStore store;
    store.set(msg("$SYS/broker/uptime"));
    store.set(msg("$share"));
    CHECK(topics(store, "#").empty());
    CHECK(topics(store, "+").empty());
    CHECK(topics(store, "+/broker/+").empty());
    CHECK(topics(store, "$SYS/broker/+") == V{"$SYS/broker/uptime"});
}

TEST_CASE("[MQTT-3.3.2-5] retained: expired messages are not delivered; expire() drops them") {
    RetainedStore store;
    store.set(msg("t/forever"));
    store.set(msg("t/soon", "p", 1000));
    store.set(msg("t/later", "p", 5000));
    CHECK(topics(store, "t/#", 999) == V{"t/forever", "t/later", "t/soon"});
    CHECK(topics(store, "t/#", 1000) == V{"t/forever", "t/later"});  // expiry_at <= now: gone
    CHECK(topics(store, "t/soon", 1000).empty());
    CHECK(store.expire(1000) == 1);
    CHECK(store.size() == 2);
    CHECK(store.expire(1000) == 0);
    CHECK(store.expire(6000) == 1);
    CHECK(store.size() == 1);
    CHECK(store.node_count() == 2);  // t, forever
}

TEST_CASE("retained store: erase prunes empty levels and keeps inner messages") {
    RetainedStore store;
    store.set(msg("a/b/c"));
    store.set(msg("a"));
    CHECK(store.node_count() == 3);
    CHECK_FALSE(store.erase("a/b"));  // inner level without a message
    CHECK_FALSE(store.erase("x"));
    CHECK(store.erase("a/b/c"));
    CHECK_FALSE(store.erase("a/b/c"));
    CHECK(store.node_count() == 1);
    CHECK(topics(store, "#") == V{"a"});
    CHECK(store.erase("a"));
    CHECK(store.size() == 0);
    CHECK(store.node_count() == 0);
}

TEST_CASE("retained store: many siblings (hash index) set, match and erase") {
    RetainedStore store;
    for (int i = 0; i < 300; ++i) store.set(msg("presence/u" + std::to_string(i)));
    CHECK(store.size() == 300);
    CHECK(topics(store, "presence/+").size() == 300);
    CHECK(topics(store, "presence/u42") == V{"presence/u42"});
    for (int i = 0; i < 300; i += 3) CHECK(store.erase("presence/u" + std::to_string(i)));
    CHECK(topics(store, "presence/+").size() == 200);
    CHECK(topics(store, "presence/u42").empty());
    CHECK(topics(store, "presence/u43") == V{"presence/u43"});
    for (int i = 0; i < 300; ++i)
        if (i % 3) CHECK(store.erase("presence/u" + std::to_string(i)));
    CHECK(store.node_count() == 0);
}

TEST_CASE("retained store: a very deep topic is stored and torn down") {
    RetainedStore store;
    store.set(msg(std::string(20000, '/')));
    CHECK(store.size() == 1);
}
