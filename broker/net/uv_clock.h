// core::Clock over libuv: the loop's cached time for deadlines, the system clock for stamps.
#pragma once

#include <uv.h>

#include "broker/core/clock.h"

namespace herald::net {

class UvClock final : public core::Clock {
public:
    explicit UvClock(uv_loop_t* loop) : loop_(loop) {}

    // uv_now is updated once per loop turn: every deadline computed in one turn agrees, and
    // reading it costs no system call.
    uint64_t mono_ms() const override { return uv_now(loop_); }

    uint64_t wall_ms() const override {
        uv_timeval64_t now;
        if (uv_gettimeofday(&now) != 0) return 0;
        return static_cast<uint64_t>(now.tv_sec) * 1000 + static_cast<uint64_t>(now.tv_usec) / 1000;
    }

private:
    uv_loop_t* loop_;
};

}  // namespace herald::net
