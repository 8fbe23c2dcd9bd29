// Time as core sees it: a monotonic clock for timeouts and a wall clock for timestamps.
// Net implements it over uv_now / uv_hrtime; tests may drive a manual clock.
#pragma once

#include <cstdint>

namespace herald::core {

class Clock {
public:
    virtual ~Clock() = default;
    virtual uint64_t mono_ms() const = 0;  // monotonic milliseconds, for deadlines
    virtual uint64_t wall_ms() const = 0;  // milliseconds since the Unix epoch, for "ts"/"since"
};

}  // namespace herald::core
