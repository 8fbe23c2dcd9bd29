// Acknowledgement after commit: a publisher's PUBACK (QoS 1) or PUBREC (QoS 2) is sent only
// once the Store has committed what its message wrote (a message put for a persistent
// session, a retained message), so that what was acknowledged survives a crash.
//
// How: handle_publish compares Impl::store_writes before and after routing. No write (the
// message reached only clean sessions, the common case): the ack goes at once, as before,
// unless the client already has an ack waiting. A write: the ack is held with a new ticket
// and the Store is asked to call on_committed(ticket) once everything posted so far is
// committed (Store::after_commit; calls complete in the order made, so tickets complete in
// increasing order).
//
// Order: an ack never overtakes an earlier one of the same client (PUBACKs in the order of
// the PUBLISHes [MQTT-4.6.0-2], PUBRECs likewise [MQTT-4.6.0-3]). While a client has an ack
// held (Client::acks_held), every later ack to it (PUBACK, PUBREC, PUBCOMP, refusals,
// re-acks) is held too, with the newest ticket: that ticket completes no earlier than the
// ones before it, and held_acks is one FIFO ordered by ticket, so releasing it from the front
// keeps each client's order. The hot path pays one flag test.
//
// A client that goes away meanwhile is looked up by slot + serial when its ticket completes:
// gone, its acks are dropped (it resends the PUBLISH after reconnecting; the message may then
// be delivered twice, which QoS 1 allows; the QoS 2 packet id is no longer known either).
//
// Choices where the specs leave room (for the README):
// - A commit that fails (full disk, I/O error): the ack is withheld. A 5.0 publisher gets
//   PUBACK / PUBREC 0x80 Unspecified error (it knows at once that the message may be lost); a
//   3.1.1 publisher gets nothing (it has no way to hear "no"; it resends after reconnecting).
//   The QoS 2 packet id is forgotten, so that a resend is routed again. The store logs the
//   error; the broker goes on serving everyone else.
#include <spdlog/spdlog.h>

#include "broker/core/broker_impl.h"

namespace herald::core {

using mqtt::ReasonCode;

void Broker::Impl::hold_ack(Client& c, mqtt::PacketType type, uint16_t packet_id, ReasonCode rc,
                            bool needs_commit) {
    // Not waiting for a commit itself: queued behind the client's earlier held ack, under the
    // newest ticket (which completes no earlier than that one).
    const uint64_t ticket = needs_commit ? ++commit_tickets : commit_tickets;
    held_acks.push_back(HeldAck{ticket, c.slot, c.serial, packet_id, type, rc, needs_commit});
    c.rare_state().held_acks++;
    c.acks_held = true;
    // After the push: a store with nothing to wait for calls back at once.
    if (needs_commit) store.after_commit([this, ticket](bool ok) { on_committed(ticket, ok); });
}

void Broker::Impl::on_committed(uint64_t ticket, bool ok) {
    while (!held_acks.empty() && held_acks.front().ticket <= ticket) {
        const HeldAck a = held_acks.front();
        held_acks.pop_front();
        Client* c = client_at(a.slot, a.serial);
        if (!c) continue;  // gone: nothing to acknowledge to
        if (c->rare && c->rare->held_acks > 0 && --c->rare->held_acks == 0) c->acks_held = false;
        if (c->state != ClientState::Active) continue;
        if (a.needs_commit && !ok) {
            spdlog::warn("{} of packet id {} to {} withheld: the store could not commit it",
                         a.type == mqtt::PacketType::Pubrec ? "PUBREC" : "PUBACK", a.packet_id,
                         c->session ? printable(c->session->client_id) : c->conn.peer());
            if (a.type == mqtt::PacketType::Pubrec && c->session)
                c->session->remove_incoming_qos2(a.packet_id);
            if (c->v5()) ack_publish(*c, a.type, a.packet_id, ReasonCode::UnspecifiedError);
            continue;
        }
        ack_publish(*c, a.type, a.packet_id, a.reason);
    }
}

}  // namespace herald::core
