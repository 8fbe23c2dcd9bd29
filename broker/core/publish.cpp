// Inbound PUBLISH (checks, topic alias, retained store, routing, ack), PUBREL, and the acks a
// client sends for what we delivered (PUBACK, PUBREC, PUBCOMP).
//
// Choices where the specs leave room (for the README):
// - Clients may not publish to topics starting with '$' (reserved for the broker: $SYS), except
//   admin requests to $CONTROL/herald/v1 (control.cpp): 5.0 gets PUBACK/PUBREC 0x87; 3.1.1 is
//   acked normally and the message dropped (3.1.1 has no way to say no). An ACL write denial,
//   and a publish the topic rules of SPEC 3 refuse (topic_rules.h), are answered the same way.
// - QoS 2 is "method A": the message is routed on PUBLISH, its packet id kept until PUBREL;
//   a duplicate PUBLISH with a kept id is re-acked with PUBREC and not routed again.
// - The Receive Maximum we advertise counts QoS 2 messages awaiting PUBREL (QoS 1 completes
//   at once here); one more is DISCONNECT 0x93 [MQTT-3.3.4-8].
// - A QoS 1/2 PUBLISH that reached no subscriber is acked with 0x10 No matching subscribers
//   (5.0), as mosquitto does.
// - PUBREC for an unknown packet id is answered with PUBREL 0x92 (3.1.1: plain PUBREL), so
//   the client can end its flow; unknown PUBACK/PUBCOMP ids are ignored (logged at debug).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"
#include "broker/mqtt/topic.h"

