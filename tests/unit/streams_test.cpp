// The pure rules of streams (broker/core/streams.h): stream keys of topics, which filters
// cover a whole stream, a device's starting cursor, and how a live entry meets a replay.
#include <doctest/doctest.h>

#include "broker/core/streams.h"

using namespace herald::core;

TEST_CASE("streams: the stream of a topic is its first two levels under users/ or groups/") {
    CHECK(stream_key("users/alice/bob") == "users/alice");
    CHECK(stream_key("users/alice/bob/x/y") == "users/alice");
    CHECK(stream_key("groups/devs/carol") == "groups/devs");
    CHECK(stream_key("users/alice").empty());  // no {from}: not publishable
    CHECK(stream_key("users//bob").empty());
    CHECK(stream_key("usersx/alice/bob").empty());
    CHECK(stream_key("presence/alice/x").empty());
    CHECK(stream_key("chat/alice/bob").empty());
    CHECK(stream_key("").empty());
}

TEST_CASE("streams: a filter covers a stream only when it matches every topic of it") {
    for (const char* f : {"users/alice/#", "users/+/#", "+/alice/#", "+/+/#", "#", "users/#",
                          "users/alice/+/#", "+/#"})
        CHECK_MESSAGE(filter_covers_stream(f, "users/alice"), f);
    for (const char* f : {"users/alice/bob", "users/alice/+", "users/bob/#", "groups/alice/#",
                          "users/alice", "users/+", "users/alice/bob/#", "users/alice/+/+/#", "users/+/+"})
        CHECK_FALSE_MESSAGE(filter_covers_stream(f, "users/alice"), f);
    CHECK(filter_covers_stream("groups/+/#", "groups/devs"));
    CHECK_FALSE(filter_covers_stream("users/+/#", "groups/devs"));
}

TEST_CASE("streams: a new device starts at the highest cursor of its user's devices") {
    StreamInfo info;
    CHECK(info.user_max_cursor("ann") == 0);
    info.cursors[device_key("ann", "phone")] = 7;
    info.cursors[device_key("ann", "laptop")] = 3;
    info.cursors[device_key("anna", "phone")] = 20;  // another user whose name starts alike
    info.cursors[device_key("bob", "phone")] = 30;
    CHECK(info.user_max_cursor("ann") == 7);
    CHECK(info.user_max_cursor("anna") == 20);
    CHECK(info.user_max_cursor("an") == 0);
}

TEST_CASE("streams: live entries are delivered strictly by seq, never during a replay") {
    StreamReader r;
    r.delivered = 5;
    CHECK(live_step(r, 6) == LiveStep::Deliver);
    CHECK(live_step(r, 5) == LiveStep::Skip);  // already delivered
    CHECK(live_step(r, 3) == LiveStep::Skip);
    CHECK(live_step(r, 8) == LiveStep::Replay);  // a gap: the store has 6 and 7
    r.replaying = true;
    CHECK(live_step(r, 6) == LiveStep::Skip);  // the replay will read it from the store
    CHECK(live_step(r, 9) == LiveStep::Skip);
    r.replaying = false;
    r.delivered = 9;
    CHECK(live_step(r, 10) == LiveStep::Deliver);
}
