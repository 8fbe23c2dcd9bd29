// GroupMembers: a map group -> set of users, and its loading from the store at start.
#include "broker/identity/group_members.h"

#include "storage/store.h"
#include "storage/tables.h"

namespace herald::identity {

void GroupMembers::assign(const std::vector<storage::GroupMemberRecord>& members) {
    members_.clear();
    count_ = 0;
    for (const storage::GroupMemberRecord& m : members) add(m.group, m.user);
}

storage::Status GroupMembers::load(storage::SqliteStore& store) {
    std::vector<storage::GroupMemberRecord> all;
    storage::Status s = store.exec_now([&all](storage::Db& db) {
        auto got = storage::groups::all_members(db);
        if (!got) return got.status();
        all = std::move(got.value());
        return storage::Status{};
    });
    if (s) assign(all);
    return s;
}

bool GroupMembers::contains(std::string_view group, std::string_view user) const {
    auto g = members_.find(group);
    return g != members_.end() && g->second.find(user) != g->second.end();
}

void GroupMembers::add(const std::string& group, const std::string& user) {
    if (members_[group].insert(user).second) ++count_;
}

void GroupMembers::remove(const std::string& group, const std::string& user) {
    auto g = members_.find(group);
    if (g == members_.end()) return;
    count_ -= g->second.erase(user);
    if (g->second.empty()) members_.erase(g);
}

void GroupMembers::remove_group(const std::string& group) {
    auto g = members_.find(group);
    if (g == members_.end()) return;
    count_ -= g->second.size();
    members_.erase(g);
}

void GroupMembers::remove_user(const std::string& user) {
    for (auto g = members_.begin(); g != members_.end();) {
        count_ -= g->second.erase(user);
        g = g->second.empty() ? members_.erase(g) : std::next(g);
    }
}

}  // namespace herald::identity
