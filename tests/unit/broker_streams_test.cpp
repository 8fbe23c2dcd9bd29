// Core's side of streams (SPEC 5) against a Store that keeps streams in memory and answers
// reads only when the test says: the ack held until commit, replay oldest first, live entries
// arriving during a replay neither lost nor doubled, cursors moved by PUBACK only.
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "broker/core/store.h"
#include "broker_test_util.h"

using namespace herald;
using namespace herald::core::test;
using core::Broker;
using mqtt::PacketType;
using mqtt::ReasonCode;

namespace {

// Streams in memory. A read sees what was appended before it was posted (as the writer
// thread's op order guarantees) and is answered by answer_reads().
class StreamStore final : public core::Store {
public:
    std::map<std::string, std::map<uint64_t, core::MessagePtr>> entries;
    std::map<std::string, uint64_t> cursors;  // stream + " " + user + " " + client -> seq
    std::vector<std::function<void(bool)>> commits;
    std::vector<std::function<void()>> reads;

    void retained_set(const core::Message&) override {}
    void retained_erase(const std::string&) override {}
    std::vector<core::Message> retained_load() override { return {}; }
    bool keeps_sessions() const override { return false; }
    void session_save(const core::StoredSession&) override {}
    void session_delete(const std::string&) override {}
    void subscription_set(const std::string&, const core::StoredSubscription&) override {}
    void subscription_erase(const std::string&, std::string_view) override {}
    void message_put(std::string_view, uint64_t, core::StoredState, uint16_t, const core::Message&, uint8_t,
                     bool, std::span<const uint32_t>) override {}
    void message_state(std::string_view, uint64_t, core::StoredState, uint16_t) override {}
    void message_erase(std::string_view, uint64_t) override {}
    std::vector<core::LoadedSession> sessions_load() override { return {}; }
    void after_commit(std::function<void(bool)> fn) override { commits.push_back(std::move(fn)); }

    bool keeps_streams() const override { return true; }
    void stream_append(const std::string& stream, const core::Message& m, std::string_view, uint64_t,
                       uint64_t) override {
        entries[stream][m.stream_seq] = std::make_shared<const core::Message>(m);
    }
    void stream_cursor_set(const core::StreamCursor& c) override {
        cursors[c.stream + " " + c.user + " " + c.client_id] = c.seq;
    }
    void stream_read(const std::string& stream, uint64_t after, size_t limit, std::string,
                     std::function<void(core::StreamRead)> done) override {
        core::StreamRead r{true, {}};
        for (auto& [seq, m] : entries[stream])
            if (seq > after && r.entries.size() < limit) r.entries.emplace_back(seq, m);
        reads.push_back([r = std::move(r), done = std::move(done)] { done(r); });
    }

    void commit() {
        auto fns = std::move(commits);
        commits.clear();
        for (auto& fn : fns) fn(true);
    }
    void answer_reads() {
        while (!reads.empty()) {
            auto fns = std::move(reads);
            reads.clear();
            for (auto& fn : fns) fn();
        }
    }
};

struct Fixture {
    core::Config config;
    StreamStore store;
    ManualClock clock;
    std::unique_ptr<Broker> broker;
    Fixture() {
        spdlog::set_level(spdlog::level::warn);
        config.allow_anonymous = true;
        config.sys_interval = 0;
        broker = std::make_unique<Broker>(config, store, clock);
    }
};

// The payloads of the PUBLISHes in `packets`; their packet ids in `ids`.
std::vector<std::string> payloads(const std::vector<mqtt::Packet>& packets, std::vector<uint16_t>* ids = nullptr) {
    std::vector<std::string> out;
    for (const auto& p : packets)
        if (auto* m = std::get_if<mqtt::Publish>(&p)) {
            out.push_back(*m->payload);
            if (ids) ids->push_back(m->packet_id);
        }
    return out;
}

}  // namespace

TEST_CASE("streams: the sender's PUBACK waits for the commit of the entry") {
    Fixture f;
    auto bob = connect(*f.broker, "bob-1", std::string("bob"));
    bob->send(make_publish("users/alice/bob", "hi", 1, 5));
    CHECK(bob->take().empty());  // not yet committed
    f.store.commit();
    auto out = bob->take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Ack>(out[0]).packet_id == 5);
    CHECK(std::get<mqtt::Ack>(out[0]).reason == ReasonCode::Success);  // stored, though nobody listens
    CHECK(f.store.entries["users/alice"].size() == 1);
    bob->send(make_publish("users/alice/bob", "typing", 0));
    CHECK(f.store.entries["users/alice"].size() == 1);  // QoS 0: never stored
}

