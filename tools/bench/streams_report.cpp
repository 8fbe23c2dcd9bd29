// The streams scenario's report: appends per second, the replay time of each device's waiting
// messages, the store's bytes per message and the broker's memory before / after queueing.
// JSON keys are read by bench/compare and tests/integration/test_bench.py: keep them stable.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "tools/bench/bench.h"

namespace herald::tools::bench {

namespace {

double per_second(uint64_t n, double seconds) { return seconds > 0 ? double(n) / seconds : 0; }

double us(uint64_t ns) { return double(ns) / 1000.0; }

nlohmann::ordered_json or_null(bool known, double v) {
    return known ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

// Milliseconds: the median and the slowest device, null when no device came back.
nlohmann::ordered_json ms_json(std::vector<double> s) {
    if (s.empty()) return nullptr;
    std::sort(s.begin(), s.end());
    double sum = std::accumulate(s.begin(), s.end(), 0.0);
    return {{"p50", s[s.size() / 2] * 1000}, {"max", s.back() * 1000}, {"mean", sum / double(s.size()) * 1000}};
}

uint64_t lost(const BenchResult& r) {
    return r.flow.expected > r.flow.received ? r.flow.expected - r.flow.received : 0;
}

bool store_known(const BenchResult& r) { return r.db_before >= 0 && r.db_after >= 0; }

}  // namespace

void streams_json(const BenchConfig& c, const BenchResult& r, nlohmann::ordered_json& j) {
    j["publishers"] = r.publishers;
    j["users"] = r.users;
    j["resubscribe"] = c.resubscribe;
    j["seconds"] = r.seconds;
    j["published"] = r.published;
    j["acked"] = r.acked;
    j["append_rate"] = per_second(r.acked, r.seconds);
    const Histogram& h = r.latency;
    j["ack_latency_us"] = {{"count", h.count()}, {"p50", us(h.percentile(0.5))}, {"p99", us(h.percentile(0.99))},
                           {"max", us(h.max())}};
    j["devices_back"] = r.replay_s.size();
    j["sessions_kept"] = r.sessions_kept;
    j["per_device"] = r.users > 0 ? r.acked / uint64_t(r.users) : 0;
    // From each device's CONNECT to its last message; with --resubscribe also from its SUBSCRIBE.
    j["replay_ms"] = ms_json(r.replay_s);
    j["replay_from_subscribe_ms"] = ms_json(r.replay_from_sub_s);
    double replay_total = std::accumulate(r.replay_s.begin(), r.replay_s.end(), 0.0);
    j["replay_rate"] = per_second(r.delivered, replay_total);
    bool rss = r.rss_before_kb >= 0 && r.rss_after_kb >= 0;
    j["rss_before_kb"] = rss ? nlohmann::ordered_json(r.rss_before_kb) : nlohmann::ordered_json(nullptr);
    j["rss_after_kb"] = rss ? nlohmann::ordered_json(r.rss_after_kb) : nlohmann::ordered_json(nullptr);
    j["rss_drained_kb"] = r.rss_drained_kb >= 0 ? nlohmann::ordered_json(r.rss_drained_kb) : nlohmann::ordered_json(nullptr);
    j["rss_growth_kb"] = rss ? nlohmann::ordered_json(r.rss_after_kb - r.rss_before_kb) : nlohmann::ordered_json(nullptr);
    j["rss_growth_bytes_per_message"] =
        or_null(rss && r.acked > 0, double(r.rss_after_kb - r.rss_before_kb) * 1024 / double(r.acked ? r.acked : 1));
    bool store = store_known(r);
    long long before = r.db_before + r.wal_before, after = r.db_after + r.wal_after;
    j["store"] = store ? nlohmann::ordered_json{{"db_before", r.db_before}, {"wal_before", r.wal_before},
                                                {"db_after", r.db_after}, {"wal_after", r.wal_after}}
                       : nlohmann::ordered_json(nullptr);
    j["bytes_per_message"] = or_null(store && r.acked > 0, double(after) / double(r.acked ? r.acked : 1));
    j["store_growth_bytes_per_message"] = or_null(store && r.acked > 0, double(after - before) / double(r.acked ? r.acked : 1));
    j["delivered"] = r.delivered;
    j["sent"] = r.flow.sent;
    j["expected"] = r.flow.expected;
    j["received"] = r.flow.received;
    j["lost"] = lost(r);
    j["duplicates"] = r.flow.duplicates;
    j["reordered"] = r.flow.reordered;
}

void streams_text(const BenchConfig& c, const BenchResult& r) {
    std::printf("  clients          %d publisher(s) -> %d offline user(s), one device each\n", r.publishers, r.users);
    std::printf("  appended         %llu of %llu acknowledged in %.2f s (%.0f msg/s), PUBACK p50 %.3f p99 %.3f ms\n",
                (unsigned long long)r.acked, (unsigned long long)r.published, r.seconds, per_second(r.acked, r.seconds),
                us(r.latency.percentile(0.5)) / 1000, us(r.latency.percentile(0.99)) / 1000);
    nlohmann::ordered_json rep = ms_json(r.replay_s), sub = ms_json(r.replay_from_sub_s);
    if (!rep.is_null())
        std::printf("  replay           %zu device(s) back one at a time, %llu msg each: p50 %.1f ms, max %.1f ms from CONNECT\n",
                    r.replay_s.size(), (unsigned long long)(r.users > 0 ? r.acked / uint64_t(r.users) : 0),
                    rep["p50"].get<double>(), rep["max"].get<double>());
    if (!sub.is_null())
        std::printf("  from SUBSCRIBE   p50 %.1f ms, max %.1f ms\n", sub["p50"].get<double>(), sub["max"].get<double>());
    if (r.rss_before_kb >= 0 && r.rss_after_kb >= 0)
        std::printf("  broker memory    VmRSS %ld kB before, %ld kB queued, %ld kB drained\n", r.rss_before_kb,
                    r.rss_after_kb, r.rss_drained_kb);
    else
        std::printf("  broker memory    (give --pid PID of the broker to measure it)\n");
    if (store_known(r) && r.acked > 0) {
        long long before = r.db_before + r.wal_before, after = r.db_after + r.wal_after;
        std::printf("  store            %lld -> %lld bytes (db %lld + wal %lld): %.0f bytes/message, %.0f grown\n", before,
                    after, r.db_after, r.wal_after, double(after) / double(r.acked), double(after - before) / double(r.acked));
    } else if (c.data_dir.empty()) {
        std::printf("  store            (give --data-dir DIR of heraldd to measure it)\n");
    }
    std::printf("  whole run        sent %llu, acknowledged %llu, received %llu: lost %llu, duplicates %llu, "
                "reordered %llu\n",
                (unsigned long long)r.flow.sent, (unsigned long long)r.flow.expected, (unsigned long long)r.flow.received,
                (unsigned long long)lost(r), (unsigned long long)r.flow.duplicates, (unsigned long long)r.flow.reordered);
}

}  // namespace herald::tools::bench
