// $SYS/broker/...: statistics in mosquitto's topic names, retained, every sys_interval
// seconds (and at the first tick, so a subscriber sees values at once).
//
// They go through the retained store and the normal routing (ACL Read is checked per
// delivery like any topic), but not to the Store: they are rebuilt at every start.
#include <spdlog/spdlog.h>

#include "broker/core/broker_impl.h"

namespace herald::core {

void Broker::Impl::publish_sys_value(std::string_view topic, std::string value) {
    auto m = std::make_shared<Message>();
    m->topic = std::string(topic);
    m->payload = std::make_shared<const std::string>(std::move(value));
    m->qos = 0;
    m->retain = true;
    retained.set(m);
    route(m);
}

void Broker::Impl::publish_sys(uint64_t now) {
    uint64_t stored = 0;
    uint64_t stored_bytes = 0;
    for (const auto& [id, s] : sessions) {
        stored += s->queue.size() + s->inflight.size();
        stored_bytes += s->queued_bytes;
    }
    stats.stored_messages = stored;
    stats.clients_total = sessions.size();
    stats.retained_count = retained.size();
    stats.subscription_count = subscriptions.size();
    const uint64_t disconnected =
        sessions.size() > stats.clients_connected ? sessions.size() - stats.clients_connected : 0;

    auto n = [](uint64_t v) { return std::to_string(v); };
    publish_sys_value("$SYS/broker/version", "herald 0.1.0");
    publish_sys_value("$SYS/broker/uptime", n((now - started_mono_ms) / 1000) + " seconds");
    publish_sys_value("$SYS/broker/clients/connected", n(stats.clients_connected));
    publish_sys_value("$SYS/broker/clients/disconnected", n(disconnected));
    publish_sys_value("$SYS/broker/clients/total", n(sessions.size()));
    publish_sys_value("$SYS/broker/clients/maximum", n(stats.clients_maximum));
    publish_sys_value("$SYS/broker/messages/received", n(stats.messages_received));
    publish_sys_value("$SYS/broker/messages/sent", n(stats.messages_sent));
    publish_sys_value("$SYS/broker/publish/messages/dropped", n(stats.publish_dropped));
    publish_sys_value("$SYS/broker/publish/messages/received", n(stats.publish_received));
    publish_sys_value("$SYS/broker/publish/messages/sent", n(stats.publish_sent));
    publish_sys_value("$SYS/broker/bytes/received", n(stats.bytes_received));
    publish_sys_value("$SYS/broker/bytes/sent", n(stats.bytes_sent));
    // Counted before this round's own $SYS topics replace themselves (they are retained too).
    publish_sys_value("$SYS/broker/retained messages/count", n(stats.retained_count));
    publish_sys_value("$SYS/broker/subscriptions/count", n(stats.subscription_count));
    publish_sys_value("$SYS/broker/store/messages/count", n(stored));
    publish_sys_value("$SYS/broker/store/messages/bytes", n(stored_bytes));
    for (const auto& [name, value] : store.sys_figures())
        publish_sys_value("$SYS/herald/store/" + std::string(name), n(value));
    if (stream_state.enabled) {  // SPEC 5 (streams.cpp)
        publish_sys_value("$SYS/herald/streams/count", n(stream_state.streams.size()));
        publish_sys_value("$SYS/herald/streams/appended", n(stream_state.appended));
        publish_sys_value("$SYS/herald/streams/replayed", n(stream_state.replayed));
        publish_sys_value("$SYS/herald/streams/rejected", n(stream_state.rejected));
        publish_sys_value("$SYS/herald/streams/dropped", n(stream_state.dropped));
        publish_sys_value("$SYS/herald/streams/expired", n(stream_state.expired));
        publish_sys_value("$SYS/herald/streams/deleted", n(stream_state.deleted));
        publish_sys_value("$SYS/herald/streams/pending", n(stream_state.pending_total));
    }
}

}  // namespace herald::core
