// Presence in the broker (SPEC 4): feeds the PresenceTracker from connects and disconnects,
// publishes the retained `presence/{u}` and `presence/{u}/devices` records it says changed,
// applies the device limit, takes status updates, ends grace periods, and counts users online.
//
// Only clients with a username have presence; anonymous clients get plain MQTT.
//
// Choices (README "Presence"):
// - Records are published retained at QoS 1 by the broker itself (origin 0), through the
//   normal routing, so the read checks at delivery apply to them like to any message.
// - The grace period of a device is presence.grace, or its 5.0 Will Delay Interval if longer.
// - A DISCONNECT (any reason code), a kick, a replacement by the device limit and a shutdown
//   end a device cleanly: no grace.
// - The `presence/{u}/devices` record is retained in memory only, never stored: after a
//   restart it is absent until a device of the user connects (no device is online then).
// - At start, the retained records that came back from the store give each user its seq,
//   last seen, status and text; a record still saying "online" (the broker was killed) is
//   turned offline at once, with last_seen = the time of the restart.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "broker/core/broker_impl.h"
#include "broker/core/presence_json.h"

namespace herald::core {

namespace {

constexpr std::string_view kPresencePrefix = "presence/";

// "presence/alice" -> "alice"; empty when the topic is not exactly presence/{u}.
std::string_view presence_user_of(std::string_view topic) {
    if (topic.substr(0, kPresencePrefix.size()) != kPresencePrefix) return {};
    std::string_view user = topic.substr(kPresencePrefix.size());
    if (user.empty() || user.find('/') != std::string_view::npos) return {};
    return user;
}

}  // namespace

void Broker::Impl::publish_presence(const std::string& user, PresenceChange change) {
    const UserPresence* p = presence.find(user);
    if (!p || !change.any()) return;
    auto make = [](std::string topic, std::string json) {
        auto m = std::make_shared<Message>();
        m->topic = std::move(topic);
        m->payload = std::make_shared<const std::string>(std::move(json));
        m->qos = 1;
        m->retain = true;
        return m;
    };
    auto publish = [&](std::string topic, std::string json) { publish_message(make(std::move(topic), std::move(json))); };
    // The record only when what others see changed (an invisible user's moves do not).
    // Rendered once: without seq to compare, then with the seq take_public() gave it.
    if (change.record) {
        std::string record = presence_record_json(user, *p, false);
        if (presence.take_public(user, std::hash<std::string>{}(record))) {
            add_presence_seq(record, p->seq);
            publish(std::string(kPresencePrefix) + user, std::move(record));
        }
    }
    if (change.devices) {
        // Retained in memory only: after a restart no device is online, so a stored copy could
        // only be stale (and writing it would double the store writes of every connect).
        MessagePtr m = make(std::string(kPresencePrefix) + user + "/devices", presence_devices_json(user, *p));
        retained.set(m);
        route(m);
    }
    presence_counts_changed = true;
}

Client* Broker::Impl::presence_device_limit(Client& c, const std::string& user,
                                            std::string_view client_id, bool& refuse) {
    refuse = false;
    const uint32_t max = config.presence_max_devices;
    const UserPresence* p = presence.find(user);
    if (max == 0 || !p || p->in_grace()) return nullptr;
    size_t others = 0;
    for (const PresenceDevice& d : p->devices) others += d.client_id != client_id;
    if (others < max) return nullptr;
    if (config.presence_device_policy == "reject_new") {
        refuse = true;
        return nullptr;
    }
    // replace_oldest: the first listed device (they are kept in connection order).
    for (const PresenceDevice& d : p->devices) {
        if (d.client_id == client_id) continue;
        Session* s = sessions.find(d.client_id);
        if (s && s->client && s->client != &c) return s->client;
    }
    (void)c;
    return nullptr;
}

void Broker::Impl::presence_connected(Client& c, Session& s, Client* replaced) {
    if (!s.username) return;
    const std::string user = s.username->str();
    PresenceDevice device{s.client_id.str(), c.conn.transport(), c.v5() ? uint8_t(5) : uint8_t(4),
                          clock.wall_ms()};
    PresenceChange change = presence.connected(user, std::move(device), clock.wall_ms());
    if (replaced && replaced->session) {
        // Out of the list after the new device is in it, so the user never looks offline in
        // between; one publication for both (the device count does not change).
        PresenceChange out = presence.disconnected(user, replaced->session->client_id.view(), true, 0,
                                                   clock.mono_ms(), clock.wall_ms());
        change.record |= out.record;
        change.devices |= out.devices;
    }
    publish_presence(user, change);
    if (replaced) {
        std::string why = "replaced by device " + s.client_id.str() + " (max_devices reached)";
        spdlog::info("Client {} of {} disconnected: {}",
                     replaced->session ? printable(replaced->session->client_id) : "-",
                     printable(user), why);
        replaced->presence_clean_end = true;
        send_disconnect(*replaced, mqtt::ReasonCode::SessionTakenOver, why);
        close_client(*replaced, "replaced by a newer device");
    }
}

void Broker::Impl::presence_disconnected(Client& c, Session& s) {
    if (!s.username || shutting_down) return;
    const bool clean = !c.publish_will_on_close || c.presence_clean_end;
    uint64_t grace = config.presence_grace_ms;
    if (c.will && c.v5()) {
        grace = std::max<uint64_t>(grace, uint64_t(c.will->props.will_delay_interval.value_or(0)) * 1000);
    }
    publish_presence(s.username->str(),
                     presence.disconnected(s.username->str(), s.client_id.view(), clean, grace,
                                           clock.mono_ms(), clock.wall_ms()));
}

void Broker::Impl::presence_tick(uint64_t now) {
    if (auto due = presence.next_deadline(); due && *due <= now) {
        for (const std::string& user : presence.expire(now, clock.wall_ms())) {
            if (spdlog::should_log(spdlog::level::info))  // printable() costs even when not logged
                spdlog::info("User {} offline: grace period over", printable(user));
            publish_presence(user, PresenceChange{true, true});
        }
    }
    // $SYS counts, on change, at most once a second (SPEC 4).
    if (presence_counts_changed && now >= next_presence_counts_ms) {
        presence_counts_changed = false;
        next_presence_counts_ms = now + 1000;
        publish_sys_value("$SYS/herald/users/online", std::to_string(presence.online_users()));
        publish_sys_value("$SYS/broker/clients/connected", std::to_string(stats.clients_connected));
    }
}

bool Broker::Impl::presence_status_update(Session& s, const std::string& topic,
                                          const std::string& payload, mqtt::ReasonCode& reason) {
    if (!s.username) return false;
    const std::string_view user = presence_user_of(topic);
    if (user.empty() || user != s.username->view()) return false;
    StatusUpdate update;
    std::string error;
    if (!parse_status_update(payload, update, error)) {
        spdlog::info("Presence update from {} refused: {}", printable(s.client_id), error);
        reason = mqtt::ReasonCode::PayloadFormatInvalid;
        return true;
    }
    const std::string name(user);
    publish_presence(name, presence.set_status(name, std::move(update.status), std::move(update.text),
                                               clock.wall_ms()));
    reason = mqtt::ReasonCode::Success;
    return true;
}

void Broker::Impl::presence_restore() {
    std::vector<std::string> stale;
    retained.match("presence/+", clock.mono_ms(), [&](const MessagePtr& m) {
        const std::string_view user = presence_user_of(m->topic);
        if (user.empty()) return;
        nlohmann::json j = nlohmann::json::parse(*m->payload, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return;
        auto number = [&j](const char* key) {
            auto it = j.find(key);
            return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : uint64_t(0);
        };
        auto text = [&j](const char* key, const char* fallback) {
            auto it = j.find(key);
            return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
        };
        const bool was_online = text("state", "") == "online";
        // A record still online: the broker died with the user connected. Offline now, one
        // change later, last seen at this restart (the moment of the crash is not known).
        presence.restore(std::string(user), number("seq"),
                         was_online ? clock.wall_ms() : number("last_seen"),
                         text("status", "available"), text("text", ""));
        if (was_online) stale.emplace_back(user);
    });
    // Devices records stored by an older version: stale by definition (see publish_presence).
    std::vector<std::string> stored_devices;
    retained.match("presence/+/devices", clock.mono_ms(),
                   [&](const MessagePtr& m) { stored_devices.push_back(m->topic); });
    for (const std::string& topic : stored_devices) {
        retained.erase(topic);
        store.retained_erase(topic);
    }
    for (const std::string& user : stale) publish_presence(user, PresenceChange{true, true});
}

void Broker::Impl::presence_shutdown() {
    for (const std::string& user : presence.list_online("", presence.online_users())) {
        const UserPresence* p = presence.find(user);
        if (!p) continue;
        const std::vector<PresenceDevice> devices = p->devices;
        PresenceChange change;
        for (const PresenceDevice& d : devices) {
            PresenceChange one = presence.disconnected(user, d.client_id, true, 0, clock.mono_ms(),
                                                       clock.wall_ms());
            change.record |= one.record;
            change.devices |= one.devices;
        }
        publish_presence(user, change);
    }
}

size_t Broker::Impl::kick_user(std::string_view user, mqtt::ReasonCode reason, const std::string& why) {
    const UserPresence* p = presence.find(user);
    if (!p) return 0;
    // By client id first: closing changes the tracker's list as we go.
    std::vector<std::string> ids;
    for (const PresenceDevice& d : p->devices) ids.push_back(d.client_id);
    const std::string name(user);
    size_t kicked = 0;
    PresenceChange change;
    for (const std::string& id : ids) {
        Session* s = sessions.find(id);
        if (!s || !s->client || s->client->state == ClientState::Closing) continue;
        Client& c = *s->client;
        c.presence_clean_end = true;
        send_disconnect(c, reason, why);
        close_client(c, "kicked: " + why);
        // Out of the list now, not when the socket has closed: one record for all the devices
        // (offline), published before the caller goes on, as for a replaced device. After a
        // deleteUser the user's contacts go next, and its last record must reach them first.
        // The closed client finds itself gone from the list and publishes nothing.
        PresenceChange one = presence.disconnected(name, id, true, 0, clock.mono_ms(), clock.wall_ms());
        change.record |= one.record;
        change.devices |= one.devices;
        ++kicked;
    }
    publish_presence(name, change);
    return kicked;
}

}  // namespace herald::core
