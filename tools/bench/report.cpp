// The end-of-run report: a few aligned lines for people, or one JSON object for scripts
// (bench/compare and the tests read it; keep the field names stable).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "tools/bench/bench.h"

namespace herald::tools::bench {

namespace {

bool is_flow(const std::string& s) { return s == "fanin" || s == "fanout" || s == "chat"; }

double per_second(uint64_t n, double seconds) { return seconds > 0 ? double(n) / seconds : 0; }

double us(uint64_t ns) { return double(ns) / 1000.0; }

long bytes_per_connection(const BenchResult& r) {
    if (r.rss_before_kb < 0 || r.rss_after_kb < 0 || r.connections == 0) return -1;
    return (r.rss_after_kb - r.rss_before_kb) * 1024 / long(r.connections);
}

uint64_t lost(const BenchResult& r) {
    return r.flow.expected > r.flow.received ? r.flow.expected - r.flow.received : 0;
}

nlohmann::ordered_json latency_json(const Histogram& h) {
    return {{"count", h.count()},          {"mean", h.mean() / 1000.0},      {"p50", us(h.percentile(0.50))},
            {"p90", us(h.percentile(0.90))}, {"p99", us(h.percentile(0.99))}, {"p99.9", us(h.percentile(0.999))},
            {"max", us(h.max())}};
}

void offline_json(const BenchConfig& c, const BenchResult& r, nlohmann::ordered_json& j) {
    j["rate"] = c.rate > 0 ? nlohmann::ordered_json(c.rate) : nlohmann::ordered_json(nullptr);
    j["publishers"] = r.publishers;
    j["subscribers"] = r.subscribers;
    j["inflight"] = c.version == mqtt::ProtocolVersion::V5 ? nlohmann::ordered_json(nullptr)
                                                           : nlohmann::ordered_json(c.inflight);
    j["seconds"] = r.seconds;
    j["published"] = r.published;
    j["acked"] = r.acked;
    j["ack_rate"] = per_second(r.acked, r.seconds);
    j["ack_latency_us"] = latency_json(r.latency);
    j["sessions_kept"] = r.sessions_kept;
    j["drain_seconds"] = r.drain_seconds;
    j["delivered"] = r.delivered;
    j["drain_rate"] = per_second(r.delivered, r.drain_seconds);
    j["sent"] = r.flow.sent;
    j["expected"] = r.flow.expected;
    j["received"] = r.flow.received;
    j["lost"] = lost(r);
    j["duplicates"] = r.flow.duplicates;
    j["reordered"] = r.flow.reordered;
    if (!c.sys_filter.empty()) {
        nlohmann::ordered_json sys = nlohmann::ordered_json::object();
        for (const auto& [topic, value] : r.sys) sys[topic] = value;
        j["sys"] = sys;
    }
}

void offline_text(const BenchConfig& c, const BenchResult& r) {
    std::printf("  clients          %d publisher(s) -> %d offline session(s), %s\n", r.publishers, r.subscribers,
                c.rate > 0 ? ("fixed rate " + std::to_string(long(c.rate)) + " msg/s").c_str()
                           : c.version == mqtt::ProtocolVersion::V5
                                 ? "closed loop within the server's Receive Maximum"
                                 : ("closed loop, " + std::to_string(c.inflight) + " in flight per publisher").c_str());
    std::printf("  acknowledged     %llu of %llu in %.2f s (%.0f PUBACKs/s)\n", (unsigned long long)r.acked,
                (unsigned long long)r.published, r.seconds, per_second(r.acked, r.seconds));
    const Histogram& h = r.latency;
    std::printf("  PUBACK (ms)      p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", us(h.percentile(0.5)) / 1000,
                us(h.percentile(0.9)) / 1000, us(h.percentile(0.99)) / 1000, us(h.percentile(0.999)) / 1000,
                us(h.max()) / 1000);
    std::printf("  drained          %llu in %.2f s (%.0f msg/s), %llu of %d sessions kept\n",
                (unsigned long long)r.delivered, r.drain_seconds, per_second(r.delivered, r.drain_seconds),
                (unsigned long long)r.sessions_kept, r.subscribers);
    std::printf("  whole run        sent %llu, acknowledged %llu, received %llu: lost %llu, duplicates %llu, "
                "reordered %llu\n",
                (unsigned long long)r.flow.sent, (unsigned long long)r.flow.expected,
                (unsigned long long)r.flow.received, (unsigned long long)lost(r),
                (unsigned long long)r.flow.duplicates, (unsigned long long)r.flow.reordered);
    if (!c.sys_filter.empty() && r.sys.empty()) std::printf("  %s   nothing retained\n", c.sys_filter.c_str());
    for (const auto& [topic, value] : r.sys) std::printf("  %s  %s\n", topic.c_str(), value.c_str());
}

// churn: the events (wills, or offline records) counted, and their latency from the drop.
// `latency_minus_grace_us`: the same minus --grace (0 when not given); its percentiles come
// from values clamped at 0 (`early` counts those below), its `min` and `mean` are exact.
void churn_json(const BenchConfig& c, const BenchResult& r, nlohmann::ordered_json& j) {
    const uint64_t lost = r.wills_expected > r.wills_seen ? r.wills_expected - r.wills_seen : 0;
    j["mode"] = c.presence ? "presence" : "will";
    if (!c.presence) {
        j["wills_expected"] = r.wills_expected;
        j["wills_seen"] = r.wills_seen;
        j["wills_lost"] = lost;
        j["wills_duplicate"] = r.wills_duplicate;
    } else {
        j["online_seen"] = r.online_seen;
    }
    j["events_expected"] = r.wills_expected;
    j["events_seen"] = r.wills_seen;
    j["events_lost"] = lost;
    j["events_duplicate"] = r.wills_duplicate;
    j["drops_per_s"] = per_second(r.connections, r.connect_seconds);
    j["latency_us"] = latency_json(r.latency);
    const double grace = c.grace > 0 ? c.grace : 0;
    j["grace_s"] = c.grace >= 0 ? nlohmann::ordered_json(c.grace) : nlohmann::ordered_json(nullptr);
    auto minus = latency_json(r.after_grace);
    minus["mean"] = r.latency.count() ? r.latency.mean() / 1000.0 - grace * 1e6 : 0.0;
    minus["min"] = r.latency.count() ? us(r.latency.min()) - grace * 1e6 : 0.0;
    j["latency_minus_grace_us"] = minus;
    j["early"] = r.early;
}

void churn_text(const BenchConfig& c, const BenchResult& r) {
    std::printf("  %-16s expected %llu, seen %llu, duplicates %llu", c.presence ? "offline records" : "wills",
                (unsigned long long)r.wills_expected, (unsigned long long)r.wills_seen,
                (unsigned long long)r.wills_duplicate);
    if (c.presence) std::printf(" (online records %llu)", (unsigned long long)r.online_seen);
    std::printf("\n");
    const Histogram& h = r.latency;
    std::printf("  drop->event (ms) p50 %.3f  p99 %.3f  max %.3f\n", us(h.percentile(0.5)) / 1000,
                us(h.percentile(0.99)) / 1000, us(h.max()) / 1000);
    if (c.grace > 0) {
        const Histogram& g = r.after_grace;
        std::printf("  minus grace %gs  p50 %.3f  p99 %.3f  max %.3f  min %.3f (%llu below the grace)\n", c.grace,
                    us(g.percentile(0.5)) / 1000, us(g.percentile(0.99)) / 1000, us(g.max()) / 1000,
                    h.count() ? (us(h.min()) - c.grace * 1e6) / 1000 : 0.0, (unsigned long long)r.early);
    }
}

}  // namespace

void print_json(const BenchConfig& c, const BenchResult& r) {
    nlohmann::ordered_json j;
    j["scenario"] = r.scenario;
    j["broker"] = c.address + ":" + std::to_string(c.port);
    j["transport"] = c.ws_path.empty() ? "tcp" : "ws";
    if (!c.ws_path.empty()) j["ws_path"] = c.ws_path;
    j["protocol"] = c.version == mqtt::ProtocolVersion::V5 ? "5" : "311";
    j["qos"] = c.qos;
    j["size"] = c.size;
    if (is_flow(r.scenario)) {
        j["rate"] = c.rate > 0 ? nlohmann::ordered_json(c.rate) : nlohmann::ordered_json(nullptr);
        j["window"] = c.window;
        if (r.scenario == "chat") {
            j["users"] = r.users;
        } else {
            j["publishers"] = r.publishers;
            j["subscribers"] = r.subscribers;
        }
        j["warmup"] = c.warmup;
        j["seconds"] = r.seconds;
        j["delivery_seconds"] = r.delivery_seconds;
        j["published"] = r.published;
        j["delivered"] = r.delivered;
        j["publish_rate"] = per_second(r.published, r.seconds);
        j["delivery_rate"] = per_second(r.delivered, r.delivery_seconds);
        const Histogram& h = r.latency;
        j["latency_us"] = latency_json(h);
        j["sent"] = r.flow.sent;
        j["expected"] = r.flow.expected;
        j["received"] = r.flow.received;
        j["lost"] = lost(r);
        j["duplicates"] = r.flow.duplicates;
        j["reordered"] = r.flow.reordered;
    } else if (r.scenario == "offline") {
        offline_json(c, r, j);
    } else if (r.scenario == "streams") {
        streams_json(c, r, j);
    } else {
        j["connections"] = r.connections;
        j["seconds"] = r.connect_seconds;
        j["connects_per_s"] = per_second(r.connections, r.connect_seconds);
        if (r.scenario == "conns") {
            j["rss_before_kb"] = r.rss_before_kb;
            j["rss_after_kb"] = r.rss_after_kb;
            long b = bytes_per_connection(r);
            j["bytes_per_connection"] = b >= 0 ? nlohmann::ordered_json(b) : nlohmann::ordered_json(nullptr);
        } else {
            churn_json(c, r, j);
        }
    }
    j["notes"] = r.notes;
    j["error"] = r.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.error);
    std::printf("%s\n", j.dump().c_str());
}

