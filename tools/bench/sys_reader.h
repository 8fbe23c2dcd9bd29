// SysReader: reads a broker's retained statistics ($SYS/...) at the end of a bench run. One
// more client of the run's Fleet subscribes to a filter and keeps the last value of each topic
// that arrives within a fixed time: the retained ones at once, and whatever the broker
// republishes meanwhile (every sys_interval), so a short interval gives values of the run.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/fleet.h"

namespace herald::tools::bench {

class SysReader {
public:
    using Values = std::vector<std::pair<std::string, std::string>>;  // topic, last value; arrival order

    explicit SysReader(uv_loop_t* loop);
    ~SysReader();  // closes the timer (the loop runs once more to free nothing: it is embedded)
    SysReader(const SysReader&) = delete;
    SysReader& operator=(const SysReader&) = delete;

    // Adds the client to `fleet` (id `client_id`), connects it, subscribes to `filter` and calls
    // `done("")` `collect_ms` after the SUBACK, or `done(error)` when the connection fails. The
    // client stays open: the fleet closes it with the rest. `on_close` is the client's close
    // handler (the run decides whether a close is a failure).
    void start(Fleet& fleet, const ConnectOptions& options, const std::string& filter, uint64_t collect_ms,
               Values* out, std::function<void(const CloseInfo&)> on_close,
               std::function<void(const std::string&)> done);
    // Stops the timer without calling done (the run ends some other way).
    void close();

private:
    uv_timer_t timer_;
    bool open_ = true;
    uint64_t collect_ms_ = 0;
    std::function<void(const std::string&)> done_;
};

}  // namespace herald::tools::bench
