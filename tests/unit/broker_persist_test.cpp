// Core's side of persistent sessions, against a Store that records what it is told and
// commits when the test says: which sessions are written (persistent ones only), the acks to
// publishers held until commit and kept in order, and sessions rebuilt from a load at start.
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <string>
#include <vector>

#include "broker/core/store.h"
#include "broker_test_util.h"

using namespace herald;
using namespace herald::core::test;
using core::Broker;
using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

namespace {

// Records every session write as a line; after_commit waits until commit().
class RecordingStore final : public core::Store {
public:
    std::vector<std::string> log;
    std::vector<std::function<void(bool)>> waiting;
    std::vector<core::LoadedSession> to_load;

    void commit(bool ok = true) {
        auto fns = std::move(waiting);
        waiting.clear();
        for (auto& fn : fns) fn(ok);
    }
    bool logged(const std::string& prefix) const {
        for (const auto& l : log)
            if (l.rfind(prefix, 0) == 0) return true;
        return false;
    }

    void retained_set(const core::Message& m) override { log.push_back("retained " + m.topic); }
    void retained_erase(const std::string& t) override { log.push_back("retained-erase " + t); }
    std::vector<core::Message> retained_load() override { return {}; }
    bool keeps_sessions() const override { return true; }
    void session_save(const core::StoredSession& s) override {
        log.push_back("save " + s.client_id + (s.disconnected_at_mono_ms ? " disconnected" : " connected"));
    }
    void session_delete(const std::string& id) override { log.push_back("delete " + id); }
    void subscription_set(const std::string& id, const core::StoredSubscription& s) override {
        log.push_back("sub " + id + " " + s.filter + " q" + std::to_string(s.options.qos));
    }
    void subscription_erase(const std::string& id, std::string_view f) override {
        log.push_back("unsub " + id + " " + std::string(f));
    }
    void message_put(std::string_view id, uint64_t seq, core::StoredState st, uint16_t pid,
                     const core::Message& m, uint8_t qos, bool, std::span<const uint32_t>) override {
        log.push_back("put " + std::string(id) + " " + std::to_string(seq) + " " + m.topic + " q" + std::to_string(qos) +
                      (st == core::StoredState::Queued ? " queued" : " sent " + std::to_string(pid)));
    }
    void message_state(std::string_view id, uint64_t seq, core::StoredState st, uint16_t) override {
        log.push_back("state " + std::string(id) + " " + std::to_string(seq) +
                      (st == core::StoredState::InflightPubrel ? " pubrel" : " sent"));
    }
    void message_erase(std::string_view id, uint64_t seq) override {
        log.push_back("erase " + std::string(id) + " " + std::to_string(seq));
    }
    std::vector<core::LoadedSession> sessions_load() override { return std::move(to_load); }
    void after_commit(std::function<void(bool)> fn) override { waiting.push_back(std::move(fn)); }
};

struct Fixture {
    core::Config config;
    RecordingStore store;
    ManualClock clock;
    std::unique_ptr<Broker> broker;
    Fixture() {
        spdlog::set_level(spdlog::level::warn);
        config.allow_anonymous = true;
        config.sys_interval = 0;
    }
    Broker& start() {
        broker = std::make_unique<Broker>(config, store, clock);
        return *broker;
    }
    void advance(uint64_t ms) {
        clock.now += ms;
        broker->on_tick();
    }
};

// The packet ids of the acks of `type` in `packets`, in order.
std::vector<uint16_t> acks(const std::vector<mqtt::Packet>& packets, PacketType type) {
    std::vector<uint16_t> ids;
    for (const auto& p : packets)
        if (auto* a = std::get_if<mqtt::Ack>(&p); a && a->type == type) ids.push_back(a->packet_id);
    return ids;
}

}  // namespace

TEST_CASE("persist: a clean session never touches the store and its publisher is acked at once") {
    Fixture f;
    Broker& b = f.start();
    auto sub = connect(b, make_connect("clean-sub"));
    subscribe(*sub, "t/#", 1);
    auto pub = connect(b, make_connect("pub"));
    pub->send(make_publish("t/1", "x", 1, 7));
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{7});
    sub->end();
    CHECK(f.store.log.empty());
    CHECK(f.store.waiting.empty());
}

