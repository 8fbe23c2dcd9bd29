// Histogram: percentiles and merging (recording is inline in the header).
#include "tools/bench/histogram.h"

#include <cmath>

namespace herald::tools::bench {

uint64_t Histogram::upper_edge(int index) {
    if (uint64_t(index) < 2 * kSub) return uint64_t(index);
    uint64_t shift = uint64_t(index) / kSub - 1;
    uint64_t mantissa = uint64_t(index) - shift * kSub;
    return ((mantissa + 1) << shift) - 1;
}

void Histogram::add(const Histogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[size_t(i)] += other.counts_[size_t(i)];
    total_ += other.total_;
    sum_ += other.sum_;
    if (other.total_) {
        if (other.max_ > max_) max_ = other.max_;
        if (other.min_ < min_) min_ = other.min_;
    }
}

uint64_t Histogram::percentile(double q) const {
    if (total_ == 0) return 0;
    if (q >= 1.0) return max_;
    // The rank of the value sought, 1-based: the smallest value with at least q of all below.
    uint64_t rank = uint64_t(std::ceil(q * double(total_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
        seen += counts_[size_t(i)];
        if (seen >= rank) {
            uint64_t edge = upper_edge(i);
            return edge < max_ ? edge : max_;
        }
    }
    return max_;
}

}  // namespace herald::tools::bench
