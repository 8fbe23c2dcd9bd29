// Client protocol: what each packet from the server does, and the outbound QoS / request
// bookkeeping (packet ids, the inflight window under the server's Receive Maximum).
#include <type_traits>

#include "broker/mqtt/topic.h"
#include "tools/client/client.h"

namespace herald::tools {

using mqtt::ReasonCode;

namespace {

// 3.1.1 CONNACK return codes in 5.0 terms, so that both versions report the same words.
ReasonCode connack_v311_to_v5(uint8_t code) {
    switch (code) {
        case 0: return ReasonCode::Success;
        case 1: return ReasonCode::UnsupportedProtocolVersion;
        case 2: return ReasonCode::ClientIdentifierNotValid;
        case 3: return ReasonCode::ServerUnavailable;
        case 4: return ReasonCode::BadUserNameOrPassword;
        case 5: return ReasonCode::NotAuthorized;
        default: return ReasonCode::UnspecifiedError;
    }
}

}  // namespace

bool Client::on_frame(std::span<const uint8_t> frame) {
    mqtt::DecodeResult result = mqtt::decode(frame, options_.version);
    if (!result.ok) {
        fail("malformed packet from server: " + result.error.message);
        return false;
    }
    if (on_trace) trace_in(result.packet);
    uint8_t type = frame[0] >> 4;
    if (state_ == ClientState::AwaitConnack && type != uint8_t(mqtt::PacketType::Connack) &&
        type != uint8_t(mqtt::PacketType::Disconnect)) {
        fail("protocol error: server sent a packet before CONNACK");
        return false;
    }
    std::visit(
        [&](auto& p) {
            using T = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<T, mqtt::Connack>) {
                handle_connack(p, frame);
            } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
                handle_publish(p);
            } else if constexpr (std::is_same_v<T, mqtt::Ack>) {
                handle_ack(p);
            } else if constexpr (std::is_same_v<T, mqtt::Suback> || std::is_same_v<T, mqtt::Unsuback>) {
                handle_suback(p.packet_id, p.reasons);
            } else if constexpr (std::is_same_v<T, mqtt::Pingresp>) {
                ping_outstanding_ = false;
            } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
                handle_disconnect(p);
            } else {
                fail("protocol error: unexpected packet from server");
            }
        },
        result.packet);
    return state_ != ClientState::Closing && state_ != ClientState::Closed;
}

void Client::handle_connack(const mqtt::Connack& connack, std::span<const uint8_t> frame) {
    if (state_ != ClientState::AwaitConnack) {
        fail("protocol error: second CONNACK");
        return;
    }
    ConnectResult result;
    result.connack = &connack;
    // For 3.1.1 read the return code off the wire: the byte after the flags (frame[3]).
    result.reason = options_.version == mqtt::ProtocolVersion::V311 && frame.size() >= 4
                        ? connack_v311_to_v5(frame[3])
                        : connack.reason;
    if (mqtt::is_error(result.reason)) {
        result.refused_by_server = true;
        result.error = std::string(mqtt::reason_name(result.reason));
        if (connack.props.reason_string) result.error += " (" + *connack.props.reason_string + ")";
        close_info_.error = result.error;
        close_info_.reason = result.reason;
        if (on_connect) on_connect(result);
        close_handles();
        return;
    }
    result.ok = true;
    state_ = ClientState::Connected;
    const mqtt::Properties& props = connack.props;
    if (props.receive_maximum) server_receive_max_ = *props.receive_maximum;
    if (props.maximum_qos) server_max_qos_ = *props.maximum_qos;
    if (props.assigned_client_identifier) options_.client_id = *props.assigned_client_identifier;
    if (props.server_keep_alive) arm_keepalive(*props.server_keep_alive);
    if (on_connect) on_connect(result);
}