TEST_CASE("persist: a persistent session is written through, and its publisher acked after commit") {
    Fixture f;
    Broker& b = f.start();
    auto sub = connect(b, make_connect("ps", ProtocolVersion::V5, false, 3600));
    subscribe(*sub, "t/#", 2);
    CHECK(f.store.log == std::vector<std::string>{"save ps connected", "sub ps t/# q2"});
    auto pub = connect(b, make_connect("pub"));
    pub->send(make_publish("t/1", "one", 1, 7));
    CHECK(f.store.logged("put ps 1 t/1 q1 sent"));
    CHECK(pub->take().empty());  // waits for the commit
    f.store.commit();
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{7});

    auto out = sub->take();
    REQUIRE(out.size() == 1);
    const uint16_t pid = std::get<mqtt::Publish>(out[0]).packet_id;
    sub->send(make_ack(PacketType::Puback, pid));
    CHECK(f.store.log.back() == "erase ps 1");

    // Offline: queued, then sent from the queue on resume, QoS 2 through PUBREC and PUBCOMP.
    sub->end();
    CHECK(f.store.log.back() == "save ps disconnected");
    pub->send(make_publish("t/2", "two", 2, 8));
    CHECK(f.store.log.back() == "put ps 2 t/2 q2 queued");
    f.store.commit();
    CHECK(acks(pub->take(), PacketType::Pubrec) == std::vector<uint16_t>{8});
    bool present = false;
    auto again = connect(b, make_connect("ps", ProtocolVersion::V5, false, 3600), &present);
    CHECK(present);
    out = again->take();
    REQUIRE(out.size() == 1);
    const uint16_t pid2 = std::get<mqtt::Publish>(out[0]).packet_id;
    CHECK(f.store.log.back() == "state ps 2 sent");
    again->send(make_ack(PacketType::Pubrec, pid2));
    CHECK(f.store.log.back() == "state ps 2 pubrel");
    again->send(make_ack(PacketType::Pubcomp, pid2));
    CHECK(f.store.log.back() == "erase ps 2");

    // A clean start ends it: its messages erased by seq (the store finds them by seq only), then deleted.
    again->end();
    pub->send(make_publish("t/3", "three", 1, 9));
    CHECK(f.store.log.back() == "put ps 3 t/3 q1 queued");
    f.store.commit();
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{9});
    auto fresh = connect(b, make_connect("ps", ProtocolVersion::V5, true, 0));
    REQUIRE(f.store.log.size() >= 2);
    CHECK(f.store.log[f.store.log.size() - 2] == "erase ps 3");
    CHECK(f.store.log.back() == "delete ps");
}

TEST_CASE("persist: an ack waiting for a commit is never overtaken by a later one [MQTT-4.6.0-2]") {
    Fixture f;
    Broker& b = f.start();
    auto ps = connect(b, make_connect("ps", ProtocolVersion::V311, false));
    subscribe(*ps, "stored/#", 1);
    ps->end();
    auto clean = connect(b, make_connect("clean"));
    subscribe(*clean, "fast/#", 1);
    auto pub = connect(b, make_connect("pub", ProtocolVersion::V311));
    auto other = connect(b, make_connect("other", ProtocolVersion::V311));

    pub->send(make_publish("stored/1", "a", 1, 1));  // needs a commit
    pub->send(make_publish("fast/1", "b", 1, 2));    // would not, but must not overtake 1
    pub->send(make_publish("stored/2", "c", 1, 3));
    other->send(make_publish("fast/2", "d", 1, 9));  // another client: not held
    CHECK(acks(other->take(), PacketType::Puback) == std::vector<uint16_t>{9});
    CHECK(pub->take().empty());
    REQUIRE(f.store.waiting.size() == 2);
    f.store.waiting[0](true);  // the first commit: acks 1 and 2, not 3
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{1, 2});
    f.store.waiting[1](true);
    f.store.waiting.clear();
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{3});
    pub->send(make_publish("fast/3", "e", 1, 4));  // nothing held any more: at once
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{4});
}

