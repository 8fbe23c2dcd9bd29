// The Broker's public door: frames in, dispatch to the handler of each packet type, the
// helpers every handler uses to send and to close, and on_closed(), where a Client dies.
//
// Choices where the specs leave room (for the README):
// - A decode error from a 5.0 client gets DISCONNECT with the decoder's reason code and its
//   message as Reason String; a 3.1.1 client is just closed [MQTT-4.8.0-1 (3.1.1)].
// - A malformed CONNECT is answered by closing (the protocol version cannot be trusted).
// - An unsupported protocol level: CONNACK 0x01 in 3.1.1 form for levels below 5 (what a
//   3.1 client understands), 0x84 in 5.0 form for levels above 5 [MQTT-3.1.2-2].
// - Server shutdown: 5.0 clients get DISCONNECT 0x8B; wills are NOT published, neither of
//   connected clients nor pending delayed ones: a shutdown is not the clients' failure, and
//   subscribers are being disconnected at the same moment (mosquitto 2 delivers none either;
//   it only writes them to its persistence file).
// - The password file is (re)loaded together with the ACL by load_acl() and reload().
#include "broker/core/broker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "broker/core/broker_impl.h"
#include "broker/mqtt/topic.h"

namespace herald::core {

std::string printable(std::string_view s, size_t max) {
    static constexpr char hex[] = "0123456789abcdef";
    const bool utf8_ok = mqtt::valid_utf8(s);
    std::string out;
    out.reserve(std::min(s.size(), max) + 8);
    for (size_t i = 0; i < s.size(); ++i) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        auto b = static_cast<unsigned char>(s[i]);
        if (b == '\\') {
            out += "\\\\";
        } else if (b == '\n') {
            out += "\\n";
        } else if (b == '\r') {
            out += "\\r";
        } else if (b == '\t') {
            out += "\\t";
        } else if (b < 0x20 || b == 0x7f || (b >= 0x80 && !utf8_ok)) {
            out += "\\x";
            out += hex[b >> 4];
            out += hex[b & 0xF];
        } else {
            out += static_cast<char>(b);
        }
    }
    return out;
}

Broker::Impl::Impl(Config config_, Store& store_, const Clock& clock_)
    : config(std::move(config_)), store(store_), clock(clock_),
      keep_sessions(store_.keeps_sessions()) {
    started_mono_ms = clock.mono_ms();
    route_targets.reserve(64);
    for (auto& m : store.retained_load()) {
        retained.set(std::make_shared<const Message>(std::move(m)));
    }
    restore_sessions();
    streams_restore();
    presence_restore();  // after the sessions: stale records reach their subscribers
    init_presence_query();
}

Broker::Impl::~Impl() {
    // Sessions are referenced by the subscription tree; remove them from it before freeing.
    session_slots.for_each([this](Session& s) {
        s.subscriptions.for_each(
            [this, &s](const std::string& filter) { subscriptions.unsubscribe(filter, &s); });
        s.subscriptions.clear();
    });
}

