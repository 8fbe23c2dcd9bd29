// The sessions and session_subscriptions tables, and loading a whole saved session (with
// its messages, from session_messages.cpp) for a start or a reconnect.
#include <unordered_map>

#include "storage/tables.h"

namespace herald::storage::sessions {
namespace {

SessionRecord read_session(const Query& q) {
    SessionRecord s;
    s.client_id = q.text(0);
    if (!q.is_null(1)) s.username = q.text(1);
    s.expiry_interval = static_cast<uint32_t>(q.u64(2));
    s.disconnected_at_wall_ms = q.u64(3);
    return s;
}

Result<std::vector<SubscriptionRecord>> load_subscriptions(Db& db, std::string_view client_id) {
    Query q = db.query(
        "SELECT filter, options, subscription_id FROM session_subscriptions WHERE client_id = ?1 ORDER BY filter");
    q.bind(1, client_id);
    std::vector<SubscriptionRecord> out;
    while (q.next())
        out.push_back(SubscriptionRecord{q.text(0), static_cast<uint8_t>(q.i64(1)), static_cast<uint32_t>(q.i64(2))});
    if (!q.status()) return q.status();
    return out;
}

// Fills in the subscriptions and messages of `saved`.
Status load_parts(Db& db, SavedSession& saved) {
    auto subs = load_subscriptions(db, saved.session.client_id);
    if (!subs) return subs.status();
    saved.subscriptions = std::move(subs.value());
    auto messages = session_messages::load(db, saved.session.client_id);
    if (!messages) return messages.status();
    saved.messages = std::move(messages.value());
    return {};
}

}  // namespace

Status save(Db& db, const SessionRecord& s) {
    Query q = db.query(
        "INSERT INTO sessions (client_id, username, expiry_interval, disconnected_at_wall_ms) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client_id) DO UPDATE SET username = excluded.username, "
        "expiry_interval = excluded.expiry_interval, disconnected_at_wall_ms = excluded.disconnected_at_wall_ms");
    q.bind(1, s.client_id);
    if (s.username) q.bind(2, *s.username);
    else q.bind_null(2);
    return q.bind(3, s.expiry_interval).bind(4, s.disconnected_at_wall_ms).run();
}

Status remove_keep_messages(Db& db, std::string_view client_id) {
    static const char* const kDeletes[] = {
        "DELETE FROM sessions WHERE client_id = ?1",
        "DELETE FROM session_subscriptions WHERE client_id = ?1",
    };
    for (const char* sql : kDeletes) {
        if (Status s = db.query(sql).bind(1, client_id).run(); !s) return s;
    }
    return {};
}

Status remove(Db& db, std::string_view client_id) {
    if (Status s = remove_keep_messages(db, client_id); !s) return s;
    return session_messages::clear(db, client_id);
}

Status subscription_set(Db& db, std::string_view client_id, const SubscriptionRecord& sub) {
    Query q = db.query(
        "INSERT INTO session_subscriptions (client_id, filter, options, subscription_id) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (client_id, filter) DO UPDATE SET options = excluded.options, "
        "subscription_id = excluded.subscription_id");
    return q.bind(1, client_id).bind(2, sub.filter).bind(3, int{sub.options}).bind(4, sub.subscription_id).run();
}

Status subscription_erase(Db& db, std::string_view client_id, std::string_view filter) {
    return db.query("DELETE FROM session_subscriptions WHERE client_id = ?1 AND filter = ?2")
        .bind(1, client_id)
        .bind(2, filter)
        .run();
}

Result<std::optional<SavedSession>> load(Db& db, std::string_view client_id) {
    std::optional<SavedSession> out;
    {
        Query q = db.query(
            "SELECT client_id, username, expiry_interval, disconnected_at_wall_ms FROM sessions WHERE client_id = ?1");
        if (q.bind(1, client_id).next()) out.emplace().session = read_session(q);
        if (!q.status()) return q.status();
    }
    if (out) {
        if (Status s = load_parts(db, *out); !s) return s;
    }
    return out;
}

Result<std::vector<SavedSession>> load_all(Db& db) {
    std::vector<SavedSession> out;
    std::unordered_map<std::string, size_t> index;  // client id -> position in out
    {
        Query q = db.query(
            "SELECT client_id, username, expiry_interval, disconnected_at_wall_ms FROM sessions ORDER BY client_id");
        while (q.next()) out.emplace_back().session = read_session(q);
        if (!q.status()) return q.status();
    }
    index.reserve(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
        index.emplace(out[i].session.client_id, i);
        auto subs = load_subscriptions(db, out[i].session.client_id);
        if (!subs) return subs.status();
        out[i].subscriptions = std::move(subs.value());
    }
    // The messages in one pass, by seq (so each session's in its order); a message queued for
    // many sessions gets one payload in memory.
    session_messages::PayloadCache cache;
    std::string key;
    Status s = session_messages::load_all(db, cache, [&](std::string_view client_id, SessionMessageRecord m) {
        key.assign(client_id);
        auto it = index.find(key);
        if (it != index.end()) out[it->second].messages.push_back(std::move(m));
    });
    if (!s) return s;
    return out;
}

Status purge_expired(Db& db, uint64_t now_ms) {
    // A disconnected session (disconnected_at > 0) whose interval has run out. The interval
    // is in seconds; 0xFFFFFFFF means never.
    std::vector<std::string> expired;
    {
        Query q = db.query(
            "SELECT client_id FROM sessions WHERE disconnected_at_wall_ms > 0 AND expiry_interval != 4294967295 "
            "AND disconnected_at_wall_ms + expiry_interval * 1000 <= ?1");
        q.bind(1, now_ms);
        while (q.next()) expired.push_back(q.text(0));
        if (!q.status()) return q.status();
    }
    for (const std::string& id : expired) {
        if (Status s = remove_keep_messages(db, id); !s) return s;
    }
    // Their messages, and any left by a session deleted without them: one scan for all.
    return session_messages::clear_orphans(db);
}

}  // namespace herald::storage::sessions
