// Deadlines: one min-heap for connect timeouts, keepalives, will delays and session expiry.
//
// Entries are never removed when they become moot; they are checked when they fire (lazy
// invalidation): a client that is gone or no longer in the awaited state is skipped, a will
// or expiry whose generation counter moved on is skipped, and a keepalive deadline re-arms
// itself from the client's last packet. So a packet costs no heap operation, and on_tick()
// costs O(expired entries · log n), not a scan of all clients. When stale entries pile up
// (many reconnects with long expiry), the heap is rebuilt without them.
#include <spdlog/spdlog.h>

#include "broker/core/broker_impl.h"

namespace herald::core {

void Broker::Impl::schedule(TimerKind kind, uint32_t key, uint32_t gen, uint64_t at_ms) {
    Deadline d{};
    d.at_ms = at_ms;
    d.kind_bits = static_cast<uint8_t>(kind);
    d.key = key;
    d.gen = gen;
    timers.push(d);
}

void Broker::Impl::schedule_keepalive(Client& c) {
    // [MQTT-3.1.2-22 (5.0), -24 (3.1.1)]: one and a half times the keepalive of silence.
    if (!c.keep_alive) return;
    const uint64_t due = c.last_packet_ms + uint64_t(c.keep_alive) * 1500;
    // A pending connect timeout that fires first will re-arm it (fire()); no second entry.
    if (c.connect_deadline_ms && c.connect_deadline_ms <= due) return;
    schedule(TimerKind::KeepAlive, c.slot, c.serial, due);
}

void Broker::Impl::check_keepalive(Client& c, uint32_t gen, uint64_t now) {
    if (c.state != ClientState::Active || !c.keep_alive) return;
    const uint64_t due = c.last_packet_ms + uint64_t(c.keep_alive) * 1500;
    if (now < due) {
        schedule(TimerKind::KeepAlive, c.slot, gen, due);
        return;
    }
    send_disconnect(c, mqtt::ReasonCode::KeepAliveTimeout, "keep alive timeout");
    close_client(c, "has exceeded timeout, disconnecting");
}

void Broker::Impl::schedule_session_expiry(Session& s) {
    s.expiry_gen = new_timer_gen();
    schedule(TimerKind::SessionExpiry, static_cast<uint32_t>(s.id), s.expiry_gen,
             clock.mono_ms() + uint64_t(s.expiry_interval) * 1000);
}

bool Broker::Impl::timer_live(const Deadline& d) const {
    switch (d.kind()) {
        case TimerKind::ConnectTimeout: {
            const Client* c = client_at(d.key, d.gen);
            return c && c->state != ClientState::Closing;  // Active: a keepalive check
        }
        case TimerKind::KeepAlive: return client_at(d.key, d.gen) != nullptr;
        case TimerKind::WillDelay: {
            const Session* s = session_slots.at(d.key);
            return s && s->will_gen == d.gen;
        }
        case TimerKind::SessionExpiry: {
            const Session* s = session_slots.at(d.key);
            return s && s->expiry_gen == d.gen;
        }
    }
    return false;
}

void Broker::Impl::fire(const Deadline& d, uint64_t now) {
    switch (d.kind()) {
        case TimerKind::ConnectTimeout: {
            Client* c = client_at(d.key, d.gen);
            if (!c) return;
            c->connect_deadline_ms = 0;
            if (c->state == ClientState::Active) return check_keepalive(*c, d.gen, now);
            if (c->state == ClientState::AwaitAuth) {
                spdlog::info("Client {} not authenticated within {} ms, closing", c->conn.peer(),
                             config.connect_timeout_ms);
                return close_client(*c, "timed out waiting for authentication");
            }
            if (c->state != ClientState::AwaitConnect) return;
            spdlog::info("Client {} sent no CONNECT within {} ms, closing", c->conn.peer(),
                         config.connect_timeout_ms);
            close_client(*c, "timed out before CONNECT");
            return;
        }
        case TimerKind::KeepAlive: {
            if (Client* c = client_at(d.key, d.gen)) check_keepalive(*c, d.gen, now);
            return;
        }
        case TimerKind::WillDelay: {
            Session* s = session_slots.at(d.key);
            if (!s || s->will_gen != d.gen) return;
            publish_pending_will(*s);
            return;
        }
        case TimerKind::SessionExpiry: {
            Session* s = session_slots.at(d.key);
            if (!s || s->expiry_gen != d.gen) return;
            if (s->client) return;
            spdlog::info("Session of {} expired.", printable(s->client_id));
            end_session(*s);
            return;
        }
    }
}

void Broker::Impl::tick() {
    const uint64_t now = clock.mono_ms();
    while (!timers.empty() && timers.top().at_ms <= now) {
        Deadline d = timers.top();
        timers.pop();
        fire(d, now);
    }
    // Rebuild without stale entries when they outnumber live ones by far (bounded memory).
    const size_t owners = client_slots.size() + session_slots.size();
    if (timers.size() > 1024 && timers.size() > 4 * owners) {
        std::vector<Deadline> live;
        live.reserve(owners);
        while (!timers.empty()) {
            if (timer_live(timers.top())) live.push_back(timers.top());
            timers.pop();
        }
        timers = decltype(timers)(std::greater<>(), std::move(live));
    }
    pump_backlog();
    if (stream_state.enabled) streams_tick(now);
    presence_tick(now);
    if (config.sys_interval && now >= next_sys_ms) {
        publish_sys(now);
        next_sys_ms = now + uint64_t(config.sys_interval) * 1000;
    }
}

}  // namespace herald::core
