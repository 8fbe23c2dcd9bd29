// A CONNECT waiting for the Identity's verdict (ClientState::AwaitAuth), and what its client
// sends meanwhile.
//
// Why a state of its own: a password hash or a token signature is checked off the loop
// (SPEC 2), so the answer comes on a later loop turn, and the client may be gone by then
// (closed, timed out, shut down). The callback given to the Identity holds no pointer to the
// client: it looks the client up by slot and serial, and drops a verdict nobody waits for.
// An anonymous client is answered while authenticate_in_loop() is still on the stack: it
// goes straight on, with no held state (the benchmarks connect thousands per second).
//
// Choices where the specs leave room (for the README):
// - Packets a client pipelines after its CONNECT (SUBSCRIBE, PUBLISH...) are held, in order,
//   and processed after the CONNACK; if it was refused they are dropped with the connection.
//   At most max(max_packet_size, 64 KiB) bytes are held per client: beyond it, or a second
//   CONNECT, the connection is closed (nothing can be answered before the CONNACK).
// - connect_timeout counts from the connection's opening to the CONNACK, so it bounds the
//   wait for a verdict too.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/broker_impl.h"

namespace herald::core {

using mqtt::ReasonCode;

void Broker::Impl::start_authentication(Client& c, mqtt::Connect& p, bool assigned) {
    Credentials who;
    who.username = p.username;
    who.password = std::move(p.password);
    who.client_id = p.client_id;
    who.peer = c.conn.peer();
    who.certified = !c.conn.certificate_identity().empty();

    const uint64_t call = ++auth_calls;
    auth_sync_call = call;
    auth_sync_verdict.reset();
    identity->authenticate_in_loop(
        std::move(who), [this, alive = std::weak_ptr<char>(life), slot = c.slot,
                         serial = c.serial, call](Verdict v) {
            if (alive.expired()) return;  // the Broker is gone
            if (call == auth_sync_call) {
                auth_sync_verdict = std::move(v);  // answered before returning: go on there
                return;
            }
            verdict_arrived(slot, serial, std::move(v));
        });
    auth_sync_call = 0;
    if (auth_sync_verdict) {
        Verdict v = std::move(*auth_sync_verdict);
        auth_sync_verdict.reset();
        return apply_verdict(c, p, assigned, v);
    }
    c.state = ClientState::AwaitAuth;
    PendingConnect& pending = awaiting_auth[c.slot];
    pending = PendingConnect{};
    pending.serial = c.serial;
    pending.connect = std::move(p);
    pending.assigned = assigned;
}

void Broker::Impl::apply_verdict(Client& c, mqtt::Connect& p, bool assigned, const Verdict& v) {
    if (v.reason != ReasonCode::Success)
        return refuse_connect(c, p.client_id, v.reason,
                              v.why.empty() ? std::string_view("not authorized") : std::string_view(v.why));
    accept_connect(c, p, assigned, v.admin);
}

void Broker::Impl::verdict_arrived(uint32_t slot, uint32_t serial, Verdict v) {
    auto it = awaiting_auth.find(slot);
    if (it == awaiting_auth.end() || it->second.serial != serial) return;  // client gone
    PendingConnect pending = std::move(it->second);
    awaiting_auth.erase(it);
    Client* c = client_at(slot, serial);
    if (!c || c->state != ClientState::AwaitAuth) return;
    apply_verdict(*c, pending.connect, pending.assigned, v);

    // Now the packets it sent meanwhile, in order, as if they had just arrived. Any of them
    // may close the client: look it up again each time.
    size_t offset = 0;
    for (uint32_t size : pending.held_sizes) {
        c = client_at(slot, serial);
        if (!c || c->state != ClientState::Active) return;
        std::span<const uint8_t> frame(reinterpret_cast<const uint8_t*>(pending.held.data()) + offset, size);
        offset += size;
        process_frame(*c, frame, static_cast<mqtt::PacketType>(frame[0] >> 4));
    }
}

size_t Broker::Impl::held_bytes_limit() const {
    return std::max<size_t>(config.max_packet_size, 64 * 1024);
}

void Broker::Impl::hold_frame(Client& c, std::span<const uint8_t> frame, mqtt::PacketType type) {
    auto it = awaiting_auth.find(c.slot);
    if (it == awaiting_auth.end()) return;  // cannot happen: AwaitAuth always has an entry
    PendingConnect& pending = it->second;
    if (type == mqtt::PacketType::Connect) {
        spdlog::info("Client {} sent a second CONNECT while being authenticated, closing",
                     c.conn.peer());
        return close_client(c, "sent a second CONNECT");
    }
    if (pending.held.size() + frame.size() > held_bytes_limit()) {
        spdlog::info("Client {} sent more than {} bytes before its CONNACK, closing", c.conn.peer(),
                     held_bytes_limit());
        return close_client(c, "sent too much before its CONNACK");
    }
    pending.held.append(reinterpret_cast<const char*>(frame.data()), frame.size());
    pending.held_sizes.push_back(static_cast<uint32_t>(frame.size()));
}

}  // namespace herald::core
