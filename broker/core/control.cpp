// `$CONTROL/herald/v1` (SPEC 7) as core sees it: a client's PUBLISH to kControlTopic goes to
// the ControlHandler (broker/admin) instead of subscribers, and the handler's answer is
// published by the broker on kControlResponseTopic to the admins subscribed there.
//
// Choices where the specs leave room (for the README):
// - A request is acked like any PUBLISH (PUBACK/PUBREC 0x00), whoever sends it: the
//   ControlHandler answers a non-admin with "not authorized" errors, which reach the admins
//   subscribed to the response topic (and so show who tried).
// - The answer: QoS 1 (each subscriber's granted QoS caps it), not retained, Content Type
//   "application/json", the request's 5.0 Correlation Data copied. A Response Topic of the
//   request is not used: answers go to kControlResponseTopic only, so no client can have
//   them published elsewhere.
// - Only sessions whose user has the admin role (as of its last CONNECT) may subscribe to a
//   `$CONTROL/...` filter (5.0 SUBACK 0x87, 3.1.1 0x80), and each answer is delivered only to
//   such sessions (a session resumed by a user who lost the role gets nothing). The ACL file
//   is not consulted for `$CONTROL`: the admin role is the permission.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"

namespace herald::core {

using mqtt::ReasonCode;

void Broker::Impl::handle_control(Client& c, Session& s, mqtt::Publish& p, mqtt::PacketType ack_type) {
    ControlCaller caller;
    caller.user = std::string(user_of(s));
    caller.client_id = s.client_id.str();
    caller.admin = s.admin;
    std::optional<std::string> correlation;
    if (c.v5()) correlation = std::move(p.props.correlation_data);
    std::string payload = p.payload ? std::string(*p.payload) : std::string();
    spdlog::debug("Admin request from {} (user '{}', {}admin), {} bytes", printable(s.client_id),
                  printable(caller.user), caller.admin ? "" : "not ", payload.size());

    // Acked first: an answer given at once follows its PUBACK.
    if (p.qos == 2) s.add_incoming_qos2(p.packet_id);
    if (p.qos > 0) ack_inbound(c, ack_type, p.packet_id, ReasonCode::Success, false);  // in order

    control->handle_in_loop(caller, std::move(payload),
                            [this, alive = std::weak_ptr<char>(life),
                             correlation = std::move(correlation)](std::string response) mutable {
                                if (alive.expired()) return;  // the Broker is gone
                                publish_control_reply(std::move(response), std::move(correlation));
                            });
}

void Broker::Impl::publish_control_reply(std::string response_json,
                                         std::optional<std::string> correlation) {
    auto m = std::make_shared<Message>();
    m->topic = kControlResponseTopic;
    m->payload = std::make_shared<const std::string>(std::move(response_json));
    m->qos = 1;
    m->props.content_type = "application/json";
    m->props.correlation_data = std::move(correlation);

    // One delivery per admin session, at the highest QoS of its matching subscriptions.
    struct Target {
        Session* session;
        uint8_t qos;
        std::vector<uint32_t> ids;
    };
    std::vector<Target> targets;
    auto add = [&targets](const SubscriptionEntry& e) {
        if (!e.session->admin) return;
        auto it = std::find_if(targets.begin(), targets.end(),
                               [&e](const Target& t) { return t.session == e.session; });
        if (it == targets.end()) {
            targets.push_back(Target{e.session, e.options.qos, {}});
            it = targets.end() - 1;
        }
        it->qos = std::max(it->qos, e.options.qos);
        if (e.subscription_id) it->ids.push_back(e.subscription_id);
    };
    std::vector<SubscriptionEntry> shared;  // one admin member per share group
    subscriptions.match(m->topic, add, [&shared](ShareGroup& g) {
        const size_t n = g.members.size();
        for (size_t k = 0; k < n; ++k) {
            const size_t i = (g.next_index + k) % n;
            if (!g.members[i].session->admin) continue;
            g.next_index = (i + 1) % n;
            shared.push_back(g.members[i]);
            return;
        }
    });
    for (Target& t : targets) offer(*t.session, m, std::min<uint8_t>(t.qos, 1), false, t.ids);
    for (const SubscriptionEntry& e : shared) {
        std::span<const uint32_t> ids;
        if (e.subscription_id) ids = std::span<const uint32_t>(&e.subscription_id, 1);
        offer(*e.session, m, std::min<uint8_t>(e.options.qos, 1), false, ids);
    }
}

}  // namespace herald::core
