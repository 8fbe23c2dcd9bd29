// Wills (spec 3.1.2.5, 3.1.3.2) and the birth and end of sessions.
//
// A will is published on every abnormal end of a connection: no DISCONNECT (network loss),
// keepalive timeout, protocol error, framer error, takeover, DISCONNECT 0x04. A 5.0 Will
// Delay Interval holds it back [MQTT-3.1.3-9]: it is published when the delay passes or when
// the session ends, whichever is first, and dropped if the client id connects again (to the
// same session) before. A will is ACL-checked (write) and checked against the topic rules of
// SPEC 3 (topic_rules.h) when it is published, not at CONNECT.
//
// Choices where the specs leave room (for the README):
// - A will to a '$' topic is never published (clients may not publish there either).
// - The will's publisher (for No Local) is its session.
#include <spdlog/spdlog.h>

#include "broker/core/broker_impl.h"

namespace herald::core {

void Broker::Impl::will_on_abnormal_end(Session& s, Client& c, bool session_ending) {
    if (!c.will) return;
    const uint32_t delay = c.v5() ? c.will->props.will_delay_interval.value_or(0) : 0;
    if (delay == 0 || session_ending) {
        publish_will(*c.will, s);
        c.will.reset();
        return;
    }
    s.rare_state().pending_will = std::move(c.will);
    s.will_gen = new_timer_gen();
    schedule(TimerKind::WillDelay, static_cast<uint32_t>(s.id), s.will_gen,
             clock.mono_ms() + uint64_t(delay) * 1000);
}

void Broker::Impl::publish_will(mqtt::Will& will, const Session& s) {
    if (will.topic.empty() || will.topic[0] == '$') {
        spdlog::debug("Will of {} to {} not published: reserved topic", printable(s.client_id),
                      printable(will.topic));
        return;
    }
    if (acl.loaded() && !acl.allowed(Access::Write, s.username, s.client_id, will.topic)) {
        spdlog::info("Will of {} to {} not published: denied by ACL", printable(s.client_id),
                     printable(will.topic));
        return;
    }
    if (const RuleVerdict v = rule_publish(will.topic, classify_topic(will.topic), user_of(s), identity);
        v != RuleVerdict::Allowed) {
        spdlog::info("Will of {} to {} not published: {}", printable(s.client_id),
                     printable(will.topic), rule_verdict_name(v));
        return;
    }
    auto m = std::make_shared<Message>();
    m->topic = std::move(will.topic);
    m->payload = std::make_shared<const std::string>(std::move(will.payload));
    m->qos = std::min<uint8_t>(will.qos, config.max_qos);
    m->retain = will.retain && config.retain_available;
    m->origin_id = s.id;  // the will's publisher, for No Local
    // Will properties are forwarded like PUBLISH properties (spec 3.1.3.2).
    m->props.payload_format_indicator = will.props.payload_format_indicator;
    m->props.content_type = std::move(will.props.content_type);
    m->props.response_topic = std::move(will.props.response_topic);
    m->props.correlation_data = std::move(will.props.correlation_data);
    m->props.user_properties = std::move(will.props.user_properties);
    if (will.props.message_expiry_interval)
        m->expiry_at_mono_ms = clock.mono_ms() + uint64_t(*will.props.message_expiry_interval) * 1000;
    spdlog::debug("Publishing will of {} to {}", printable(s.client_id), printable(m->topic));
    publish_message(m);
}

void Broker::Impl::publish_pending_will(Session& s) {
    if (!s.pending_will()) return;
    std::unique_ptr<mqtt::Will> will = std::move(s.rare->pending_will);
    s.will_gen = 0;
    publish_will(*will, s);
}

Session& Broker::Impl::create_session(std::string client_id) {
    auto owned = std::make_unique<Session>();
    Session& s = *owned;
    s.client_id = std::move(client_id);
    const uint32_t slot = session_slots.add(std::move(owned));
    s.id = (next_session_seq++ << 32) | slot;
    sessions.insert(&s);
    return s;
}

void Broker::Impl::end_session(Session& s) {
    publish_pending_will(s);  // the session ends: a delayed will goes now
    if (stream_state.enabled) streams_detach(s);
    if (s.stored) persist_end(s);
    s.subscriptions.for_each(
        [this, &s](const std::string& filter) { subscriptions.unsubscribe(filter, &s); });
    s.subscriptions.clear();
    if (s.client) {  // defensive: callers detach the connection first
        s.client->session = nullptr;
        s.client = nullptr;
    }
    sessions.erase(&s);
    session_slots.erase(static_cast<uint32_t>(s.id));  // frees s
}

}  // namespace herald::core