TEST_CASE("persist: a failed commit withholds the ack (5.0: 0x80); a gone publisher gets nothing") {
    Fixture f;
    Broker& b = f.start();
    auto ps = connect(b, make_connect("ps", ProtocolVersion::V5, false, 60));
    subscribe(*ps, "t", 1);
    ps->end();
    auto v5 = connect(b, make_connect("v5"));
    auto v3 = connect(b, make_connect("v3", ProtocolVersion::V311));
    v5->send(make_publish("t", "a", 1, 1));
    v3->send(make_publish("t", "b", 1, 1));
    v3->send(make_publish("other", "c", 1, 2));  // queued behind the failing one
    f.store.commit(false);
    auto out = v5->take();
    REQUIRE(out.size() == 1);
    CHECK(std::get<mqtt::Ack>(out[0]).reason == ReasonCode::UnspecifiedError);
    CHECK(acks(v3->take(), PacketType::Puback) == std::vector<uint16_t>{2});  // not 1

    v5->send(make_publish("t", "d", 1, 2));
    v5->end();  // gone before the commit
    f.store.commit();
    CHECK(v5->conn.out.empty());
}

TEST_CASE("persist: queue limits drop before the store sees the message; drops from the queue erase") {
    Fixture f;
    f.config.max_queued_messages = 1;
    Broker& b = f.start();
    auto ps = connect(b, make_connect("ps", ProtocolVersion::V5, false, 60));
    subscribe(*ps, "t", 1);
    ps->end();
    auto pub = connect(b, make_connect("pub"));
    mqtt::Publish expiring = make_publish("t", "short", 1, 1);
    expiring.props.message_expiry_interval = 1;
    pub->send(expiring);
    pub->send(make_publish("t", "over the limit", 1, 2));
    f.store.commit();
    CHECK(acks(pub->take(), PacketType::Puback) == std::vector<uint16_t>{1, 2});
    CHECK(f.store.log.back() == "put ps 1 t q1 queued");  // the second was never put
    f.clock.now += 2000;
    auto again = connect(b, make_connect("ps", ProtocolVersion::V5, false, 60));
    CHECK(again->take().empty());
    CHECK(f.store.log.back() == "erase ps 1");  // expired in the queue
}

TEST_CASE("persist: sessions loaded at start are rebuilt disconnected, and resumed") {
    Fixture f;
    core::LoadedSession l;
    l.session = core::StoredSession{"ps", std::nullopt, 60, 0};
    l.expires_at_mono_ms = f.clock.now + 30'000;
    l.subscriptions.push_back(core::StoredSubscription{"t/#", mqtt::SubscribeOptions{1}, 0});
    auto message = [](const char* body) {
        auto m = std::make_shared<core::Message>();
        m->topic = "t/x";
        m->payload = std::make_shared<const std::string>(body);
        m->qos = 1;
        return m;
    };
    l.messages.push_back(core::StoredMessage{4, core::StoredState::InflightPublish, 42, message("inflight"), 1, false, {}});
    l.messages.push_back(core::StoredMessage{5, core::StoredState::InflightPubrel, 43, message(""), 2, false, {}});
    l.messages.push_back(core::StoredMessage{9, core::StoredState::Queued, 0, message("queued"), 1, false, {}});
    f.store.to_load.push_back(std::move(l));
    Broker& b = f.start();
    CHECK(b.stats().clients_total == 1);

    bool present = false;
    auto s = connect(b, make_connect("ps", ProtocolVersion::V5, false, 60), &present);
    CHECK(present);
    auto out = s->take();
    REQUIRE(out.size() == 3);
    auto& p1 = std::get<mqtt::Publish>(out[0]);
    CHECK((p1.packet_id == 42 && p1.dup && *p1.payload == "inflight"));
    auto& rel = std::get<mqtt::Ack>(out[1]);
    CHECK((rel.type == PacketType::Pubrel && rel.packet_id == 43));
    auto& p3 = std::get<mqtt::Publish>(out[2]);
    CHECK((!p3.dup && *p3.payload == "queued"));
    CHECK(f.store.log.back() == "state ps 9 sent");
    // A new message gets a seq above the loaded ones; the subscription is back in the tree.
    auto pub = connect(b, make_connect("pub"));
    pub->send(make_publish("t/y", "new", 1, 1));
    CHECK(f.store.logged("put ps 10 t/y"));
}

TEST_CASE("persist: a loaded session expires at the time the store gave") {
    Fixture f;
    core::LoadedSession l;
    l.session = core::StoredSession{"ps", std::nullopt, 60, 0};
    l.expires_at_mono_ms = f.clock.now + 5'000;
    f.store.to_load.push_back(std::move(l));
    f.start();
    f.advance(4'000);
    CHECK(f.broker->stats().clients_total == 1);
    f.advance(2'000);
    CHECK(f.broker->stats().clients_total == 0);
    CHECK(f.store.log.back() == "delete ps");
}