void Client::handle_publish(mqtt::Publish& publish) {
    // Resolve an inbound topic alias (5.0): a topic with an alias sets it, an empty topic uses it.
    std::string_view topic = publish.topic;
    if (publish.props.topic_alias) {
        uint16_t alias = *publish.props.topic_alias;
        uint16_t max = options_.props.topic_alias_maximum.value_or(0);
        if (alias == 0 || alias > max) {
            disconnect(ReasonCode::TopicAliasInvalid);
            return;
        }
        if (inbound_aliases_.size() <= alias) inbound_aliases_.resize(size_t(max) + 1);
        if (publish.topic.empty()) {
            if (inbound_aliases_[alias].empty()) {
                disconnect(ReasonCode::ProtocolError);
                return;
            }
            topic = inbound_aliases_[alias];
        } else {
            inbound_aliases_[alias] = publish.topic;
        }
    } else if (topic.empty()) {
        disconnect(ReasonCode::ProtocolError);
        return;
    }

    if (publish.qos == 2) {
        if (inbound_qos2_.empty()) inbound_qos2_.resize(65536);
        bool duplicate = inbound_qos2_[publish.packet_id];
        if (!duplicate) ++inbound_qos2_count_;
        inbound_qos2_[publish.packet_id] = true;
        send(mqtt::Ack{mqtt::PacketType::Pubrec, publish.packet_id, ReasonCode::Success, {}});
        if (duplicate) return;  // already delivered; the server resent before our PUBREC arrived
    } else if (publish.qos == 1) {
        send(mqtt::Ack{mqtt::PacketType::Puback, publish.packet_id, ReasonCode::Success, {}});
    }
    if (on_message) on_message(publish, topic);
}

void Client::handle_ack(const mqtt::Ack& ack) {
    uint16_t id = ack.packet_id;
    if (ack.type == mqtt::PacketType::Pubrel) {
        bool known = !inbound_qos2_.empty() && inbound_qos2_[id];
        if (known) {
            inbound_qos2_[id] = false;
            --inbound_qos2_count_;
        }
        // Answer PUBCOMP even for an unknown id: the server may be resending after a reconnect.
        send(mqtt::Ack{mqtt::PacketType::Pubcomp, id, ReasonCode::Success, {}});
        if (known && on_inbound_released) on_inbound_released();
        return;
    }
    OutState st = id >= 1 && id <= out_state_.size() ? out_state_[id - 1] : OutState::Free;
    switch (ack.type) {
        case mqtt::PacketType::Puback:
            if (st != OutState::AwaitPuback) return;  // unknown id: ignore, as mosquitto does
            break;
        case mqtt::PacketType::Pubrec:
            if (st != OutState::AwaitPubrec) return;
            if (!mqtt::is_error(ack.reason)) {
                out_state_[id - 1] = OutState::AwaitPubcomp;
                send(mqtt::Ack{mqtt::PacketType::Pubrel, id, ReasonCode::Success, {}});
                return;
            }
            break;  // an error PUBREC ends the flow [MQTT-4.3.3]
        case mqtt::PacketType::Pubcomp:
            if (st != OutState::AwaitPubcomp) return;
            break;
        default:
            return;
    }
    release_packet_id(id);
    --inflight_;
    if (on_publish_done) on_publish_done(id, ack.reason);
    drain_pending();
}

void Client::handle_suback(uint16_t packet_id, const std::vector<ReasonCode>& reasons) {
    for (size_t i = 0; i < requests_.size(); ++i) {
        if (requests_[i].packet_id != packet_id) continue;
        SubackFn done = std::move(requests_[i].done);
        requests_.erase(requests_.begin() + long(i));
        release_packet_id(packet_id);
        if (done) done(packet_id, reasons);
        return;
    }
}

void Client::handle_disconnect(const mqtt::Disconnect& disconnect) {
    close_info_.by_server = true;
    close_info_.reason = disconnect.reason;
    close_info_.error = "Disconnected by server: " + std::string(mqtt::reason_name(disconnect.reason));
    if (disconnect.props.reason_string) close_info_.error += " (" + *disconnect.props.reason_string + ")";
    close_handles();
}

// --- outbound ---

void Client::send(const mqtt::Packet& packet) {
    if (on_trace) trace_out(packet);
    mqtt::encode(packet, options_.version, out_);
    mark_dirty();
}

void Client::send_publish(std::string_view topic, std::string_view payload, uint8_t qos, bool retain,
                          const mqtt::Properties* props) {
    uint16_t id = 0;
    if (qos > 0) {
        id = take_packet_id();
        out_state_[id - 1] = qos == 1 ? OutState::AwaitPuback : OutState::AwaitPubrec;
        ++inflight_;
    }
    if (on_trace) {
        mqtt::Publish p;
        p.qos = qos;
        p.retain = retain;
        p.topic = std::string(topic);
        p.packet_id = id;
        p.payload = std::make_shared<const std::string>(payload);
        trace_out(p);
    }
    mqtt::encode_publish(topic, payload, qos, retain, false, id, props, options_.version, out_);
    mark_dirty();
}