namespace herald::core {

using mqtt::ReasonCode;

void Broker::Impl::ack_publish(Client& c, mqtt::PacketType type, uint16_t packet_id,
                               ReasonCode rc) {
    mqtt::Ack a;
    a.type = type;
    a.packet_id = packet_id;
    a.reason = c.v5() ? rc : ReasonCode::Success;
    send(c, a);
}

void Broker::Impl::topic_rule_refused(Client& c, const char* what, std::string_view topic,
                                      RuleVerdict v) {
    // Info once per connection (a misbehaving client could otherwise fill the log), debug after.
    const auto level = c.topic_rule_logged ? spdlog::level::debug : spdlog::level::info;
    c.topic_rule_logged = true;
    const Session* s = c.session;
    spdlog::log(level, "Refused {} of {} (user {}) to {}: {}", what,
                s ? printable(s->client_id) : "-",
                s && s->username ? printable(*s->username) : "(anonymous)", printable(topic),
                rule_verdict_name(v));
}

size_t Broker::Impl::publish_message(const MessagePtr& m) {
    if (m->retain) {
        // [MQTT-3.3.1-5..7]: a retained PUBLISH replaces the topic's retained message; an
        // empty payload removes it (and is still delivered to current subscribers).
        if (m->payload->empty()) {
            if (retained.erase(m->topic)) {
                store.retained_erase(m->topic);
                ++store_writes;
            }
        } else {
            retained.set(m);
            store.retained_set(*m);
            ++store_writes;
        }
    }
    return route(m);
}

void Broker::Impl::handle_publish(Client& c, mqtt::Publish& p) {
    if (c.state != ClientState::Active || !c.session) return;
    Session& s = *c.session;
    const bool v5 = c.v5();
    stats.publish_received++;

    // A client never sends Subscription Identifiers in a PUBLISH [MQTT-3.3.4-6].
    if (!p.props.subscription_identifiers.empty())
        return protocol_error(c, ReasonCode::ProtocolError,
                              "PUBLISH from a client carries a subscription identifier");

    // Topic alias (5.0 spec 3.3.2.3.4).
    if (v5 && p.props.topic_alias) {
        uint16_t alias = *p.props.topic_alias;
        if (alias == 0 || alias > c.alias_limit_in)  // [MQTT-3.3.2-8, -9]
            return protocol_error(c, ReasonCode::TopicAliasInvalid, "topic alias out of range");
        if (p.topic.empty()) {
            const TopicAliases* a = c.aliases();
            if (!a || alias >= a->in.size() || a->in[alias].empty())
                return protocol_error(c, ReasonCode::ProtocolError, "unknown topic alias");
            p.topic = a->in[alias];
        } else {
            auto& in = c.topic_aliases().in;
            if (in.size() <= alias) in.resize(size_t(c.alias_limit_in) + 1);
            in[alias] = p.topic;
        }
        p.props.topic_alias.reset();
    } else if (p.topic.empty()) {
        return protocol_error(c, ReasonCode::ProtocolError, "empty topic without topic alias");
    }

    // The decoder checked the syntax; wildcards are re-checked cheaply because an alias
    // may have supplied the topic [MQTT-3.3.2-2].
    if (p.topic.find_first_of("+#") != std::string::npos)
        return protocol_error(c, ReasonCode::TopicNameInvalid, "wildcard in topic name");
    if (config.max_topic_levels &&
        size_t(std::count(p.topic.begin(), p.topic.end(), '/')) >= config.max_topic_levels)
        return protocol_error(c, ReasonCode::TopicNameInvalid, "too many topic levels");
    if (p.qos > config.max_qos)  // [MQTT-3.2.2-11]
        return protocol_error(c, ReasonCode::QoSNotSupported, "QoS not supported");
    if (p.retain && !config.retain_available)  // [MQTT-3.2.2-14]
        return protocol_error(c, ReasonCode::RetainNotSupported, "retain not supported");

    const auto ack_type = p.qos == 2 ? mqtt::PacketType::Pubrec : mqtt::PacketType::Puback;
    if (p.qos == 2 && s.has_incoming_qos2(p.packet_id)) {
        // Exactly once: already routed, the PUBREC was lost (or the client resends).
        return ack_inbound(c, ack_type, p.packet_id, ReasonCode::Success, false);
    }
    if (p.qos == 2 && v5 && s.incoming_qos2_count() >= config.receive_maximum)
        return protocol_error(c, ReasonCode::ReceiveMaximumExceeded, "receive maximum exceeded");

    // Checks that refuse this one message but keep the connection.
    ReasonCode refused = ReasonCode::Success;
    RuleVerdict rule = RuleVerdict::Allowed;
    if (v5 && p.props.payload_format_indicator.value_or(0) == 1 && !mqtt::valid_utf8(*p.payload)) {
        refused = ReasonCode::PayloadFormatInvalid;  // [MQTT-3.3.2-4] (may refuse)
    } else if (p.topic[0] == '$') {
        if (control && p.topic == kControlTopic)  // SPEC 7, control.cpp
            return handle_control(c, s, p, ack_type);
        refused = ReasonCode::NotAuthorized;
    } else if (acl.loaded() && !acl.allowed(Access::Write, s.username, s.client_id, p.topic)) {
        refused = ReasonCode::NotAuthorized;
    } else if (const TopicClass cls = classify_topic(p.topic);  // a first-byte test for most
               cls != TopicClass::Plain &&
               (rule = rule_publish(p.topic, cls, user_of(s), identity)) != RuleVerdict::Allowed) {
        topic_rule_refused(c, "PUBLISH", p.topic, rule);
        refused = ReasonCode::NotAuthorized;
    }
    if (refused != ReasonCode::Success) {
        spdlog::debug("Denied PUBLISH from {} to {}: {}", printable(s.client_id),
                      printable(p.topic), mqtt::reason_name(refused));
        stats.publish_dropped++;
        // 3.1.1: acked as if accepted (ack_publish sends Success for 3.1.1).
        if (p.qos > 0) ack_inbound(c, ack_type, p.packet_id, refused, false);
        return;
    }

    if (p.topic[0] == 'p') {  // presence/{u} from u: a status update, merged, not routed
        ReasonCode presence_reason = ReasonCode::Success;
        static const std::string kEmpty;
        const uint64_t writes_before = store_writes;  // the merged record is retained: stored
        if (presence_status_update(s, p.topic, p.payload ? *p.payload : kEmpty, presence_reason)) {
            if (p.qos == 2 && presence_reason == ReasonCode::Success) s.add_incoming_qos2(p.packet_id);
            if (p.qos > 0)
                ack_inbound(c, ack_type, p.packet_id, presence_reason, store_writes != writes_before);
            return;
        }
    }

    auto m = std::make_shared<Message>();
    m->topic = std::move(p.topic);
    m->payload = p.payload ? std::move(p.payload) : std::make_shared<const std::string>();
    m->qos = p.qos;
    m->retain = p.retain;
    m->origin_id = s.id;
    if (v5) {
        // Forwarded unaltered [MQTT-3.3.2-15..20, -17 user properties]; never the alias.
        m->props.payload_format_indicator = p.props.payload_format_indicator;
        m->props.content_type = std::move(p.props.content_type);
        m->props.response_topic = std::move(p.props.response_topic);
        m->props.correlation_data = std::move(p.props.correlation_data);
        m->props.user_properties = std::move(p.props.user_properties);
        if (p.props.message_expiry_interval)
            m->expiry_at_mono_ms = clock.mono_ms() + uint64_t(*p.props.message_expiry_interval) * 1000;
    }
    const uint64_t writes_before = store_writes;
    // SPEC 5: users/{to}/... and groups/{g}/... (first byte first: plain topics pay one test).
    if ((m->topic[0] == 'u' || m->topic[0] == 'g') && stream_state.enabled) {
        if (const std::string_view key = stream_key(m->topic); !key.empty()) {
            if (p.qos == 0 || p.retain) {  // live (or retained) only: not in the stream
                stream_stamp(*m, 0, clock.wall_ms());
            } else if (const ReasonCode rc = stream_append(s, *m, key); rc != ReasonCode::Success) {
                stats.publish_dropped++;
                if (p.qos == 2 && !mqtt::is_error(rc)) s.add_incoming_qos2(p.packet_id);
                ack_inbound(c, ack_type, p.packet_id, rc, store_writes != writes_before);
                return;
            }
        }
    }
    size_t receivers = publish_message(m);

    if (p.qos == 0) return;
    if (p.qos == 2) s.add_incoming_qos2(p.packet_id);
    // After commit when the message was written for a persistent session or appended to a
    // stream (held_acks.cpp). A stream entry is stored for its readers: Success.
    ack_inbound(c, ack_type, p.packet_id,
                receivers || m->stream_seq ? ReasonCode::Success : ReasonCode::NoMatchingSubscribers,
                store_writes != writes_before);
}

void Broker::Impl::handle_ack(Client& c, mqtt::Ack& a) {
    if (c.state != ClientState::Active || !c.session) return;
    Session& s = *c.session;

    if (a.type == mqtt::PacketType::Pubrel) {
        // PUBREL ends the inbound QoS 2 flow [MQTT-4.3.3-9 (5.0)]; the id may be reused after.
        bool known = s.remove_incoming_qos2(a.packet_id);
        ack_inbound(c, mqtt::PacketType::Pubcomp, a.packet_id,
                    known ? ReasonCode::Success : ReasonCode::PacketIdentifierNotFound, false);
        return;
    }

    InflightState want = a.type == mqtt::PacketType::Puback   ? InflightState::AwaitPuback
                         : a.type == mqtt::PacketType::Pubrec ? InflightState::AwaitPubrec
                                                              : InflightState::AwaitPubcomp;
    size_t i = 0;
    while (i < s.inflight.size() &&
           !(s.inflight[i].packet_id == a.packet_id && s.inflight[i].state == want))
        ++i;
    if (i == s.inflight.size()) {
        spdlog::debug("Client {} sent {} for unknown packet id {}", printable(s.client_id),
                      int(a.type), a.packet_id);
        if (a.type == mqtt::PacketType::Pubrec && !mqtt::is_error(a.reason))
            ack_publish(c, mqtt::PacketType::Pubrel, a.packet_id,
                        ReasonCode::PacketIdentifierNotFound);
        return;
    }
    if (a.type == mqtt::PacketType::Pubrec && !mqtt::is_error(a.reason)) {
        // [MQTT-4.3.3-4]: answer PUBREC with PUBREL; the payload is no longer needed.
        InflightEntry& e = s.inflight[i];
        if (s.stored) persist_pubrec(s, e.delivery, e.packet_id);
        e.state = InflightState::AwaitPubcomp;
        // A stream entry keeps its message until PUBCOMP, which moves the device's cursor.
        if (!e.delivery.message->stream_seq) e.delivery.message.reset();
        e.delivery.subscription_ids.clear();
        ack_publish(c, mqtt::PacketType::Pubrel, a.packet_id, ReasonCode::Success);
        return;
    }
    // PUBACK, PUBCOMP, or a PUBREC with an error code: the flow ends, the slot frees
    // (spec 4.9: the Receive Maximum quota comes back).
    if (s.stored) persist_erase(s, s.inflight[i].delivery);
    if (const Delivery& d = s.inflight[i].delivery; d.message && d.message->stream_seq &&
                                                    a.type != mqtt::PacketType::Pubrec)
        stream_acked(s, *d.message);  // SPEC 5: the device's cursor
    s.inflight.erase_at(i);
    pump(s);
    if (stream_state.waiting_room) streams_room(s);  // a replay waiting for the queue to drain
}

}  // namespace herald::core
