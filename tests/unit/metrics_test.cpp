// GET /metrics: the page render_metrics() writes, over a Broker on a real SQLite store. Checks
// the text format (every sample has its family's HELP and TYPE before it, names are valid,
// counters end in _total), the figures it shows (connections by transport, online users,
// messages, retained, subscriptions), and the store's commit latency histogram (cumulative
// buckets that never go down, +Inf equal to _count, a sum).
#include <map>
#include <regex>
#include <sstream>

#include "broker/net/metrics.h"
#include "broker_test_util.h"
#include "storage/core_store.h"
#include "storage_test_util.h"

using namespace herald;

namespace {

// A transport of a given kind that writes nowhere: the page counts connections by transport.
class KindConnection final : public core::Connection {
public:
    explicit KindConnection(const char* kind) : kind_(kind) {}
    std::string& output() override { return out_; }
    size_t pending_output_bytes() const override { return 0; }
    void close() override {}
    const std::string& peer() const override { return peer_; }
    const char* transport() const override { return kind_; }

private:
    const char* kind_;
    std::string out_, peer_ = "127.0.0.1:2";
};

struct Family {
    std::string help, type;
    std::vector<std::pair<std::string, std::string>> samples;  // (name with labels, value)
};

// Parses the exposition text; fails the test on a line out of place.
std::map<std::string, Family> parse_page(const std::string& page) {
    std::map<std::string, Family> families;
    const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+))");
    const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
    const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"\})? ([0-9.e+-]+))");
    std::string current;
    std::istringstream in(page);
    std::string line;
    REQUIRE(page.ends_with("\n"));
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, help)) {
            current = m[1];
            REQUIRE_MESSAGE(families.count(current) == 0, "family twice: " << current);
            families[current].help = m[2];
        } else if (std::regex_match(line, m, type)) {
            REQUIRE_MESSAGE(m[1] == current, "TYPE without its HELP: " << line);
            families[current].type = m[2];
        } else if (std::regex_match(line, m, sample)) {
            const std::string name = m[1];
            REQUIRE_MESSAGE(!current.empty(), "sample before any HELP: " << line);
            const bool ours = name == current || (families[current].type == "histogram" &&
                                                  (name == current + "_bucket" || name == current + "_sum" ||
                                                   name == current + "_count"));
            REQUIRE_MESSAGE(ours, "sample " << name << " under family " << current);
            REQUIRE_MESSAGE(!families[current].type.empty(), "sample before TYPE: " << line);
            families[current].samples.emplace_back(name + std::string(m[2]), m[3]);
        } else {
            FAIL("not a line of the text format: " << line);
        }
    }
    return families;
}

double value(const std::map<std::string, Family>& f, const std::string& family, const std::string& sample) {
    auto it = f.find(family);
    REQUIRE_MESSAGE(it != f.end(), "no family " << family);
    for (const auto& [name, v] : it->second.samples)
        if (name == sample) return std::stod(v);
    FAIL("no sample " << sample);
    return -1;
}

}  // namespace

