// Routing and delivery: subscription matching merged per session, share groups, the
// outgoing inflight window, queueing for slow or offline sessions, topic aliases towards the
// client, Maximum Packet Size, message expiry. Every copy of a message shares one payload.
//
// Choices where the specs leave room (for the README):
// - Overlapping subscriptions of one session give one delivery at the highest granted QoS
//   with every matching subscription identifier [MQTT-3.3.5-1]; its retain flag is set if
//   any of them has Retain As Published. A shared subscription is delivered on its own (a
//   session may then get a second copy, as spec 4.8.2 allows).
// - Share groups: round robin, skipping members that are offline or over their limits; if
//   every member is, the next one in turn gets it (queued, or dropped if QoS 0).
// - Slow consumers: a connection with more than max_output_buffer bytes not yet taken by the
//   kernel gets no new PUBLISH: QoS 0 is dropped, QoS 1/2 queued (max_queued_messages /
//   max_queued_bytes per session, 0 = no limit; over that, dropped). Every drop is counted
//   in $SYS publish/messages/dropped. Offline sessions keep QoS 1/2 only.
// - Topic aliases towards a client: the first max topics get aliases 1..max for the life of
//   the connection; later topics are sent in full.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"

namespace herald::core {

namespace {

bool has_forwarded_props(const mqtt::Properties& p) {
    return p.payload_format_indicator || p.content_type || p.response_topic ||
           p.correlation_data || !p.user_properties.empty();
}

}  // namespace

size_t Broker::Impl::window(const Client& c) const {
    size_t w = c.receive_maximum;  // [MQTT-3.3.4-9]: never more unacked than it allows
    if (config.max_inflight_messages && config.max_inflight_messages < w)
        w = config.max_inflight_messages;
    return w;
}

bool Broker::Impl::output_has_room(const Client& c) const {
    return config.max_output_buffer == 0 ||
           c.conn.pending_output_bytes() <= config.max_output_buffer;
}

bool Broker::Impl::read_allowed(const Session& s, std::string_view topic, TopicClass cls) const {
    return (cls == TopicClass::Plain || rule_read(topic, cls, user_of(s), identity)) &&
           (!acl.loaded() || acl.allowed(Access::Read, s.username, s.client_id, topic));
}

size_t Broker::Impl::route(const MessagePtr& m) {
    const uint64_t epoch = ++route_epoch;
    const TopicClass cls = classify_topic(m->topic);  // once per message, not per receiver
    route_count = 0;
    size_t receivers = 0;

    auto add = [&](const SubscriptionEntry& e) {
        Session* s = e.session;
        const bool retain = e.options.retain_as_published && m->retain;
        RouteTarget* t;
        if (s->route_epoch != epoch) {
            s->route_epoch = epoch;
            s->route_slot = static_cast<uint32_t>(route_count);
            if (route_count == route_targets.size()) route_targets.emplace_back();
            t = &route_targets[route_count++];
            t->session = s;
            t->qos = e.options.qos;
            t->retain = retain;
            t->subscription_ids.clear();
        } else {
            t = &route_targets[s->route_slot];
            t->qos = std::max(t->qos, e.options.qos);
            t->retain = t->retain || retain;
        }
        if (e.subscription_id) t->subscription_ids.push_back(e.subscription_id);
    };

    auto on_group = [&](ShareGroup& g) {
        const size_t n = g.members.size();
        if (n == 0) return;
        const size_t start = g.next_index % n;
        size_t chosen = start;
        for (size_t k = 0; k < n; ++k) {
            size_t i = (start + k) % n;
            const Session* s = g.members[i].session;
            const Client* c = s->client;
            if (c && c->state == ClientState::Active && output_has_room(*c) &&
                (m->qos == 0 || s->inflight.size() < window(*c))) {
                chosen = i;
                break;
            }
        }
        g.next_index = (chosen + 1) % n;
        const SubscriptionEntry& e = g.members[chosen];
        if (!read_allowed(*e.session, m->topic, cls)) return;
        uint32_t id = e.subscription_id;
        std::span<const uint32_t> ids;
        if (id) ids = std::span<const uint32_t>(&id, 1);
        offer(*e.session, m, e.options.qos, e.options.retain_as_published && m->retain, ids);
        receivers++;
    };

    Session* kept_from_origin = nullptr;  // a No Local subscription of the publisher matched
    subscriptions.match(
        m->topic,
        [&](const SubscriptionEntry& e) {
            // No Local: not back to the publishing session [MQTT-3.8.3-3].
            if (e.options.no_local && m->origin_id != 0 && e.session->id == m->origin_id) {
                kept_from_origin = e.session;
                return;
            }
            add(e);
        },
        on_group);

    const bool stream = m->stream_seq != 0;  // SPEC 5: through the device's stream reader
    // Kept from the publisher by No Local (and no other subscription of its wants it): a stream
    // entry counts as acknowledged by the publishing device, so no replay sends it back.
    if (stream && kept_from_origin && kept_from_origin->route_epoch != epoch)
        stream_own_suppressed(*kept_from_origin, *m);
    for (size_t i = 0; i < route_count; ++i) {
        RouteTarget& t = route_targets[i];
        if (!read_allowed(*t.session, m->topic, cls)) continue;  // checked at every delivery
        if (stream) stream_deliver(*t.session, m, t.qos, t.retain, t.subscription_ids);
        else offer(*t.session, m, t.qos, t.retain, t.subscription_ids);
        receivers++;
    }
    return receivers;
}

void Broker::Impl::offer(Session& s, const MessagePtr& m, uint8_t qos, bool retain,
                         std::span<const uint32_t> ids) {
    qos = std::min(qos, m->qos);  // delivery QoS = min(published, granted) [MQTT-3.8.4-8]
    Client* c = s.client && s.client->state == ClientState::Active ? s.client : nullptr;
    const uint64_t now = clock.mono_ms();
    bool room = false;
    if (c) {
        room = output_has_room(*c);
        if (qos == 0) {
            if (!room || write_publish(*c, *m, 0, retain, ids, 0, false, now) == SendResult::TooLarge)
                stats.publish_dropped++;
            return;
        }
        if (room && s.queue.empty() && s.inflight.size() < window(*c)) {
            uint16_t id = s.alloc_packet_id();
            SendResult r = write_publish(*c, *m, qos, retain, ids, id, false, now);
            if (r == SendResult::Sent) {
                s.inflight.push_back(InflightEntry{
                    id, qos == 1 ? InflightState::AwaitPuback : InflightState::AwaitPubrec,
                    Delivery{m, qos, retain, std::vector<uint32_t>(ids.begin(), ids.end())}});
                // A stream entry is not stored with the session: the stream holds it.
                if (s.stored && !m->stream_seq) persist_put(s, s.inflight[s.inflight.size() - 1].delivery, id);
            } else if (r == SendResult::TooLarge) {
                stats.publish_dropped++;
            }
            return;
        }
    } else if (qos == 0) {
        return;  // offline sessions keep QoS 1/2 only (spec 3.1.2.4 lets us drop QoS 0)
    }

    if (m->expiry_at_mono_ms && now >= m->expiry_at_mono_ms) return;
    const size_t bytes = m->payload->size();
    if ((config.max_queued_messages && s.queue.size() >= config.max_queued_messages) ||
        (config.max_queued_bytes && s.queued_bytes + bytes > config.max_queued_bytes)) {
        stats.publish_dropped++;
        spdlog::debug("Queue of {} full ({} messages, {} bytes): message on {} dropped",
                      printable(s.client_id), s.queue.size(), s.queued_bytes, printable(m->topic));
        return;
    }
    s.queue.push_back(Delivery{m, qos, retain, std::vector<uint32_t>(ids.begin(), ids.end())});
    s.queued_bytes += bytes;
    if (s.stored && !m->stream_seq) persist_put(s, s.queue[s.queue.size() - 1], 0);
    if (c && !room && !s.in_backlog) {
        s.in_backlog = true;
        backlog.push_back(s.id);
    }
}

SendResult Broker::Impl::write_publish(Client& c, const Message& m, uint8_t qos, bool retain,
                                       std::span<const uint32_t> ids, uint16_t packet_id,
                                       bool dup, uint64_t now) {
    uint32_t expiry_left = 0;
    if (m.expiry_at_mono_ms) {
        // [MQTT-3.3.2-5]: an expired message is not started; [MQTT-3.3.2-6]: the interval
        // sent is what remains. A resend of one already started goes out with 1 s left.
        if (now >= m.expiry_at_mono_ms) {
            if (!dup) return SendResult::Expired;
            expiry_left = 1;
        } else {
            expiry_left = static_cast<uint32_t>((m.expiry_at_mono_ms - now + 999) / 1000);
        }
    }

    std::string_view topic = m.topic;
    const mqtt::Properties* props = nullptr;
    uint16_t new_alias = 0;
    if (c.v5()) {
        const bool forwarded = has_forwarded_props(m.props);
        if (forwarded || !ids.empty() || m.expiry_at_mono_ms || c.topic_alias_maximum) {
            out_props = m.props;
            out_props.subscription_identifiers.assign(ids.begin(), ids.end());
            if (m.expiry_at_mono_ms) out_props.message_expiry_interval = expiry_left;
            else out_props.message_expiry_interval.reset();
            out_props.topic_alias.reset();
            if (c.topic_alias_maximum) {
                size_t used = 0;
                uint16_t alias = 0;
                if (const TopicAliases* a = c.aliases()) {
                    used = a->out.size();
                    auto it = a->out.find(m.topic);
                    if (it != a->out.end()) alias = it->second;
                }
                if (alias) {
                    out_props.topic_alias = alias;
                    topic = {};
                } else if (used < c.topic_alias_maximum) {
                    new_alias = static_cast<uint16_t>(used + 1);
                    out_props.topic_alias = new_alias;
                }
            }
            props = &out_props;
        }
    }

    if (c.maximum_packet_size &&
        mqtt::encoded_publish_size(topic, m.payload->size(), qos, props, c.version) >
            c.maximum_packet_size) {
        // [MQTT-3.1.2-25]: never send more than the client accepts; the message is dropped.
        spdlog::debug("PUBLISH on {} too large for {} (max {}), dropped", printable(m.topic),
                      c.session ? printable(c.session->client_id) : "-", c.maximum_packet_size);
        return SendResult::TooLarge;
    }
    if (new_alias) c.topic_aliases().out.emplace(m.topic, new_alias);

    std::string& out = c.conn.output();
    const size_t before = out.size();
    mqtt::encode_publish(topic, *m.payload, qos, retain, dup, packet_id, props, c.version, out);
    stats.bytes_sent += out.size() - before;
    stats.messages_sent++;
    stats.publish_sent++;
    return SendResult::Sent;
}

void Broker::Impl::pump(Session& s) {
    if (!s.client || s.client->state != ClientState::Active) return;
    Client& c = *s.client;
    const uint64_t now = clock.mono_ms();
    const size_t win = window(c);
    while (!s.queue.empty()) {
        if (s.inflight.size() >= win) return;  // the next ack pumps again
        if (!output_has_room(c)) {
            if (!s.in_backlog) {
                s.in_backlog = true;
                backlog.push_back(s.id);
            }
            return;
        }
        Delivery d = std::move(s.queue.front());
        s.queue.pop_front();
        s.queued_bytes -= std::min<uint64_t>(s.queued_bytes, d.message->payload->size());
        uint16_t id = d.qos ? s.alloc_packet_id() : 0;
        SendResult r = write_publish(c, *d.message, d.qos, d.retain, d.subscription_ids, id, false, now);
        if (r == SendResult::Sent) {
            if (d.qos) {
                if (s.stored) persist_sent(s, d, id);
                s.inflight.push_back(InflightEntry{
                    id, d.qos == 1 ? InflightState::AwaitPuback : InflightState::AwaitPubrec,
                    std::move(d)});
            }
        } else {
            if (r == SendResult::TooLarge) stats.publish_dropped++;
            if (s.stored) persist_erase(s, d);  // too large, or expired while queued
        }
    }
}

void Broker::Impl::pump_backlog() {
    if (backlog.empty()) return;
    std::vector<uint64_t> ids;
    ids.swap(backlog);
    for (uint64_t id : ids) {
        Session* s = session_by_id(id);
        if (!s) continue;
        s->in_backlog = false;
        pump(*s);
    }
}

}  // namespace herald::core
