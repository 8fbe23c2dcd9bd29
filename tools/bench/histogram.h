// Histogram: a log-linear latency histogram in the way of HdrHistogram, small enough to record
// every delivery of a benchmark without allocating.
//
// Values (nanoseconds) below 2*kSub are counted exactly; above, each power of two is split into
// kSub linear buckets, so any reported percentile is within 1/kSub (under 1%) of the truth, from
// nanoseconds to hours, in a fixed array of counters.
#pragma once

#include <array>
#include <cstdint>

namespace herald::tools::bench {

class Histogram {
public:
    static constexpr int kSubBits = 7;  // 128 linear buckets per power of two
    static constexpr uint64_t kSub = uint64_t(1) << kSubBits;

    void record(uint64_t value) {
        ++counts_[index_of(value)];
        ++total_;
        if (value > max_) max_ = value;
        if (value < min_) min_ = value;
        sum_ += value;
    }
    void add(const Histogram& other);
    void reset() { *this = Histogram{}; }

    uint64_t count() const { return total_; }
    uint64_t max() const { return total_ ? max_ : 0; }
    uint64_t min() const { return total_ ? min_ : 0; }
    double mean() const { return total_ ? double(sum_) / double(total_) : 0.0; }
    // The value at quantile q (0..1): the upper edge of the bucket holding it, capped at max().
    uint64_t percentile(double q) const;

private:
    // Index: exact below 2*kSub; then (shift, mantissa) with the mantissa in [kSub, 2*kSub).
    static int index_of(uint64_t v) {
        if (v < 2 * kSub) return int(v);
        int shift = 63 - __builtin_clzll(v) - kSubBits;
        return int(uint64_t(shift) * kSub + (v >> shift));
    }
    static uint64_t upper_edge(int index);

    static constexpr int kBuckets = int((64 - kSubBits + 1) * kSub);
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t total_ = 0;
    uint64_t max_ = 0;
    uint64_t min_ = UINT64_MAX;
    uint64_t sum_ = 0;
};

}  // namespace herald::tools::bench
