// The Prometheus page of GET /metrics (see metrics.h). Names follow Prometheus's conventions:
// herald_ prefix, _total on counters, base units (bytes, seconds).
//
// Rendering reads counters the broker keeps anyway and walks nothing (no session, stream or
// connection list), so a scrape costs the same at 10 clients as at 100,000: a page of ~3 kB.
//
// Messages are PUBLISH packets; packets are every MQTT packet. "Dropped" are messages the
// broker discarded for a receiver (queue full, slow consumer, expired, too large for it) or
// refused from a publisher (a quota). The store figures come from its writer thread.
#include "broker/net/metrics.h"

#include <fmt/format.h>

#include <iterator>

#include "broker/core/broker.h"

namespace herald::net {

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
}

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            uint64_t value) {
    header(out, name, type, help);
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

void connections(std::string& out, const core::BrokerStats& s) {
    header(out, "herald_connections", "gauge", "Network connections open now, by transport (MQTT CONNECT or not).");
    for (size_t i = 0; i < core::kTransportNames.size(); ++i)
        fmt::format_to(std::back_inserter(out), "herald_connections{{transport=\"{}\"}} {}\n",
                       core::kTransportNames[i], s.connections_by_transport[i]);
}

// Cumulative buckets, then +Inf, _sum and _count; +Inf and _count are the same number by
// construction (the buckets' total), whatever the writer counted meanwhile.
void commit_latency(std::string& out, const core::CommitLatency& h) {
    constexpr std::string_view name = "herald_store_commit_seconds";
    header(out, name, "histogram", "Duration of the store's transactions (group commits), BEGIN to COMMIT.");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < core::kCommitLatencyBoundLabels.size(); ++i) {
        cumulative += h.counts[i];
        fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name,
                       core::kCommitLatencyBoundLabels[i], cumulative);
    }
    cumulative += h.counts.back();
    fmt::format_to(std::back_inserter(out), "{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2:.9f}\n{0}_count {1}\n",
                   name, cumulative, static_cast<double>(h.sum_ns) / 1e9);
}

}  // namespace

void render_metrics(const core::Broker& broker, std::string& out) {
    const core::BrokerStats& s = broker.stats();
    out.reserve(out.size() + 4096);
    connections(out, s);
    metric(out, "herald_clients_connected", "gauge", "MQTT clients connected now (CONNECT accepted).",
           s.clients_connected);
    metric(out, "herald_clients_maximum", "gauge", "Most MQTT clients connected at once since start.",
           s.clients_maximum);
    metric(out, "herald_sessions", "gauge", "Sessions, connected or not.", s.clients_total);
    metric(out, "herald_online_users", "gauge", "Users shown online: at least one device connected (or in grace).",
           s.online_users);
    metric(out, "herald_packets_received_total", "counter", "MQTT packets received from clients.",
           s.messages_received);
    metric(out, "herald_packets_sent_total", "counter", "MQTT packets sent to clients.", s.messages_sent);
    metric(out, "herald_messages_received_total", "counter", "PUBLISH packets received from clients.",
           s.publish_received);
    metric(out, "herald_messages_sent_total", "counter", "PUBLISH packets sent to clients.", s.publish_sent);
    metric(out, "herald_messages_dropped_total", "counter",
           "Messages dropped (queue full, slow consumer, expired, too large for the receiver, quota).",
           s.publish_dropped);
    metric(out, "herald_bytes_received_total", "counter", "MQTT bytes received from clients.", s.bytes_received);
    metric(out, "herald_bytes_sent_total", "counter", "MQTT bytes sent to clients.", s.bytes_sent);
    metric(out, "herald_retained_messages", "gauge", "Retained messages held ($SYS topics included).",
           s.retained_count);
    metric(out, "herald_subscriptions", "gauge", "Subscriptions of all sessions.", s.subscription_count);
    metric(out, "herald_queued_messages", "gauge",
           "Messages queued or in flight over all sessions, as of the last $SYS round.", s.stored_messages);
    metric(out, "herald_streams", "gauge", "Streams (users/{u}, groups/{g}) known to the broker.", s.streams);
    metric(out, "herald_stream_entries_pending", "gauge", "Stream entries waiting in the store for a device.",
           s.stream_entries_pending);
    metric(out, "herald_stream_pending_bytes", "gauge", "Payload bytes of the stream entries waiting in the store.",
           s.stream_bytes_pending);
    if (auto h = broker.store().commit_latency()) commit_latency(out, *h);
}

}  // namespace herald::net