void print_text(const BenchConfig& c, const BenchResult& r) {
    const char* v = c.version == mqtt::ProtocolVersion::V5 ? "5" : "3.1.1";
    std::printf("herald bench %s against %s:%u%s (MQTT %s%s, QoS %u, %zu-byte payloads)\n", r.scenario.c_str(),
                c.address.c_str(), c.port, c.ws_path.c_str(), v, c.ws_path.empty() ? "" : " over WebSocket", c.qos,
                c.size);
    if (is_flow(r.scenario)) {
        if (r.scenario == "chat")
            std::printf("  users            %d, %.0f msg/s offered\n", r.users, c.rate > 0 ? c.rate : 10000.0);
        else
            std::printf("  clients          %d publisher(s) -> %d subscriber(s), %s\n", r.publishers, r.subscribers,
                        c.rate > 0 ? ("fixed rate " + std::to_string(long(c.rate)) + " msg/s").c_str()
                                   : ("closed loop, window " + std::to_string(c.window)).c_str());
        std::printf("  measured         %.2f s%s\n", r.seconds,
                    c.warmup > 0 ? (" after " + std::to_string(c.warmup).substr(0, 4) + " s warmup").c_str() : "");
        std::printf("  published        %llu (%.0f msg/s)\n", (unsigned long long)r.published,
                    per_second(r.published, r.seconds));
        std::printf("  delivered        %llu (%.0f msg/s)\n", (unsigned long long)r.delivered,
                    per_second(r.delivered, r.delivery_seconds));
        const Histogram& h = r.latency;
        std::printf("  latency (ms)     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                    us(h.percentile(0.5)) / 1000, us(h.percentile(0.9)) / 1000, us(h.percentile(0.99)) / 1000,
                    us(h.percentile(0.999)) / 1000, us(h.max()) / 1000);
        std::printf("  whole run        sent %llu, expected %llu, received %llu: lost %llu, duplicates %llu, "
                    "reordered %llu\n",
                    (unsigned long long)r.flow.sent, (unsigned long long)r.flow.expected,
                    (unsigned long long)r.flow.received, (unsigned long long)lost(r),
                    (unsigned long long)r.flow.duplicates, (unsigned long long)r.flow.reordered);
    } else if (r.scenario == "offline") {
        offline_text(c, r);
    } else if (r.scenario == "streams") {
        streams_text(c, r);
    } else {
        std::printf("  connections      %llu in %.2f s (%.0f connects/s)\n", (unsigned long long)r.connections,
                    r.connect_seconds, per_second(r.connections, r.connect_seconds));
        if (r.scenario == "conns") {
            long b = bytes_per_connection(r);
            if (b >= 0)
                std::printf("  broker memory    VmRSS %ld kB -> %ld kB: %ld bytes per connection\n", r.rss_before_kb,
                            r.rss_after_kb, b);
            else
                std::printf("  broker memory    (give --pid PID of the broker to measure it)\n");
        } else {
            churn_text(c, r);
        }
    }
    for (const auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
}

}  // namespace herald::tools::bench
