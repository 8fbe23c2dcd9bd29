// CONNECT: connection limits, client id, authentication, keepalive, session takeover or
// resumption, CONNACK, and the resending of what the resumed session had in flight.
//
// Choices where the specs leave room (for the README):
// - max_connections counts connected clients (a takeover of the same client id also counts:
//   the check runs before the old connection is dropped). max_connect_rate counts accepted
//   CONNECTs over a sliding one-second window. Both refuse with CONNACK 0x9F (3.1.1: 0x03).
// - Who a client is: with an Identity (heraldd), it decides (connect_auth.cpp); without one
//   (unit tests, embedded use), core does: without a password file and with allow_anonymous =
//   false every client is refused; with allow_anonymous = true any username/password is
//   accepted (mosquitto's behaviour). With a password file, a listed user must give its
//   password; an unlisted username is refused.
// - use_identity_as_username (a tls listener, as in mosquitto): the CN of the client's verified
//   certificate replaces whatever username the CONNECT carried, and its password is ignored:
//   the certificate is the proof. The CN must pass the user-id rules below like any username;
//   the Identity still refuses a banned user (connect_auth.cpp passes Credentials::certified).
// - A username that breaks the user-id rules of SPEC 2 (auth::user_id_error: '/', '+', '#',
//   a leading '$', control characters, longer than max_user_id_bytes) is refused with 0x86
//   (3.1.1: 0x04), the rule it broke in the log, before any password check.
// - The checks that need no password (will QoS/retain, a 3.1.1 keepalive above the maximum)
//   run before authentication: a client refused anyway costs no hash.
// - Keepalive: a 5.0 client asking more than max_keepalive (or 0 while max_keepalive is below
//   65535) is told max_keepalive in Server Keep Alive [MQTT-3.2.2-21]; a 3.1.1 client cannot
//   be told, so it is refused with 0x02 (as mosquitto does).
// - max_session_expiry (when nonzero) also caps 3.1.1 persistent sessions, which otherwise
//   never expire: it is the memory bound for abandoned sessions.
// - Inflight messages are resent in the order first sent, each as PUBLISH (DUP=1) or PUBREL
//   according to its state [MQTT-4.4.0-1], then the queue flows within the window.
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "broker/auth/user_id.h"
#include "broker/core/broker_impl.h"

namespace herald::core {

using mqtt::ReasonCode;

void Broker::Impl::refuse_connect(Client& c, std::string_view client_id, ReasonCode reason,
                                  std::string_view why) {
    spdlog::info("Client {} from {} refused: {} ({})",
                 client_id.empty() ? "<empty id>" : printable(client_id), c.conn.peer(), why,
                 mqtt::reason_name(reason));
    mqtt::Connack ack;
    ack.reason = reason;
    c.will.reset();  // never accepted: no session, no will
    send(c, ack);
    close_client(c, "refused");
}

ReasonCode Broker::Impl::authenticate(const mqtt::Connect& p) const {
    if (!p.username) return config.allow_anonymous ? ReasonCode::Success : ReasonCode::NotAuthorized;
    if (have_passwords) {
        if (p.password && passwords.check(*p.username, *p.password)) return ReasonCode::Success;
        return ReasonCode::BadUserNameOrPassword;
    }
    return config.allow_anonymous ? ReasonCode::Success : ReasonCode::BadUserNameOrPassword;
}

std::string Broker::Impl::assign_client_id() {
    static constexpr char hex[] = "0123456789abcdef";
    for (;;) {
        unsigned char bytes[8];
        if (RAND_bytes(bytes, sizeof bytes) != 1) {
            // No entropy source: fall back to a counter, still unique in this process.
            uint64_t v = next_client_serial * 0x9E3779B97F4A7C15ull ^ clock.mono_ms();
            for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (8 * i));
        }
        std::string id = "auto-";
        for (unsigned char b : bytes) {
            id += hex[b >> 4];
            id += hex[b & 0xF];
        }
        if (!sessions.count(id)) return id;
    }
}

