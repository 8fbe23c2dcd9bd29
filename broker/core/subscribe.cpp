// SUBSCRIBE and UNSUBSCRIBE, and the retained messages a new subscription receives.
//
// Choices where the specs leave room (for the README):
// - The ACL Read check at SUBSCRIBE uses the filter without its "$share/{group}/" prefix;
//   a refused filter gets 0x87 (3.1.1: 0x80), the others in the same packet go on. The topic
//   rules of SPEC 3 (topic_rules.h) are checked the same way, after the ACL.
// - Retained messages are sent after the SUBACK, each ACL-checked for its topic, at
//   min(message QoS, granted QoS), with retain = 1 [MQTT-3.3.1-9 (5.0)] and the
//   subscription identifier. They go through the normal delivery path, so the inflight
//   window and queue limits hold for them too.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"
#include "broker/mqtt/topic.h"

namespace herald::core {

using mqtt::ReasonCode;

namespace {

struct RetainedRequest {
    std::string_view filter;  // into the Subscribe value, alive for the whole handler
    uint8_t qos;
};

}  // namespace

void Broker::Impl::handle_subscribe(Client& c, mqtt::Subscribe& p) {
    if (c.state != ClientState::Active || !c.session) return;
    Session& s = *c.session;
    const bool v5 = c.v5();
    // At most one Subscription Identifier per SUBSCRIBE (the decoder enforces it).
    const uint32_t sub_id =
        v5 && !p.props.subscription_identifiers.empty() ? p.props.subscription_identifiers[0] : 0;

    mqtt::Suback ack;
    ack.packet_id = p.packet_id;  // [MQTT-3.8.4-2]
    ack.reasons.reserve(p.subscriptions.size());
    std::vector<RetainedRequest> retained_requests;
    std::vector<std::string_view> stream_filters;  // accepted ones, for streams_subscribed

    for (const auto& sub : p.subscriptions) {
        std::string_view group, real;
        const bool shared = mqtt::split_shared(sub.filter, group, real);
        const std::string_view acl_filter = shared ? real : std::string_view(sub.filter);
        if (!mqtt::valid_topic_filter(sub.filter) ||
            (config.max_topic_levels &&
             size_t(std::count(acl_filter.begin(), acl_filter.end(), '/')) >= config.max_topic_levels)) {
            ack.reasons.push_back(ReasonCode::TopicFilterInvalid);
            continue;
        }
        if (shared && sub.options.no_local) {
            // [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
            protocol_error(c, ReasonCode::ProtocolError, "no local on a shared subscription");
            return;
        }
        if (is_control_filter(acl_filter) ? !s.admin  // SPEC 7: admins only (control.cpp)
                                          : acl.loaded() && !acl.allowed(Access::Read, s.username,
                                                                         s.client_id, acl_filter)) {
            spdlog::debug("Denied SUBSCRIBE of {} to {}", printable(s.client_id),
                          printable(sub.filter));
            ack.reasons.push_back(ReasonCode::NotAuthorized);
            continue;
        }
        if (const RuleVerdict v = rule_subscribe(acl_filter, user_of(s), identity);
            v != RuleVerdict::Allowed) {
            topic_rule_refused(c, "SUBSCRIBE", sub.filter, v);
            ack.reasons.push_back(ReasonCode::NotAuthorized);
            continue;
        }
        SubscriptionEntry e;
        e.session = &s;
        e.options = sub.options;
        e.options.qos = std::min<uint8_t>(sub.options.qos, config.max_qos);  // [MQTT-3.8.4-6]
        if (!v5) e.options = mqtt::SubscribeOptions{e.options.qos};
        e.subscription_id = sub_id;
        // [MQTT-3.8.4-3]: a subscription with the same filter replaces the old one.
        const bool is_new = subscriptions.subscribe(sub.filter, e);
        if (is_new) s.subscriptions.add(sub.filter);
        if (s.stored) persist_subscription(s, sub.filter, e);
        ack.reasons.push_back(static_cast<ReasonCode>(e.options.qos));
        if (stream_state.enabled && !shared) stream_filters.push_back(sub.filter);
        // Retain Handling [MQTT-3.3.1-9..11]; never for shared subscriptions (spec 4.8.2).
        const uint8_t rh = e.options.retain_handling;
        if (!shared && (rh == 0 || (rh == 1 && is_new)))
            retained_requests.push_back(RetainedRequest{sub.filter, e.options.qos});
    }
    send(c, ack);
    for (const auto& r : retained_requests) send_retained(s, r.filter, r.qos, sub_id);
    // SPEC 5: replay of the streams these filters cover (stream_replay.cpp), after the SUBACK.
    for (std::string_view f : stream_filters) streams_subscribed(s, f);
}

void Broker::Impl::send_retained(Session& s, std::string_view filter, uint8_t granted_qos,
                                 uint32_t subscription_id) {
    std::vector<MessagePtr> found;
    retained.match(filter, clock.mono_ms(), [&](const MessagePtr& m) { found.push_back(m); });
    std::span<const uint32_t> ids;
    if (subscription_id) ids = std::span<const uint32_t>(&subscription_id, 1);
    for (const auto& m : found) {
        if (!read_allowed(s, m->topic)) continue;
        offer(s, m, granted_qos, true, ids);
    }
}

void Broker::Impl::handle_unsubscribe(Client& c, mqtt::Unsubscribe& p) {
    if (c.state != ClientState::Active || !c.session) return;
    Session& s = *c.session;
    mqtt::Unsuback ack;
    ack.packet_id = p.packet_id;  // [MQTT-3.10.4-4]
    ack.reasons.reserve(p.filters.size());
    for (const auto& f : p.filters) {
        const bool had = subscriptions.unsubscribe(f, &s);
        if (had) s.subscriptions.remove(f);
        if (had && s.stored) persist_unsubscribe(s, f);
        ack.reasons.push_back(had ? ReasonCode::Success : ReasonCode::NoSubscriptionExisted);
    }
    send(c, ack);
    if (stream_state.enabled) streams_unsubscribed(s);
}

}  // namespace herald::core
