// GET /metrics on the WebSocket listener: the broker's figures in the Prometheus text
// exposition format (version 0.0.4): one "# HELP", one "# TYPE" and the samples per metric.
#pragma once

#include <string>

namespace herald::core {
class Broker;
}

namespace herald::net {

// Appends the whole page to `out`.
void render_metrics(const core::Broker& broker, std::string& out);

}  // namespace herald::net