void Broker::Impl::handle_connect(Client& c, mqtt::Connect& p) {
    c.version = p.version;
    c.connect_seen = true;
    // The client id and username move to the Session once accepted; until then, here.
    std::string& client_id = p.client_id;
    const bool v5 = c.v5();
    const uint64_t now = clock.mono_ms();

    // No enhanced authentication (spec 4.12): any Authentication Method is unknown to us.
    if (v5 && p.props.authentication_method)
        return refuse_connect(c, client_id, ReasonCode::BadAuthenticationMethod,
                              "enhanced authentication not supported");

    if (config.max_connections && stats.clients_connected >= config.max_connections)
        return refuse_connect(c, client_id, ReasonCode::ConnectionRateExceeded,
                              "max_connections reached");
    if (config.max_connect_rate) {
        while (!recent_connects.empty() && recent_connects.front() + 1000 <= now)
            recent_connects.pop_front();
        if (recent_connects.size() >= config.max_connect_rate)
            return refuse_connect(c, client_id, ReasonCode::ConnectionRateExceeded,
                                  "max_connect_rate exceeded");
        recent_connects.push_back(now);
    }

    // Client identifier [MQTT-3.1.3-6..8].
    bool assigned = false;
    if (client_id.empty()) {
        if (!v5 && !p.clean_start)
            return refuse_connect(c, client_id, ReasonCode::ClientIdentifierNotValid,
                                  "empty client id with clean session 0");
        client_id = assign_client_id();
        assigned = true;
    }

    // The certificate names the user (use_identity_as_username): no password to check.
    if (const std::string_view cn = c.conn.certificate_identity(); !cn.empty()) {
        p.username = std::string(cn);
        p.password.reset();
    }

    // User ids become topic levels (SPEC 2).
    if (p.username) {
        const std::string bad = auth::user_id_error(*p.username, config.auth.max_user_id_bytes);
        if (!bad.empty())
            return refuse_connect(c, client_id, ReasonCode::BadUserNameOrPassword,
                                  "bad user id: " + bad);
    }

    // Will QoS/retain beyond what we support [MQTT-3.2.2-12, -13 (5.0)].
    if (p.will) {
        if (p.will->qos > config.max_qos)
            return refuse_connect(c, client_id, ReasonCode::QoSNotSupported,
                                  "will QoS not supported");
        if (p.will->retain && !config.retain_available)
            return refuse_connect(c, client_id, ReasonCode::RetainNotSupported,
                                  "will retain not supported");
    }
    if (!v5 && p.keep_alive > config.max_keepalive)
        return refuse_connect(c, client_id, ReasonCode::ClientIdentifierNotValid,
                              "keepalive above max_keepalive");

    if (identity) return start_authentication(c, p, assigned);
    const ReasonCode verdict =
        c.conn.certificate_identity().empty() ? authenticate(p) : ReasonCode::Success;
    if (verdict != ReasonCode::Success)
        return refuse_connect(c, client_id, verdict,
                              p.username ? "bad username or password" : "anonymous not allowed");
    accept_connect(c, p, assigned, false);
}