bool Broker::Impl::load_auth(std::string& error) {
    // Load both before replacing either: on any error the old ACL and passwords stay.
    Acl fresh_acl;
    if (!config.acl_file.empty()) {
        std::ifstream in(config.acl_file, std::ios::binary);
        if (!in) {
            error = "cannot open ACL file " + config.acl_file;
            return false;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        std::string err;
        if (!fresh_acl.load(ss.str(), err)) {
            error = config.acl_file + ": " + err;
            return false;
        }
    }
    auth::PasswordFile fresh_passwords;
    if (!config.password_file.empty() && !fresh_passwords.load_file(config.password_file, error))
        return false;
    acl = std::move(fresh_acl);
    passwords = std::move(fresh_passwords);
    have_passwords = !config.password_file.empty();
    return true;
}

void Broker::Impl::send(Client& c, const mqtt::Packet& packet) {
    std::string& out = c.conn.output();
    size_t before = out.size();
    mqtt::encode(packet, c.version, out);
    stats.bytes_sent += out.size() - before;
    stats.messages_sent++;
}

void Broker::Impl::send_disconnect(Client& c, mqtt::ReasonCode reason,
                                   std::string_view reason_string) {
    if (!c.connect_seen || !c.v5()) return;  // 3.1.1 has no server DISCONNECT
    if (c.state == ClientState::AwaitAuth) return;  // nothing before the CONNACK [MQTT-3.2.0-1]
    mqtt::Disconnect d;
    d.reason = reason;
    if (!reason_string.empty() && mqtt::valid_utf8(reason_string)) {
        d.props.reason_string = std::string(reason_string);
        // The reason string is the first thing to go if the client's limit is small
        // [MQTT-3.14.2-3].
        if (c.maximum_packet_size &&
            mqtt::encoded_size(d, c.version) > c.maximum_packet_size)
            d.props.reason_string.reset();
    }
    send(c, d);
}

void Broker::Impl::protocol_error(Client& c, mqtt::ReasonCode reason, std::string_view why) {
    if (!c.session)  // not yet Active: no disconnect line will follow, say it here
        spdlog::info("Connection from {} closed due to protocol error: {}", c.conn.peer(),
                     printable(why));
    send_disconnect(c, reason, why);
    close_client(c, "disconnected due to protocol error: " + printable(why));
}

void Broker::Impl::close_client(Client& c, std::string end_reason) {
    if (c.state == ClientState::Closing) return;
    c.state = ClientState::Closing;
    c.rare_state().end_reason = std::move(end_reason);
    c.conn.close();  // may (defensively) lead to on_closed(): do not touch `c` after this
}

void Broker::Impl::on_frame(Client& c, std::span<const uint8_t> frame) {
    if (c.state == ClientState::Closing || frame.empty()) return;
    stats.bytes_received += frame.size();
    stats.messages_received++;
    c.last_packet_ms = clock.mono_ms();  // any packet resets keepalive [MQTT-3.1.2-22]

    const auto type = static_cast<mqtt::PacketType>(frame[0] >> 4);
    if (c.state == ClientState::AwaitConnect && type != mqtt::PacketType::Connect) {
        // [MQTT-3.1.0-1]: the first packet must be CONNECT; nothing can be answered.
        spdlog::info("Client {} sent a packet before CONNECT, closing", c.conn.peer());
        close_client(c, "sent a packet before CONNECT");
        return;
    }
    if (c.state == ClientState::AwaitAuth) return hold_frame(c, frame, type);
    process_frame(c, frame, type);
}

void Broker::Impl::process_frame(Client& c, std::span<const uint8_t> frame, mqtt::PacketType type) {
    if (c.state == ClientState::Active && type == mqtt::PacketType::Connect) {
        protocol_error(c, mqtt::ReasonCode::ProtocolError, "second CONNECT");  // [MQTT-3.1.0-2]
        return;
    }

    mqtt::DecodeResult r = mqtt::decode(frame, c.version);
    if (!r.ok) {
        if (type == mqtt::PacketType::Connect) {
            if (r.error.reason == mqtt::ReasonCode::UnsupportedProtocolVersion) {
                // Byte 8 is the protocol level when the name is "MQTT" (4 bytes) or 6 for
                // "MQIsdp"; either way a level above 5 is a newer client.
                uint8_t level = 0;
                if (frame.size() > 2) {
                    size_t i = 1;
                    while (i < frame.size() && (frame[i] & 0x80)) ++i;
                    ++i;  // past the remaining length
                    if (i + 2 <= frame.size()) {
                        size_t name_len = (size_t(frame[i]) << 8) | frame[i + 1];
                        if (i + 2 + name_len < frame.size()) level = frame[i + 2 + name_len];
                    }
                }
                c.connect_seen = level > 5;
                c.version = level > 5 ? mqtt::ProtocolVersion::V5 : mqtt::ProtocolVersion::V311;
                spdlog::info("Client {} refused: unsupported protocol level {}", c.conn.peer(),
                             level);
                mqtt::Connack ack;
                ack.reason = mqtt::ReasonCode::UnsupportedProtocolVersion;
                send(c, ack);
                close_client(c, "refused: unsupported protocol version");
                return;
            }
            spdlog::info("Client {} sent a malformed CONNECT: {}", c.conn.peer(),
                         printable(r.error.message));
            close_client(c, "sent a malformed CONNECT");
            return;
        }
        protocol_error(c, r.error.reason, r.error.message);
        return;
    }
    dispatch(c, r.packet);
}

void Broker::Impl::dispatch(Client& c, mqtt::Packet& packet) {
    if (auto* p = std::get_if<mqtt::Publish>(&packet)) return handle_publish(c, *p);
    if (auto* a = std::get_if<mqtt::Ack>(&packet)) return handle_ack(c, *a);
    if (auto* p = std::get_if<mqtt::Connect>(&packet)) return handle_connect(c, *p);
    if (auto* p = std::get_if<mqtt::Subscribe>(&packet)) return handle_subscribe(c, *p);
    if (auto* p = std::get_if<mqtt::Unsubscribe>(&packet)) return handle_unsubscribe(c, *p);
    if (std::holds_alternative<mqtt::Pingreq>(packet)) {
        send(c, mqtt::Pingresp{});
        return;
    }
    if (auto* d = std::get_if<mqtt::Disconnect>(&packet)) {
        Session* s = c.session;
        if (c.v5() && d->props.session_expiry_interval) {
            uint32_t e = *d->props.session_expiry_interval;
            if (e != 0 && c.connect_expiry_zero) {
                // [MQTT-3.14.2-2]: 0 at CONNECT may not become nonzero at DISCONNECT.
                protocol_error(c, mqtt::ReasonCode::ProtocolError,
                               "session expiry set at DISCONNECT after 0 at CONNECT");
                return;
            }
            if (config.max_session_expiry && e > config.max_session_expiry)
                e = config.max_session_expiry;
            if (s) s->expiry_interval = e;
        }
        // 0x04 Disconnect with Will Message keeps the will; any other normal DISCONNECT
        // discards it [MQTT-3.14.4-3].
        if (d->reason != mqtt::ReasonCode::DisconnectWithWill) {
            c.will.reset();
            c.publish_will_on_close = false;
        }
        close_client(c, "disconnected");
        return;
    }
    if (std::holds_alternative<mqtt::Auth>(packet)) {
        protocol_error(c, mqtt::ReasonCode::ProtocolError, "enhanced authentication not supported");
        return;
    }
    protocol_error(c, mqtt::ReasonCode::ProtocolError, "packet type not expected from a client");
}

void Broker::Impl::client_closed(Client& c) {
    if (c.session) {
        Session& s = *c.session;
        c.session = nullptr;
        s.client = nullptr;
        if (stream_state.enabled) streams_detach(s);
        if (stats.clients_connected) stats.clients_connected--;
        if (spdlog::should_log(spdlog::level::info))  // printable() costs even when not logged
            spdlog::info("Client {} {}.", printable(s.client_id), c.end_reason());
        presence_disconnected(c, s);
        if (!shutting_down) {
            if (c.will && c.publish_will_on_close)
                will_on_abnormal_end(s, c, s.expiry_interval == 0);
            if (s.expiry_interval == 0) {
                end_session(s);
            } else {
                if (s.stored) persist_disconnect(s);
                if (s.expiry_interval != kNeverExpires) schedule_session_expiry(s);
            }
        } else if (s.stored) {
            persist_disconnect(s);  // a shutdown: its expiry counts from now
        }
    } else if (!c.connect_seen) {
        spdlog::debug("Connection from {} closed before CONNECT", c.conn.peer());
    }
    if (!awaiting_auth.empty()) {  // closed while its CONNECT was being checked
        auto it = awaiting_auth.find(c.slot);
        if (it != awaiting_auth.end() && it->second.serial == c.serial) awaiting_auth.erase(it);
    }
    client_slots.erase(c.slot);  // frees c
}

// ---------------------------------------------------------------------------------------------

Broker::Broker(Config config, Store& store, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), store, clock)) {}

