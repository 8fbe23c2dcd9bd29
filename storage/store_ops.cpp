// SqliteStore's typed operations: each posts the matching table function (tables.h) as one
// op. Arguments are moved into the op, which the writer thread runs; payloads stay shared.
#include "storage/store.h"
#include "storage/tables.h"

namespace herald::storage {

// --- retained messages ---

void SqliteStore::retained_set(RetainedRecord m, Done done) {
    write([m = std::move(m)](Db& db) { return retained::set(db, m); }, std::move(done));
}

void SqliteStore::retained_erase(std::string topic, Done done) {
    write([topic = std::move(topic)](Db& db) { return retained::erase(db, topic); }, std::move(done));
}

// --- persistent sessions ---

void SqliteStore::session_save(SessionRecord s, Done done) {
    write([s = std::move(s)](Db& db) { return sessions::save(db, s); }, std::move(done));
}

void SqliteStore::session_delete(std::string client_id, Done done) {
    write([id = std::move(client_id)](Db& db) { return sessions::remove_keep_messages(db, id); }, std::move(done));
}

void SqliteStore::subscription_set(std::string client_id, SubscriptionRecord sub, Done done) {
    write([id = std::move(client_id), sub = std::move(sub)](Db& db) { return sessions::subscription_set(db, id, sub); },
          std::move(done));
}

void SqliteStore::subscription_erase(std::string client_id, std::string filter, Done done) {
    write([id = std::move(client_id), f = std::move(filter)](Db& db) { return sessions::subscription_erase(db, id, f); },
          std::move(done));
}

void SqliteStore::session_load(std::string client_id, ReadDone<std::optional<SavedSession>> done) {
    read<std::optional<SavedSession>>([id = std::move(client_id)](Db& db) { return sessions::load(db, id); },
                                      std::move(done));
}

void SqliteStore::session_message_put(std::string client_id, SessionMessageRecord m, Done done) {
    write([id = std::move(client_id), m = std::move(m)](Db& db) { return session_messages::put(db, id, m); },
          std::move(done));
}

void SqliteStore::session_message_state(std::string client_id, uint64_t seq, MessageState state, uint16_t packet_id,
                                        Done done) {
    write([id = std::move(client_id), seq, state, packet_id](Db& db) {
        return session_messages::set_state(db, id, seq, state, packet_id);
    }, std::move(done));
}

void SqliteStore::session_message_erase(std::string client_id, uint64_t seq, Done done) {
    write([id = std::move(client_id), seq](Db& db) { return session_messages::erase(db, id, seq); }, std::move(done));
}

void SqliteStore::session_messages_clear(std::string client_id, Done done) {
    write([id = std::move(client_id)](Db& db) { return session_messages::clear(db, id); }, std::move(done));
}

// --- users ---

void SqliteStore::user_create(UserRecord user, Done done) {
    write([u = std::move(user)](Db& db) { return users::create(db, u); }, std::move(done));
}

void SqliteStore::user_delete(std::string name, Done done) {
    write([n = std::move(name)](Db& db) { return users::remove(db, n); }, std::move(done));
}

void SqliteStore::user_set_password_hash(std::string name, std::string hash, Done done) {
    write([n = std::move(name), h = std::move(hash)](Db& db) { return users::set_password_hash(db, n, h); },
          std::move(done));
}

void SqliteStore::user_set_role(std::string name, Role role, Done done) {
    write([n = std::move(name), role](Db& db) { return users::set_role(db, n, role); }, std::move(done));
}

void SqliteStore::user_get(std::string name, ReadDone<std::optional<UserRecord>> done) {
    read<std::optional<UserRecord>>([n = std::move(name)](Db& db) { return users::get(db, n); }, std::move(done));
}

void SqliteStore::users_list(std::string after, size_t limit, ReadDone<Page<UserRecord>> done) {
    read<Page<UserRecord>>([a = std::move(after), limit](Db& db) { return users::list(db, a, limit); },
                           std::move(done));
}

// --- contacts ---

void SqliteStore::contact_add(std::string a, std::string b, uint64_t now_ms, Done done) {
    write([a = std::move(a), b = std::move(b), now_ms](Db& db) { return contacts::add(db, a, b, now_ms); },
          std::move(done));
}

void SqliteStore::contact_remove(std::string a, std::string b, Done done) {
    write([a = std::move(a), b = std::move(b)](Db& db) { return contacts::remove(db, a, b); }, std::move(done));
}

void SqliteStore::contacts_of(std::string user, ReadDone<std::vector<std::string>> done) {
    read<std::vector<std::string>>([u = std::move(user)](Db& db) { return contacts::of_user(db, u); },
                                   std::move(done));
}

// --- groups ---

void SqliteStore::group_create(std::string name, uint64_t now_ms, Done done) {
    write([n = std::move(name), now_ms](Db& db) { return groups::create(db, n, now_ms); }, std::move(done));
}

void SqliteStore::group_delete(std::string name, Done done) {
    write([n = std::move(name)](Db& db) { return groups::remove(db, n); }, std::move(done));
}

void SqliteStore::group_add_member(std::string group, std::string user, uint64_t now_ms, Done done) {
    write([g = std::move(group), u = std::move(user), now_ms](Db& db) { return groups::add_member(db, g, u, now_ms); },
          std::move(done));
}

void SqliteStore::group_remove_member(std::string group, std::string user, Done done) {
    write([g = std::move(group), u = std::move(user)](Db& db) { return groups::remove_member(db, g, u); },
          std::move(done));
}

void SqliteStore::groups_list(std::string after, size_t limit, ReadDone<Page<GroupRecord>> done) {
    read<Page<GroupRecord>>([a = std::move(after), limit](Db& db) { return groups::list(db, a, limit); },
                            std::move(done));
}

void SqliteStore::group_members(std::string group, ReadDone<std::vector<GroupMemberRecord>> done) {
    read<std::vector<GroupMemberRecord>>([g = std::move(group)](Db& db) { return groups::members(db, g); },
                                         std::move(done));
}

void SqliteStore::groups_of(std::string user, ReadDone<std::vector<std::string>> done) {
    read<std::vector<std::string>>([u = std::move(user)](Db& db) { return groups::of_user(db, u); }, std::move(done));
}

// --- bans and devices ---

void SqliteStore::ban_set(BanRecord ban, Done done) {
    write([b = std::move(ban)](Db& db) { return bans::set(db, b); }, std::move(done));
}

void SqliteStore::ban_remove(std::string user, Done done) {
    write([u = std::move(user)](Db& db) { return bans::remove(db, u); }, std::move(done));
}

void SqliteStore::ban_get(std::string user, ReadDone<std::optional<BanRecord>> done) {
    read<std::optional<BanRecord>>([u = std::move(user)](Db& db) { return bans::get(db, u); }, std::move(done));
}

void SqliteStore::device_seen(DeviceRecord device, Done done) {
    write([d = std::move(device)](Db& db) { return devices::seen(db, d); }, std::move(done));
}

void SqliteStore::devices_of(std::string user, ReadDone<std::vector<DeviceRecord>> done) {
    read<std::vector<DeviceRecord>>([u = std::move(user)](Db& db) { return devices::of_user(db, u); },
                                    std::move(done));
}

}  // namespace herald::storage