TEST_CASE("metrics: the page is valid text format with the broker's figures and the store's histogram") {
    storage::test::TempDir dir;
    storage::test::ManualClock clock;
    storage::test::Loop loop;
    auto opened = storage::SqliteStore::open(dir.db(), storage::Durability::Process, clock.wall);
    REQUIRE(opened.ok());
    storage::SqliteStore& sqlite = *opened.value().store;
    storage::CoreStore store(sqlite, clock, {}, {});
    sqlite.start(loop.get());
    spdlog::set_level(spdlog::level::warn);
    core::Config config;
    config.allow_anonymous = true;
    config.sys_interval = 0;
    {
        core::Broker broker(config, store, clock);
        auto alice = core::test::connect(broker, "alice-phone", std::string("alice"));
        auto bob = core::test::connect(broker, "bob-laptop", std::string("bob"));
        KindConnection ws("ws"), tcp1("tcp"), tcp2("tcp");
        core::Client* c_ws = broker.on_open(ws);
        core::Client* c_tcp1 = broker.on_open(tcp1);
        core::Client* c_tcp2 = broker.on_open(tcp2);
        broker.on_closed(c_tcp2);
        CHECK(core::test::subscribe(*bob, "news/#", 0) == mqtt::ReasonCode::Success);
        std::string before_page;
        net::render_metrics(broker, before_page);
        // Presence records are retained too: the new message is counted on top of them.
        const auto before = parse_page(before_page);
        auto grew = [&before](const std::map<std::string, Family>& now, const std::string& name) {
            return value(now, name, name) - value(before, name, name);
        };
        // QoS 0: a QoS 1 PUBACK would wait for the store's commit (the loop runs below).
        CHECK(core::test::publish(*alice, "news/today", "hello", 0, true) == mqtt::ReasonCode::Success);
        bool committed = false;
        store.after_commit([&](bool ok) { committed = ok; });
        REQUIRE(storage::test::run_until(loop.get(), [&] { return committed; }));

        std::string page;
        net::render_metrics(broker, page);
        INFO(page);
        const auto f = parse_page(page);

        for (const auto& [name, family] : f) {
            CHECK_MESSAGE(name.starts_with("herald_"), name);
            CHECK_MESSAGE(!family.help.empty(), name);
            CHECK_MESSAGE(!family.samples.empty(), name);
            CHECK_MESSAGE(name.ends_with("_total") == (family.type == "counter"), name);
        }
        CHECK(f.at("herald_connections").type == "gauge");
        CHECK(value(f, "herald_connections", "herald_connections{transport=\"ws\"}") == 1);
        CHECK(value(f, "herald_connections", "herald_connections{transport=\"tcp\"}") == 1);
        CHECK(value(f, "herald_connections", "herald_connections{transport=\"other\"}") == 2);  // the test peers
        CHECK(value(f, "herald_connections", "herald_connections{transport=\"wss\"}") == 0);
        CHECK(value(f, "herald_clients_connected", "herald_clients_connected") == 2);
        CHECK(value(f, "herald_online_users", "herald_online_users") == 2);
        CHECK(value(f, "herald_messages_received_total", "herald_messages_received_total") == 1);
        CHECK(grew(f, "herald_messages_sent_total") == 1);  // to bob
        CHECK(grew(f, "herald_packets_received_total") == 1);
        CHECK(value(f, "herald_packets_received_total", "herald_packets_received_total") == 4);  // 2 CONNECT, SUBSCRIBE, PUBLISH
        CHECK(value(f, "herald_bytes_received_total", "herald_bytes_received_total") > 20);
        CHECK(value(f, "herald_bytes_sent_total", "herald_bytes_sent_total") > 10);
        CHECK(value(f, "herald_messages_dropped_total", "herald_messages_dropped_total") == 0);
        CHECK(grew(f, "herald_retained_messages") == 1);
        CHECK(value(f, "herald_subscriptions", "herald_subscriptions") == 1);
        CHECK(f.count("herald_streams") == 1);
        CHECK(f.count("herald_stream_entries_pending") == 1);

        const Family& h = f.at("herald_store_commit_seconds");
        CHECK(h.type == "histogram");
        double previous = -1;
        std::vector<std::string> les;
        for (const auto& [name, v] : h.samples) {
            if (!name.starts_with("herald_store_commit_seconds_bucket")) continue;
            CHECK_MESSAGE(std::stod(v) >= previous, name);
            previous = std::stod(v);
            les.push_back(name.substr(name.find("le=")));
        }
        REQUIRE(les.size() == core::kCommitLatencyBoundsNs.size() + 1);
        CHECK(les.front() == "le=\"0.0005\"}");
        CHECK(les.back() == "le=\"+Inf\"}");
        const double count = value(f, "herald_store_commit_seconds", "herald_store_commit_seconds_count");
        CHECK(count >= 1);  // the retained message and the sessions' rows
        CHECK(value(f, "herald_store_commit_seconds", "herald_store_commit_seconds_bucket{le=\"+Inf\"}") == count);
        CHECK(value(f, "herald_store_commit_seconds", "herald_store_commit_seconds_sum") > 0);

        broker.on_closed(c_ws);
        broker.on_closed(c_tcp1);
        bob->end();
        std::string after;
        net::render_metrics(broker, after);
        const auto g = parse_page(after);
        CHECK(value(g, "herald_connections", "herald_connections{transport=\"ws\"}") == 0);
        CHECK(value(g, "herald_connections", "herald_connections{transport=\"other\"}") == 1);
        CHECK(value(g, "herald_clients_connected", "herald_clients_connected") == 1);
    }
    sqlite.close();
}

TEST_CASE("metrics: a store without transactions shows no histogram") {
    core::test::BrokerFixture fx;
    std::string page;
    net::render_metrics(*fx.broker, page);
    const auto f = parse_page(page);
    CHECK(f.count("herald_store_commit_seconds") == 0);
    CHECK(value(f, "herald_clients_connected", "herald_clients_connected") == 0);
}

TEST_CASE("metrics: commit latency buckets hold their upper bound (le)") {
    CHECK(core::commit_latency_bucket(0) == 0);
    CHECK(core::commit_latency_bucket(500'000) == 0);
    CHECK(core::commit_latency_bucket(500'001) == 1);
    CHECK(core::commit_latency_bucket(1'000'000'000) == core::kCommitLatencyBoundsNs.size() - 1);
    CHECK(core::commit_latency_bucket(1'000'000'001) == core::kCommitLatencyBoundsNs.size());
}