Broker::~Broker() = default;

Client* Broker::on_open(Connection& conn) {
    auto& m = *impl_;
    const auto serial = static_cast<uint32_t>(m.next_client_serial++);
    auto client = std::make_unique<Client>(serial, conn);
    Client* c = client.get();
    c->last_packet_ms = m.clock.mono_ms();
    c->slot = m.client_slots.add(std::move(client));
    if (m.config.connect_timeout_ms) {
        c->connect_deadline_ms = c->last_packet_ms + m.config.connect_timeout_ms;
        m.schedule(TimerKind::ConnectTimeout, c->slot, serial,
                   c->connect_deadline_ms);
    }
    return c;
}

void Broker::on_frame(Client* client, std::span<const uint8_t> frame) {
    if (client) impl_->on_frame(*client, frame);
}

void Broker::on_frame_error(Client* client, mqtt::FrameError error) {
    if (!client || client->state == ClientState::Closing) return;
    auto& m = *impl_;
    if (error == mqtt::FrameError::TooLarge) {
        spdlog::warn("Client {} ({}) sent a packet larger than {} bytes (hostile?)",
                     client->session ? printable(client->session->client_id) : "-",
                     client->conn.peer(), m.config.max_packet_size);
        m.send_disconnect(*client, mqtt::ReasonCode::PacketTooLarge, "packet too large");
        m.close_client(*client, "disconnected: packet too large");
    } else {
        m.protocol_error(*client, mqtt::ReasonCode::MalformedPacket, "malformed remaining length");
    }
}

