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

void Broker::Impl::schedule(TimerKind kind, uint64_t key, uint64_t gen, uint64_t at_ms) {
    timers.push(Deadline{at_ms, key, gen, kind});
}

void Broker::Impl::schedule_keepalive(Client& c) {
    // [MQTT-3.1.2-22 (5.0), -24 (3.1.1)]: one and a half times the keepalive of silence.
    if (c.keep_alive)
        schedule(TimerKind::KeepAlive, c.serial, 0, c.last_packet_ms + uint64_t(c.keep_alive) * 1500);
}

void Broker::Impl::schedule_session_expiry(Session& s) {
    s.expiry_gen++;
    schedule(TimerKind::SessionExpiry, s.id, s.expiry_gen,
             clock.mono_ms() + uint64_t(s.expiry_interval) * 1000);
}

bool Broker::Impl::timer_live(const Deadline& d) const {
    const auto& m = *this;
    switch (d.kind) {
        case TimerKind::ConnectTimeout: {
            auto it = m.clients.find(d.key);
            return it != m.clients.end() && it->second->state == ClientState::AwaitConnect;
        }
        case TimerKind::KeepAlive: return m.clients.count(d.key) > 0;
        case TimerKind::WillDelay: {
            auto it = m.sessions_by_id.find(d.key);
            return it != m.sessions_by_id.end() && it->second->will_gen == d.gen;
        }
        case TimerKind::SessionExpiry: {
            auto it = m.sessions_by_id.find(d.key);
            return it != m.sessions_by_id.end() && it->second->expiry_gen == d.gen;
        }
    }
    return false;
}

void Broker::Impl::fire(const Deadline& d, uint64_t now) {
    switch (d.kind) {
        case TimerKind::ConnectTimeout: {
            auto it = clients.find(d.key);
            if (it == clients.end() || it->second->state != ClientState::AwaitConnect) return;
            spdlog::info("Client {} sent no CONNECT within {} ms, closing", it->second->conn.peer(),
                         config.connect_timeout_ms);
            close_client(*it->second, "timed out before CONNECT");
            return;
        }
        case TimerKind::KeepAlive: {
            auto it = clients.find(d.key);
            if (it == clients.end()) return;
            Client& c = *it->second;
            if (c.state != ClientState::Active || !c.keep_alive) return;
            const uint64_t due = c.last_packet_ms + uint64_t(c.keep_alive) * 1500;
            if (now < due) {
                schedule(TimerKind::KeepAlive, c.serial, 0, due);
                return;
            }
            send_disconnect(c, mqtt::ReasonCode::KeepAliveTimeout, "keep alive timeout");
            close_client(c, "has exceeded timeout, disconnecting");
            return;
        }
        case TimerKind::WillDelay: {
            auto it = sessions_by_id.find(d.key);
            if (it == sessions_by_id.end() || it->second->will_gen != d.gen) return;
            publish_pending_will(*it->second);
            return;
        }
        case TimerKind::SessionExpiry: {
            auto it = sessions_by_id.find(d.key);
            if (it == sessions_by_id.end() || it->second->expiry_gen != d.gen) return;
            Session& s = *it->second;
            if (s.client) return;
            spdlog::info("Session of {} expired.", printable(s.client_id));
            end_session(s);
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
    if (timers.size() > 1024 && timers.size() > 4 * (clients.size() + sessions.size())) {
        std::vector<Deadline> live;
        live.reserve(clients.size() + sessions.size());
        while (!timers.empty()) {
            if (timer_live(timers.top())) live.push_back(timers.top());
            timers.pop();
        }
        timers = decltype(timers)(std::greater<>(), std::move(live));
    }
    pump_backlog();
    if (config.sys_interval && now >= next_sys_ms) {
        publish_sys(now);
        next_sys_ms = now + uint64_t(config.sys_interval) * 1000;
    }
}

}  // namespace herald::core