PublishStatus Client::publish(std::string_view topic, std::string_view payload, uint8_t qos, bool retain,
                              const mqtt::Properties* props) {
    if (state_ != ClientState::Connected) return PublishStatus::NotConnected;
    if (qos > 2 || !mqtt::valid_topic_name(topic)) return PublishStatus::Invalid;
    if (qos > server_max_qos_) qos = server_max_qos_;  // the server said it takes no more [MQTT-3.2.2-11]
    if (options_.version != mqtt::ProtocolVersion::V5) props = nullptr;
    // Once anything is held back, everything queues behind it, QoS 0 too, to keep the order.
    if (!pending_.empty() || (qos > 0 && inflight_ >= server_receive_max_)) {
        pending_.push_back(PendingPublish{std::string(topic), std::string(payload), qos, retain, props != nullptr,
                                          props ? *props : mqtt::Properties{}});
        return PublishStatus::Queued;
    }
    send_publish(topic, payload, qos, retain, props);
    return PublishStatus::Sent;
}

void Client::drain_pending() {
    while (!pending_.empty() && state_ == ClientState::Connected) {
        PendingPublish& p = pending_.front();
        if (p.qos > 0 && inflight_ >= server_receive_max_) break;
        send_publish(p.topic, p.payload, p.qos, p.retain, p.has_props ? &p.props : nullptr);
        pending_.pop_front();
    }
}

uint16_t Client::subscribe(std::vector<mqtt::Subscription> subscriptions, SubackFn done,
                           const mqtt::Properties* props) {
    if (state_ != ClientState::Connected) return 0;
    mqtt::Subscribe sub;
    sub.packet_id = take_packet_id();
    out_state_[sub.packet_id - 1] = OutState::AwaitSuback;
    sub.subscriptions = std::move(subscriptions);
    if (props && options_.version == mqtt::ProtocolVersion::V5) sub.props = *props;
    requests_.push_back(PendingRequest{sub.packet_id, std::move(done)});
    send(sub);
    return sub.packet_id;
}

uint16_t Client::unsubscribe(std::vector<std::string> filters, SubackFn done, const mqtt::Properties* props) {
    if (state_ != ClientState::Connected) return 0;
    mqtt::Unsubscribe unsub;
    unsub.packet_id = take_packet_id();
    out_state_[unsub.packet_id - 1] = OutState::AwaitSuback;
    unsub.filters = std::move(filters);
    if (props && options_.version == mqtt::ProtocolVersion::V5) unsub.props = *props;
    requests_.push_back(PendingRequest{unsub.packet_id, std::move(done)});
    send(unsub);
    return unsub.packet_id;
}

void Client::disconnect(ReasonCode reason, const mqtt::Properties* props) {
    if (state_ == ClientState::Disconnecting || state_ == ClientState::Closing || state_ == ClientState::Closed)
        return;
    if (state_ != ClientState::Connected && state_ != ClientState::AwaitConnack) {
        close("disconnected before the connection was made");
        return;
    }
    mqtt::Disconnect d;
    d.reason = reason;
    if (props && options_.version == mqtt::ProtocolVersion::V5) d.props = *props;
    send(d);
    state_ = ClientState::Disconnecting;
    if (reason != ReasonCode::Success && reason != ReasonCode::DisconnectWithWill)
        close_info_.error = "Disconnected: " + std::string(mqtt::reason_name(reason));
}

// Ids come from a free list; the table grows only to the peak number of ids in use, so a
// steady flow reuses the same few ids and allocates nothing.
uint16_t Client::take_packet_id() {
    if (!free_ids_.empty()) {
        uint16_t id = free_ids_.back();
        free_ids_.pop_back();
        return id;
    }
    // The caller never has more than 65535 ids in use: the inflight window is capped by the
    // server's Receive Maximum (<= 65535) and requests are few.
    out_state_.push_back(OutState::Free);
    return static_cast<uint16_t>(out_state_.size());
}

void Client::release_packet_id(uint16_t id) {
    out_state_[id - 1] = OutState::Free;
    free_ids_.push_back(id);
}

}  // namespace herald::tools