TEST_CASE("streams: live entries during a replay wait for it: no gap, no duplicate, by seq") {
    Fixture f;
    Broker& b = *f.broker;
    auto bob = connect(b, "bob-1", std::string("bob"));
    {
        auto alice = connect(b, "alice-phone", std::string("alice"));
        subscribe(*alice, "users/alice/#");  // a known device from now on, cursor 0
        alice->end();
    }
    for (int i = 1; i <= 3; ++i) bob->send(make_publish("users/alice/bob", "m" + std::to_string(i), 1, i));
    f.store.commit();
    auto alice = connect(b, "alice-phone", std::string("alice"));
    subscribe(*alice, "users/alice/#");
    REQUIRE(f.store.reads.size() == 1);  // replay of 1..3 asked
    // Two more arrive before the read is answered: not delivered live (the replay reads them).
    bob->send(make_publish("users/alice/bob", "m4", 1, 4));
    bob->send(make_publish("users/alice/bob", "m5", 1, 5));
    CHECK(payloads(alice->take()).empty());
    f.store.answer_reads();  // 1..3, then a second read for 4..5
    std::vector<uint16_t> ids;
    CHECK(payloads(alice->take(), &ids) == std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"});
    // Live again: the next one comes at once.
    bob->send(make_publish("users/alice/bob", "m6", 1, 6));
    CHECK(payloads(alice->take(), &ids) == std::vector<std::string>{"m6"});
    CHECK(f.store.reads.empty());
    // The cursor follows the device's PUBACKs only.
    CHECK(f.store.cursors["users/alice alice alice-phone"] == 0);
    alice->send(make_ack(PacketType::Puback, ids[0]));
    alice->send(make_ack(PacketType::Puback, ids[1]));
    CHECK(f.store.cursors["users/alice alice alice-phone"] == 2);
    alice->end();
    // Back: from m3 on.
    auto again = connect(b, "alice-phone", std::string("alice"));
    subscribe(*again, "users/alice/#");
    f.store.answer_reads();
    CHECK(payloads(again->take()) == std::vector<std::string>{"m3", "m4", "m5", "m6"});
}

TEST_CASE("streams: a narrower filter gets live messages but no replay and moves no cursor") {
    Fixture f;
    Broker& b = *f.broker;
    auto alice = connect(b, "alice-phone", std::string("alice"));
    subscribe(*alice, "users/alice/bob");
    auto bob = connect(b, "bob-1", std::string("bob"));
    bob->send(make_publish("users/alice/bob", "x", 1, 1));
    std::vector<uint16_t> ids;
    CHECK(payloads(alice->take(), &ids) == std::vector<std::string>{"x"});
    alice->send(make_ack(PacketType::Puback, ids[0]));
    CHECK(f.store.cursors.empty());
    CHECK(f.store.reads.empty());
}

namespace {

void subscribe_no_local(Peer& p, const std::string& filter) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({filter, {1, true}});
    p.send(s);
    auto out = p.take();
    REQUIRE(out.size() == 1);
    REQUIRE(std::get<mqtt::Suback>(out[0]).reasons == std::vector<ReasonCode>{ReasonCode::GrantedQoS1});
}

// `packets` is exactly one PUBACK, Success: the device's own publish went into the stream.
bool only_puback_success(const std::vector<mqtt::Packet>& packets) {
    return packets.size() == 1 && std::holds_alternative<mqtt::Ack>(packets[0]) &&
           std::get<mqtt::Ack>(packets[0]).reason == ReasonCode::Success;
}

}  // namespace

TEST_CASE("streams: No Local: the device's own entry counts as acked, never before an unacked one") {
    Fixture f;
    Broker& b = *f.broker;
    const std::string cursor = "users/alice alice alice-phone";
    auto bob = connect(b, "bob-1", std::string("bob"));
    auto alice = connect(b, "alice-phone", std::string("alice"));
    subscribe_no_local(*alice, "users/alice/#");
    bob->send(make_publish("users/alice/bob", "m1", 1, 1));
    f.store.commit();
    std::vector<uint16_t> ids;
    CHECK(payloads(alice->take(), &ids) == std::vector<std::string>{"m1"});  // not acked yet
    alice->send(make_publish("users/alice/alice", "own2", 1, 9));
    f.store.commit();
    CHECK(only_puback_success(alice->take()));  // not its own entry
    CHECK(f.store.cursors[cursor] == 0);     // m1 is not acknowledged: the cursor waits
    bob->send(make_publish("users/alice/bob", "m3", 1, 2));
    f.store.commit();
    CHECK(payloads(alice->take(), &ids) == std::vector<std::string>{"m3"});  // live, no gap read
    CHECK(f.store.reads.empty());
    alice->send(make_ack(PacketType::Puback, ids[0]));
    CHECK(f.store.cursors[cursor] == 2);  // m1, and its own entry after it
    alice->send(make_ack(PacketType::Puback, ids[1]));
    CHECK(f.store.cursors[cursor] == 3);
    alice->send(make_publish("users/alice/alice", "own4", 1, 10));
    f.store.commit();
    CHECK(only_puback_success(alice->take()));
    CHECK(f.store.cursors[cursor] == 4);  // nothing held before it: at once
    alice->end();

    // Away: two entries wait; back, its own entry arrives while the replay is being read.
    bob->send(make_publish("users/alice/bob", "m5", 1, 3));
    bob->send(make_publish("users/alice/bob", "m6", 1, 4));
    f.store.commit();
    auto again = connect(b, "alice-phone", std::string("alice"));
    subscribe_no_local(*again, "users/alice/#");
    again->send(make_publish("users/alice/alice", "own7", 1, 11));
    f.store.commit();
    CHECK(only_puback_success(again->take()));
    f.store.answer_reads();
    ids.clear();
    CHECK(payloads(again->take(), &ids) == std::vector<std::string>{"m5", "m6"});
    CHECK(f.store.cursors[cursor] == 4);
    for (uint16_t id : ids) again->send(make_ack(PacketType::Puback, id));
    CHECK(f.store.cursors[cursor] == 7);
    again->end();
    auto third = connect(b, "alice-phone", std::string("alice"));
    subscribe_no_local(*third, "users/alice/#");
    f.store.answer_reads();
    CHECK(payloads(third->take()).empty());
}