void Broker::Impl::accept_connect(Client& c, mqtt::Connect& p, bool assigned, bool admin) {
    std::string& client_id = p.client_id;
    const bool v5 = c.v5();
    uint16_t keep_alive = p.keep_alive;
    bool server_keep_alive = false;
    if (v5 && (keep_alive > config.max_keepalive || (keep_alive == 0 && config.max_keepalive < 65535))) {
        keep_alive = config.max_keepalive;
        server_keep_alive = true;
    }

    uint32_t expiry = 0;
    bool expiry_capped = false;
    if (v5) {
        expiry = p.props.session_expiry_interval.value_or(0);
    } else {
        expiry = p.clean_start ? 0 : kNeverExpires;
    }
    if (config.max_session_expiry && expiry > config.max_session_expiry) {
        expiry = config.max_session_expiry;
        expiry_capped = v5;
    }

    // The device limit (SPEC 4): refuse this one, or push the oldest out once this is in.
    Client* replaced = nullptr;
    if (p.username) {
        bool refuse = false;
        replaced = presence_device_limit(c, *p.username, client_id, refuse);
        if (refuse)
            return refuse_connect(c, client_id, ReasonCode::QuotaExceeded,
                                  "max_devices reached (device_policy reject_new)");
    }

    // Everything accepted: from here on the connection is Active.
    c.keep_alive = keep_alive;
    c.connect_expiry_zero = p.props.session_expiry_interval.value_or(0) == 0;
    if (v5) {
        c.receive_maximum = p.props.receive_maximum.value_or(65535);
        c.maximum_packet_size = p.props.maximum_packet_size.value_or(0);
        c.topic_alias_maximum = p.props.topic_alias_maximum.value_or(0);
        c.request_problem_information = p.props.request_problem_information.value_or(1) != 0;
        c.alias_limit_in = config.topic_alias_maximum;
    }
    if (p.will) c.will = std::make_unique<mqtt::Will>(std::move(*p.will));

    // Session takeover [MQTT-3.1.4-3]: the old connection goes, its will counts as an
    // abnormal end (published at once if the session ends or the will has no delay; a
    // delayed will is cancelled by this new connection [MQTT-3.1.3-9]).
    Session* s = sessions.find(client_id);
    if (s && s->client) {
        Client& old = *s->client;
        spdlog::info("Client {} already connected, closing old connection.", printable(client_id));
        s->client = nullptr;
        old.session = nullptr;
        if (stats.clients_connected) stats.clients_connected--;
        if (old.state != ClientState::Closing)
            send_disconnect(old, ReasonCode::SessionTakenOver, "another connection with this client id");
        if (old.will && old.publish_will_on_close) {
            uint32_t delay = old.v5() ? old.will->props.will_delay_interval.value_or(0) : 0;
            if (p.clean_start || delay == 0)
                publish_will(*old.will, *s);  // s->username is still the old connection's
        }
        old.will.reset();
        close_client(old, "taken over");
    }
    if (s && p.clean_start) {
        end_session(*s);  // publishes a pending will: the session it belonged to has ended
        s = nullptr;
    }
    const bool session_present = s != nullptr;
    if (!s) {
        s = &create_session(std::move(client_id));
    } else {
        // Resumed: a pending delayed will is cancelled [MQTT-3.1.3-9], expiry stops.
        if (s->rare) s->rare->pending_will.reset();
        s->will_gen = 0;    // scheduled will and expiry timers are moot now
        s->expiry_gen = 0;
    }
    s->client = &c;
    s->username = std::move(p.username);
    s->admin = admin;
    s->expiry_interval = expiry;
    if (s->stored || expiry != 0) persist_connect(*s);
    c.session = s;
    c.state = ClientState::Active;
    stats.clients_connected++;
    stats.clients_maximum = std::max(stats.clients_maximum, stats.clients_connected);

    mqtt::Connack ack;
    ack.session_present = session_present;  // [MQTT-3.2.2-2, -3]
    if (v5) {
        auto& props = ack.props;
        props.receive_maximum = config.receive_maximum;
        if (config.topic_alias_maximum) props.topic_alias_maximum = config.topic_alias_maximum;
        props.maximum_packet_size = config.max_packet_size;
        if (!config.retain_available) props.retain_available = 0;
        if (config.max_qos < 2) props.maximum_qos = config.max_qos;
        if (assigned) props.assigned_client_identifier = s->client_id;
        if (server_keep_alive) props.server_keep_alive = keep_alive;
        if (expiry_capped) props.session_expiry_interval = expiry;
    }
    send(c, ack);

    // should_log first: printable() escapes (and allocates) even for a line nobody logs, and
    // churn connects thousands a second at the usual log level (warn).
    if (spdlog::should_log(spdlog::level::info)) {
        if (s->username) {
            spdlog::info("New client connected from {} as {} (p{}, c{}, k{}, u'{}').", c.conn.peer(),
                         printable(s->client_id), v5 ? 5 : 2, p.clean_start ? 1 : 0, keep_alive,
                         printable(*s->username));
        } else {
            spdlog::info("New client connected from {} as {} (p{}, c{}, k{}).", c.conn.peer(),
                         printable(s->client_id), v5 ? 5 : 2, p.clean_start ? 1 : 0, keep_alive);
        }
    }

    presence_connected(c, *s, replaced);
    if (session_present) resend_session(c, *s);
    if (stream_state.enabled) streams_attach(*s);  // after the resend: readers start after it
    schedule_keepalive(c);
}

void Broker::Impl::resend_session(Client& c, Session& s) {
    const uint64_t now = clock.mono_ms();
    for (size_t i = 0; i < s.inflight.size();) {
        InflightEntry& e = s.inflight[i];
        if (e.state == InflightState::AwaitPubcomp) {
            mqtt::Ack rel;
            rel.type = mqtt::PacketType::Pubrel;
            rel.packet_id = e.packet_id;
            send(c, rel);
            ++i;
            continue;
        }
        // Already started, so resent even if it expired meanwhile [MQTT-4.4.0-1]; only a
        // message now too large for this connection is given up (else its slot never frees).
        const Delivery& d = e.delivery;
        if (write_publish(c, *d.message, d.qos, d.retain, d.subscription_ids, e.packet_id, true,
                          now) == SendResult::Sent) {
            ++i;
        } else {
            stats.publish_dropped++;
            if (s.stored) persist_erase(s, d);
            s.inflight.erase_at(i);
        }
    }
    pump(s);
}

}  // namespace herald::core
