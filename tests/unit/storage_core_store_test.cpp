// storage/core_store: core's session values <-> the store's records (times moved between the
// monotonic and the wall clock, options packed, subscription ids carried in the properties),
// and a persistent session written through CoreStore and loaded back after a "restart".
#include <doctest/doctest.h>

#include "storage/core_store.h"
#include "storage_test_util.h"

using namespace herald;
using namespace herald::storage;
using namespace herald::storage::test;

namespace {

core::Message message(std::string topic, std::string body) {
    core::Message m;
    m.topic = std::move(topic);
    m.payload = payload(std::move(body));
    m.qos = 2;
    m.props.content_type = "text/plain";
    m.props.user_properties.emplace_back("k", "v");
    return m;
}

}  // namespace

TEST_CASE("core_store: a session record carries the disconnect time on the wall clock") {
    ManualClock clock;
    clock.mono = 50'000;
    core::StoredSession s{"c1", std::string("amy"), 120, 0};
    SessionRecord r = to_session_record(s, clock);
    CHECK(r.client_id == "c1");
    CHECK(r.username == std::optional<std::string>("amy"));
    CHECK(r.expiry_interval == 120);
    CHECK(r.disconnected_at_wall_ms == 0);  // connected
    s.disconnected_at_mono_ms = 45'000;      // five seconds ago
    CHECK(to_session_record(s, clock).disconnected_at_wall_ms == kNow - 5'000);
}

TEST_CASE("core_store: subscription options are packed into the options byte and back") {
    mqtt::SubscribeOptions o;
    o.qos = 2;
    o.no_local = true;
    o.retain_as_published = true;
    o.retain_handling = 2;
    SubscriptionRecord r = to_subscription_record(core::StoredSubscription{"a/+", o, 7});
    CHECK(r.filter == "a/+");
    CHECK(r.subscription_id == 7);
    mqtt::SubscribeOptions back = unpack_options(r.options);
    CHECK(back.qos == 2);
    CHECK(back.no_local);
    CHECK(back.retain_as_published);
    CHECK(back.retain_handling == 2);
}

TEST_CASE("core_store: a session message keeps delivery QoS, retain, ids, and its expiry") {
    ManualClock clock;
    core::Message m = message("t/1", "hello");
    m.expiry_at_mono_ms = clock.mono + 30'000;
    const uint32_t ids[] = {3, 9};
    SessionMessageRecord r =
        to_session_message_record(12, core::StoredState::InflightPublish, 77, m, 1, true, ids, clock);
    CHECK(r.seq == 12);
    CHECK(r.state == MessageState::InflightPublish);
    CHECK(r.packet_id == 77);
    CHECK(r.topic == "t/1");
    CHECK(r.payload == m.payload);  // shared, not copied
    CHECK(r.qos == 1);
    CHECK(r.retain);
    CHECK(r.props.subscription_identifiers == std::vector<uint32_t>{3, 9});
    CHECK(r.expiry_at_wall_ms == kNow + 30'000);
    CHECK(m.props.subscription_identifiers.empty());  // the message itself is untouched

    // Back after a restart 10 s later, with a monotonic clock that starts again low.
    clock.wall += 10'000;
    clock.mono = 200;
    core::StoredMessage back = from_session_message_record(r, clock);
    CHECK(back.seq == 12);
    CHECK(back.state == core::StoredState::InflightPublish);
    CHECK(back.packet_id == 77);
    CHECK(back.qos == 1);
    CHECK(back.retain);
    CHECK(back.subscription_ids == std::vector<uint32_t>{3, 9});
    REQUIRE(back.message);
    CHECK(back.message->topic == "t/1");
    CHECK(*back.message->payload == "hello");
    CHECK(back.message->props.content_type == std::optional<std::string>("text/plain"));
    CHECK(back.message->props.subscription_identifiers.empty());
    CHECK(back.message->expiry_at_mono_ms == 200 + 20'000);
    for (auto st : {core::StoredState::Queued, core::StoredState::InflightPublish, core::StoredState::InflightPubrel})
        CHECK(from_message_state(to_message_state(st)) == st);
}

TEST_CASE("core_store: a loaded session expires its interval after its disconnect") {
    ManualClock clock;
    clock.mono = 1'000;
    SavedSession saved;
    saved.session = SessionRecord{"c1", std::nullopt, 60, kNow - 20'000};  // gone 20 s ago
    saved.subscriptions.push_back(SubscriptionRecord{"x/#", 1, 0});
    core::LoadedSession l = from_saved_session(saved, clock);
    CHECK(l.session.client_id == "c1");
    CHECK(l.session.expiry_interval == 60);
    CHECK(l.expires_at_mono_ms == 1'000 + 40'000);
    REQUIRE(l.subscriptions.size() == 1);
    CHECK(l.subscriptions[0].options.qos == 1);
    saved.session.expiry_interval = 0xFFFFFFFF;  // never
    CHECK(from_saved_session(saved, clock).expires_at_mono_ms == 0);
    saved.session.expiry_interval = 10;  // overdue: due now
    CHECK(from_saved_session(saved, clock).expires_at_mono_ms == 1'000);
}

TEST_CASE("core_store: a persistent session written through CoreStore comes back after a restart") {
    TempDir dir;
    ManualClock clock;
    bool committed = false;
    {
        Loop loop;
        auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
        REQUIRE(opened.ok());
        SqliteStore& sqlite = *opened.value().store;
        CoreStore store(sqlite, clock, {}, {});
        CHECK(store.keeps_sessions());
        sqlite.start(loop.get());
        store.session_save(core::StoredSession{"c1", std::string("amy"), 3600, 0});  // connected
        store.subscription_set("c1", core::StoredSubscription{"a/#", mqtt::SubscribeOptions{1}, 4});
        store.subscription_set("c1", core::StoredSubscription{"gone", mqtt::SubscribeOptions{1}, 0});
        store.subscription_erase("c1", "gone");
        core::Message m = message("a/b", "one");
        store.message_put("c1", 1, core::StoredState::InflightPublish, 5, m, 2, false, {});
        store.message_put("c1", 2, core::StoredState::Queued, 0, message("a/c", "two"), 1, false, {});
        store.message_put("c1", 3, core::StoredState::Queued, 0, message("a/d", "three"), 1, false, {});
        store.message_state("c1", 1, core::StoredState::InflightPubrel, 5);
        store.message_erase("c1", 2);
        store.session_save(core::StoredSession{"c2", std::nullopt, 10, 0});
        store.session_delete("c2");
        store.after_commit([&](bool ok) { committed = ok; });
        REQUIRE(run_until(loop.get(), [&] { return committed; }));
        sqlite.close();
    }
    // Restarted 5 s later: c1 was still connected (a crash), so it counts as disconnected now.
    clock.wall += 5'000;
    clock.mono = 300;
    auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
    REQUIRE(opened.ok());
    Loop loop;
    SqliteStore& sqlite = *opened.value().store;
    CoreStore store(sqlite, clock, {}, std::move(opened.value().state.sessions));
    sqlite.start(loop.get());
    auto loaded = store.sessions_load();
    REQUIRE(loaded.size() == 1);
    const core::LoadedSession& l = loaded[0];
    CHECK(l.session.client_id == "c1");
    CHECK(l.session.username == std::optional<std::string>("amy"));
    CHECK(l.expires_at_mono_ms == 300 + 3'600'000);
    REQUIRE(l.subscriptions.size() == 1);
    CHECK(l.subscriptions[0].filter == "a/#");
    CHECK(l.subscriptions[0].subscription_id == 4);
    REQUIRE(l.messages.size() == 2);
    CHECK(l.messages[0].seq == 1);
    CHECK(l.messages[0].state == core::StoredState::InflightPubrel);
    CHECK(l.messages[0].packet_id == 5);
    CHECK(l.messages[1].seq == 3);
    CHECK(l.messages[1].state == core::StoredState::Queued);
    CHECK(*l.messages[1].message->payload == "three");
    CHECK(store.sessions_load().empty());  // handed out once
    // The "connected at the crash" session was saved as disconnected at this start.
    bool done = false;
    sqlite.session_load("c1", [&](Result<std::optional<SavedSession>> r) {
        REQUIRE(r.ok());
        REQUIRE(r.value());
        CHECK(r.value()->session.disconnected_at_wall_ms == clock.wall);
        done = true;
    });
    REQUIRE(run_until(loop.get(), [&] { return done; }));
    sqlite.close();
}

TEST_CASE("core_store: one message put for many sessions is one op, each row its own delivery") {
    TempDir dir;
    ManualClock clock;
    {
        Loop loop;
        auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
        REQUIRE(opened.ok());
        SqliteStore& sqlite = *opened.value().store;
        CoreStore store(sqlite, clock, {}, {});
        sqlite.start(loop.get());
        core::Message m = message("fan/out", "shared");
        const uint32_t ids[] = {5};
        for (const char* id : {"a", "b", "c"}) store.session_save(core::StoredSession{id, std::nullopt, 60, 0});
        const auto before = sqlite.mark();
        store.message_put("a", 1, core::StoredState::Queued, 0, m, 1, false, {});
        store.message_put("b", 2, core::StoredState::InflightPublish, 9, m, 2, true, ids);
        store.message_put("c", 3, core::StoredState::Queued, 0, m, 1, false, {});
        CHECK(sqlite.mark().posted == before.posted + 1);  // coalesced into one op
        store.message_erase("c", 3);
        store.message_put("c", 4, core::StoredState::Queued, 0, m, 1, false, {});  // after another op: a new one
        CHECK(sqlite.mark().posted == before.posted + 3);
        bool committed = false;
        store.after_commit([&](bool ok) { committed = ok; });
        REQUIRE(run_until(loop.get(), [&] { return committed; }));
        sqlite.close();
    }
    auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
    REQUIRE(opened.ok());
    auto& sessions = opened.value().state.sessions;
    REQUIRE(sessions.size() == 3);
    REQUIRE(sessions[0].messages.size() == 1);
    CHECK((sessions[0].messages[0].seq == 1 && sessions[0].messages[0].qos == 1));
    REQUIRE(sessions[1].messages.size() == 1);
    const SessionMessageRecord& b = sessions[1].messages[0];
    CHECK((b.seq == 2 && b.qos == 2 && b.retain && b.packet_id == 9 && b.state == MessageState::InflightPublish));
    CHECK(b.props.subscription_identifiers == std::vector<uint32_t>{5});
    CHECK(*b.payload == "shared");
    REQUIRE(sessions[2].messages.size() == 1);
    CHECK(sessions[2].messages[0].seq == 4);
    CHECK(sessions[2].messages[0].props.subscription_identifiers.empty());
}

TEST_CASE("core_store: state changes and erases in a row are one op, applied in order") {
    TempDir dir;
    ManualClock clock;
    {
        Loop loop;
        auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
        REQUIRE(opened.ok());
        SqliteStore& sqlite = *opened.value().store;
        CoreStore store(sqlite, clock, {}, {});
        sqlite.start(loop.get());
        for (const char* id : {"a", "b"}) store.session_save(core::StoredSession{id, std::nullopt, 60, 0});
        for (uint64_t seq = 1; seq <= 6; ++seq)
            store.message_put(seq % 2 ? "a" : "b", seq, core::StoredState::Queued, 0,
                              message("t/" + std::to_string(seq), "p"), 1, false, {});
        const auto before = sqlite.mark();
        store.message_state("a", 1, core::StoredState::InflightPublish, 11);
        store.message_state("b", 2, core::StoredState::InflightPublish, 12);
        store.message_erase("b", 2);
        store.message_state("a", 3, core::StoredState::InflightPublish, 13);
        store.message_state("a", 3, core::StoredState::InflightPubrel, 13);  // the later one wins
        store.message_erase("a", 5);
        store.message_erase("b", 99);  // no such row: nothing, no error
        CHECK(sqlite.mark().posted == before.posted + 1);
        store.message_put("b", 7, core::StoredState::Queued, 0, message("t/7", "p"), 1, false, {});
        store.message_erase("b", 4);  // after a put: a new op
        CHECK(sqlite.mark().posted == before.posted + 3);
        std::vector<Status> errors;
        sqlite.set_error_handler([&](const Status& s) { errors.push_back(s); });
        bool committed = false;
        store.after_commit([&](bool ok) { committed = ok; });
        REQUIRE(run_until(loop.get(), [&] { return committed; }));
        CHECK(errors.empty());
        sqlite.close();
    }
    auto opened = SqliteStore::open(dir.db(), Durability::Process, clock.wall);
    REQUIRE(opened.ok());
    auto& sessions = opened.value().state.sessions;
    REQUIRE(sessions.size() == 2);
    const auto& a = sessions[0].messages;
    REQUIRE(a.size() == 2);
    CHECK((a[0].seq == 1 && a[0].state == MessageState::InflightPublish && a[0].packet_id == 11));
    CHECK((a[1].seq == 3 && a[1].state == MessageState::InflightPubrel && a[1].packet_id == 13));
    const auto& b = sessions[1].messages;
    REQUIRE(b.size() == 2);
    CHECK(b[0].seq == 6);
    CHECK(b[1].seq == 7);
}
