// PresenceTracker: per-user online state across devices, with the grace period (SPEC 4).
#include "broker/core/presence_tracker.h"

#include <algorithm>

namespace herald::core {

namespace {

void erase_grace(std::multimap<uint64_t, std::string>& graces, uint64_t at, const std::string& user) {
    auto [first, last] = graces.equal_range(at);
    for (auto it = first; it != last; ++it) {
        if (it->second == user) {
            graces.erase(it);
            return;
        }
    }
}

}  // namespace

bool PresenceTracker::valid_status(std::string_view status) {
    return status == "available" || status == "away" || status == "busy" || status == "invisible";
}

UserPresence& PresenceTracker::entry(const std::string& user) {
    return users_[user];
}

void PresenceTracker::restore(const std::string& user, uint64_t seq, uint64_t last_seen_ms,
                              std::string status, std::string text) {
    UserPresence& p = entry(user);
    p.seq = seq;
    p.last_seen_ms = last_seen_ms;
    p.since_ms = last_seen_ms;
    if (valid_status(status)) p.status = std::move(status);
    p.text = std::move(text);
}

PresenceChange PresenceTracker::connected(const std::string& user, PresenceDevice device,
                                          uint64_t now_wall_ms) {
    UserPresence& p = entry(user);
    PresenceChange change;
    if (p.in_grace()) {
        // Back within grace: the user never looked offline. The device that left is still
        // listed; the same client id takes its place unseen, another one replaces it.
        erase_grace(graces_, p.grace_until_ms, user);
        p.grace_until_ms = 0;
        const bool same = p.devices.size() == 1 && p.devices.front().client_id == device.client_id;
        if (!same) {
            p.devices.clear();
            p.devices.push_back(std::move(device));
            change.devices = true;
        }
        return change;
    }
    auto it = std::find_if(p.devices.begin(), p.devices.end(),
                           [&](const PresenceDevice& d) { return d.client_id == device.client_id; });
    if (it != p.devices.end()) {
        // A takeover: the same device, a new connection. Not a change of presence; the list
        // changes only if what it shows did (another transport or protocol version).
        change.devices = it->transport != device.transport || it->protocol != device.protocol;
        const uint64_t since = it->since_ms;
        *it = std::move(device);
        if (!change.devices) it->since_ms = since;
        return change;
    }
    p.devices.push_back(std::move(device));
    change.devices = true;
    change.record = true;  // the device count is in the record
    if (!p.online) {
        p.online = true;
        // An invisible user still looks as it did when it left.
        if (p.invisible()) p.invisible_since_ms = p.last_seen_ms;
        else p.since_ms = now_wall_ms;
        online_set_.insert(user);
    }
    return change;
}

void PresenceTracker::go_offline(UserPresence& p, uint64_t now_wall_ms) {
    p.online = false;
    p.devices.clear();
    p.grace_until_ms = 0;
    // An invisible user keeps showing the moment it disappeared.
    p.last_seen_ms = p.invisible() ? p.invisible_since_ms : now_wall_ms;
    p.since_ms = p.last_seen_ms;
}

PresenceChange PresenceTracker::disconnected(const std::string& user, std::string_view client_id,
                                             bool clean, uint64_t grace_ms, uint64_t now_mono_ms,
                                             uint64_t now_wall_ms) {
    PresenceChange change;
    auto found = users_.find(user);
    if (found == users_.end()) return change;
    UserPresence& p = found->second;
    auto it = std::find_if(p.devices.begin(), p.devices.end(),
                           [&](const PresenceDevice& d) { return d.client_id == client_id; });
    if (it == p.devices.end()) return change;
    const bool last = p.devices.size() == 1;
    if (!last) {
        p.devices.erase(it);
        change.devices = true;
        change.record = true;  // the device count is in the record
        return change;
    }
    if (p.in_grace()) {
        // Already waiting (a second abrupt loss reported for the same device): a clean end
        // now ends the wait; otherwise the first deadline stands.
        if (!clean) return change;
        erase_grace(graces_, p.grace_until_ms, user);
    } else if (!clean && grace_ms > 0) {
        p.grace_until_ms = std::max<uint64_t>(now_mono_ms + grace_ms, 1);
        graces_.emplace(p.grace_until_ms, user);
        return change;  // nothing visible until the grace ends
    }
    go_offline(p, now_wall_ms);
    online_set_.erase(user);
    change.record = true;
    change.devices = true;
    return change;
}

std::vector<std::string> PresenceTracker::expire(uint64_t now_mono_ms, uint64_t now_wall_ms) {
    std::vector<std::string> gone;
    while (!graces_.empty() && graces_.begin()->first <= now_mono_ms) {
        std::string user = std::move(graces_.begin()->second);
        graces_.erase(graces_.begin());
        auto it = users_.find(user);
        if (it == users_.end() || !it->second.in_grace()) continue;
        go_offline(it->second, now_wall_ms);
        online_set_.erase(user);
        gone.push_back(std::move(user));
    }
    return gone;
}

std::optional<uint64_t> PresenceTracker::next_deadline() const {
    if (graces_.empty()) return std::nullopt;
    return graces_.begin()->first;
}

PresenceChange PresenceTracker::set_status(const std::string& user, std::optional<std::string> status,
                                           std::optional<std::string> text, uint64_t now_wall_ms) {
    UserPresence& p = entry(user);
    PresenceChange change;
    if (status && *status != p.status) {
        const bool was_invisible = p.invisible();
        p.status = std::move(*status);
        if (p.invisible()) {
            // Others see the user leave now.
            p.invisible_since_ms = p.online ? now_wall_ms : p.last_seen_ms;
        } else if (was_invisible && p.online) {
            p.since_ms = now_wall_ms;  // and come back now
        } else if (was_invisible) {
            p.since_ms = p.last_seen_ms = p.invisible_since_ms;
        }
        change.record = true;
    }
    if (text && *text != p.text) {
        p.text = std::move(*text);
        change.record = true;
    }
    return change;
}

bool PresenceTracker::take_public(const std::string& user, uint64_t public_hash) {
    UserPresence& p = entry(user);
    if (p.seq != 0 && p.public_hash == public_hash) return false;
    p.public_hash = public_hash;
    ++p.seq;
    return true;
}

const UserPresence* PresenceTracker::find(std::string_view user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : &it->second;
}

std::vector<std::string> PresenceTracker::list_online(std::string_view cursor, size_t limit) const {
    std::vector<std::string> page;
    for (auto it = cursor.empty() ? online_set_.begin() : online_set_.upper_bound(cursor);
         it != online_set_.end() && page.size() < limit; ++it) {
        page.push_back(*it);
    }
    return page;
}

}  // namespace herald::core
