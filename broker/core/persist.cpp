// Persistent sessions written through to the Store, and rebuilt from it at start.
//
// A session is stored (Session::stored) while it outlives its connection: 5.0 Session Expiry
// Interval > 0 or 3.1.1 clean session 0, and the store keeps sessions. A clean session never
// touches the store: every hook here is called behind an `s.stored` test, the only cost on the
// hot path. What is written, and where from:
//   CONNECT                 the session row (connected); a session that becomes persistent on a
//                           resume is written whole (subscriptions, inflight, queue)
//   connection gone         the session row with its disconnected-at time
//   session end             its messages erased, then delete (expiry, clean start, takeover
//                           with clean start, expiry interval set to 0 at DISCONNECT)
//   SUBSCRIBE / UNSUBSCRIBE one row per filter
//   a QoS 1/2 delivery      put (queued, or in flight with its packet id when sent at once);
//                           sent from the queue: state; PUBREC: state; PUBACK / PUBCOMP / a
//                           drop (too large, expired): erase. A delivery refused by the queue
//                           limits is never put.
// Not stored (documented in the README): incoming QoS 2 packet ids awaiting PUBREL (the
// message was routed on PUBLISH, so a PUBREL after a restart only gets PUBCOMP 0x92), wills
// waiting for their delay, and outgoing QoS 0.
//
// At start every saved session comes back disconnected: subscriptions in the tree, messages
// queued or back in the inflight window with their packet ids (resent with DUP=1, or PUBREL,
// when the client resumes), and its expiry counted from when it was disconnected (the store
// says when; a session still connected at a crash counts from this start).
#include <spdlog/spdlog.h>

#include "broker/core/broker_impl.h"

