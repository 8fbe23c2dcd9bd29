// How long the store's transactions take, as a histogram with fixed buckets: the writer thread
// counts (storage/store.cpp), GET /metrics renders (broker/net/metrics.cpp). Header-only, so
// that storage, which sits below core, can share the type and the buckets.
//
// The bounds are Prometheus's `le` (less than or equal) in seconds, from 0.5 ms (a WAL commit
// with synchronous=NORMAL) to 1 s (a disk in trouble); they must not change without the
// dashboards that read them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::core {

inline constexpr std::array<uint64_t, 11> kCommitLatencyBoundsNs = {
    500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 25'000'000,
    50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};
// The same bounds as written in the `le` label.
inline constexpr std::array<std::string_view, 11> kCommitLatencyBoundLabels = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1"};

// A snapshot: transactions per bucket (not cumulative), the last one above 1 s.
struct CommitLatency {
    std::array<uint64_t, kCommitLatencyBoundsNs.size() + 1> counts{};
    uint64_t sum_ns = 0;
    uint64_t count() const {
        uint64_t n = 0;
        for (uint64_t c : counts) n += c;
        return n;
    }
};

// The bucket of a transaction that took `ns`.
inline size_t commit_latency_bucket(uint64_t ns) {
    size_t i = 0;
    while (i < kCommitLatencyBoundsNs.size() && ns > kCommitLatencyBoundsNs[i]) ++i;
    return i;
}

}  // namespace herald::core