void Broker::on_closed(Client* client) {
    if (client) impl_->client_closed(*client);
}

void Broker::on_tick() { impl_->tick(); }

void Broker::shutdown() {
    auto& m = *impl_;
    m.presence_shutdown();  // while the records can still reach the store
    m.shutting_down = true;
    // By slot and serial: closing could (defensively) free a client before we reach it.
    std::vector<std::pair<uint32_t, uint32_t>> keys;
    keys.reserve(m.client_slots.size());
    m.client_slots.for_each([&keys](const Client& c) {
        keys.emplace_back(c.slot, c.serial);
    });
    for (const auto& [slot, serial] : keys) {
        Client* found = m.client_at(slot, serial);
        if (!found) continue;
        Client& c = *found;
        if (c.state == ClientState::Closing) continue;
        c.publish_will_on_close = false;
        if (c.state == ClientState::Active)
            m.send_disconnect(c, mqtt::ReasonCode::ServerShuttingDown, "");
        m.close_client(c, "disconnected: server shutting down");
    }
}

bool Broker::reload(const Config& config, std::string& error) {
    auto& m = *impl_;
    Config old = m.config;
    // Listeners and data_dir need a restart; everything else is read where it is used.
    m.config = config;
    m.config.listeners = old.listeners;
    m.config.data_dir = old.data_dir;
    if (!m.load_auth(error)) {
        m.config = std::move(old);  // all or nothing: the running configuration stays
        return false;
    }
    return true;
}

bool Broker::load_acl(std::string& error) { return impl_->load_auth(error); }

std::optional<uint64_t> Broker::next_precise_deadline_ms() const {
    return impl_->presence.next_deadline();
}

PresenceQuery& Broker::presence_query() { return *impl_->presence_query; }

void Broker::set_identity(Identity* identity) { impl_->identity = identity; }
void Broker::set_control_handler(ControlHandler* handler) { impl_->control = handler; }

uint32_t Broker::max_packet_size() const { return impl_->config.max_packet_size; }
uint32_t Broker::connect_timeout_ms() const { return impl_->config.connect_timeout_ms; }

const BrokerStats& Broker::stats() const {
    auto& m = *impl_;
    m.stats.clients_total = m.sessions.size();
    m.stats.retained_count = m.retained.size();
    m.stats.subscription_count = m.subscriptions.size();
    return m.stats;
}

size_t Broker::connection_count() const { return impl_->client_slots.size(); }

}  // namespace herald::core