namespace herald::core {

namespace {

StoredSession stored_session(const Session& s, uint64_t disconnected_at_mono_ms) {
    std::optional<std::string> username;
    if (s.username) username = s.username->str();
    return StoredSession{s.client_id.str(), std::move(username), s.expiry_interval, disconnected_at_mono_ms};
}

}  // namespace

void Broker::Impl::persist_connect(Session& s) {
    if (!keep_sessions) return;
    if (s.expiry_interval == 0) {
        // A persistent session resumed as a clean one: it now ends with its connection.
        if (s.stored) persist_end(s);
        return;
    }
    store.session_save(stored_session(s, 0));
    if (s.stored) return;
    s.stored = true;
    // New, or a session that was not persistent resumed as one (a takeover without clean
    // start): write what it already holds.
    s.subscriptions.for_each([&](const std::string& filter) {
        if (const SubscriptionEntry* e = subscriptions.find(filter, &s))
            store.subscription_set(s.client_id.str(), StoredSubscription{filter, e->options, e->subscription_id});
    });
    for (InflightEntry& e : s.inflight) {
        Delivery& d = e.delivery;
        if (d.message && d.message->stream_seq) continue;  // the stream holds it (streams.cpp)
        d.seq = next_store_seq++;
        if (!d.message) {  // PUBREL sent: only the state matters, but a row needs a message
            Message released;
            released.payload = std::make_shared<const std::string>();
            store.message_put(s.client_id.view(), d.seq, StoredState::InflightPubrel, e.packet_id,
                              released, 2, false, {});
            continue;
        }
        store.message_put(s.client_id.view(), d.seq, StoredState::InflightPublish, e.packet_id, *d.message,
                          d.qos, d.retain, d.subscription_ids);
    }
    for (Delivery& d : s.queue)
        if (!d.message->stream_seq) persist_put(s, d, 0);
}

void Broker::Impl::persist_disconnect(Session& s) {
    store.session_save(stored_session(s, clock.mono_ms()));
}

void Broker::Impl::persist_end(Session& s) {
    // The messages by seq first: the store finds a session's messages by seq only (one
    // counter for all sessions keeps its inserts on the last page of one table).
    // Seq 0: never put (stream entries, streams.cpp).
    for (const InflightEntry& e : s.inflight)
        if (e.delivery.seq) store.message_erase(s.client_id.view(), e.delivery.seq);
    for (const Delivery& d : s.queue)
        if (d.seq) store.message_erase(s.client_id.view(), d.seq);
    store.session_delete(s.client_id.str());
    s.stored = false;
}

void Broker::Impl::persist_subscription(Session& s, std::string_view filter,
                                        const SubscriptionEntry& e) {
    store.subscription_set(s.client_id.str(),
                           StoredSubscription{std::string(filter), e.options, e.subscription_id});
}

void Broker::Impl::persist_unsubscribe(Session& s, std::string_view filter) {
    store.subscription_erase(s.client_id.str(), filter);
}

void Broker::Impl::persist_put(Session& s, Delivery& d, uint16_t packet_id) {
    d.seq = next_store_seq++;
    ++store_writes;
    store.message_put(s.client_id.view(), d.seq,
                      packet_id ? StoredState::InflightPublish : StoredState::Queued, packet_id,
                      *d.message, d.qos, d.retain, d.subscription_ids);
}

// Deliveries with seq 0 were never put (stream entries, streams.cpp): nothing to change.
void Broker::Impl::persist_sent(Session& s, const Delivery& d, uint16_t packet_id) {
    if (!d.seq) return;
    store.message_state(s.client_id.view(), d.seq, StoredState::InflightPublish, packet_id);
}

void Broker::Impl::persist_pubrec(Session& s, const Delivery& d, uint16_t packet_id) {
    if (!d.seq) return;
    store.message_state(s.client_id.view(), d.seq, StoredState::InflightPubrel, packet_id);
}

void Broker::Impl::persist_erase(Session& s, const Delivery& d) {
    if (!d.seq) return;
    store.message_erase(s.client_id.view(), d.seq);
}

void Broker::Impl::restore_sessions() {
    if (!keep_sessions) return;
    size_t messages = 0;
    std::vector<LoadedSession> loaded = store.sessions_load();
    for (LoadedSession& l : loaded) {
        if (sessions.find(l.session.client_id)) continue;  // defensive: one row per client id
        Session& s = create_session(std::move(l.session.client_id));
        s.username = std::move(l.session.username);
        s.expiry_interval = l.session.expiry_interval;
        s.stored = true;
        for (StoredSubscription& sub : l.subscriptions) {
            SubscriptionEntry e;
            e.session = &s;
            e.options = sub.options;
            e.subscription_id = sub.subscription_id;
            if (subscriptions.subscribe(sub.filter, e)) s.subscriptions.add(sub.filter);
        }
        for (StoredMessage& m : l.messages) {
            next_store_seq = std::max(next_store_seq, m.seq + 1);
            Delivery d{std::move(m.message), m.qos, m.retain, std::move(m.subscription_ids), m.seq};
            switch (m.state) {
                case StoredState::Queued:
                    s.queued_bytes += d.message->payload->size();
                    s.queue.push_back(std::move(d));
                    break;
                case StoredState::InflightPublish:
                    s.inflight.push_back(InflightEntry{
                        m.packet_id,
                        d.qos == 1 ? InflightState::AwaitPuback : InflightState::AwaitPubrec,
                        std::move(d)});
                    break;
                case StoredState::InflightPubrel:
                    d.message.reset();
                    d.subscription_ids.clear();
                    s.inflight.push_back(
                        InflightEntry{m.packet_id, InflightState::AwaitPubcomp, std::move(d)});
                    break;
            }
            ++messages;
        }
        if (s.expiry_interval != kNeverExpires) {
            s.expiry_gen = new_timer_gen();
            schedule(TimerKind::SessionExpiry, static_cast<uint32_t>(s.id), s.expiry_gen,
                     std::max<uint64_t>(l.expires_at_mono_ms, 1));
        }
    }
    if (!loaded.empty())
        spdlog::info("restored {} persistent sessions with {} messages", loaded.size(), messages);
}

}  // namespace herald::core
