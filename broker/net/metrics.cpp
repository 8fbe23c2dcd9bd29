// The Prometheus page of GET /metrics (see metrics.h). Names follow Prometheus's conventions:
// herald_ prefix, _total on counters, base units (bytes, seconds).
#include "broker/net/metrics.h"

#include <fmt/format.h>

#include "broker/core/broker.h"

namespace herald::net {

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help,
            uint64_t value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name,
                   help, type, value);
}

}  // namespace

void render_metrics(const core::Broker& broker, std::string& out) {
    const core::BrokerStats& s = broker.stats();
    metric(out, "herald_connections", "gauge", "Clients connected now.", s.clients_connected);
    metric(out, "herald_messages_received_total", "counter",
           "MQTT packets received from clients.", s.messages_received);
    metric(out, "herald_messages_sent_total", "counter", "MQTT packets sent to clients.",
           s.messages_sent);
    metric(out, "herald_bytes_received_total", "counter", "Bytes received from clients.",
           s.bytes_received);
    metric(out, "herald_bytes_sent_total", "counter", "Bytes sent to clients.", s.bytes_sent);
    metric(out, "herald_publish_dropped_total", "counter",
           "Messages dropped (queue full, slow consumer, expired).", s.publish_dropped);
}

}  // namespace herald::net
