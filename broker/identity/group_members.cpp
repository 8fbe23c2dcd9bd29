// GroupMembers: a map group -> set of users and its reverse, and their loading from the store.
#include "broker/identity/group_members.h"

#include <algorithm>

#include "storage/store.h"
#include "storage/tables.h"

namespace herald::identity {

void GroupMembers::assign(const std::vector<storage::GroupMemberRecord>& members) {
    members_.clear();
    groups_of_.clear();
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

std::vector<std::string> GroupMembers::groups_of(std::string_view user) const {
    std::vector<std::string> out;
    auto u = groups_of_.find(user);
    if (u != groups_of_.end()) out.assign(u->second.begin(), u->second.end());
    std::sort(out.begin(), out.end());
    return out;
}

size_t GroupMembers::size(std::string_view group) const {
    auto g = members_.find(group);
    return g == members_.end() ? 0 : g->second.size();
}

bool GroupMembers::share_group_of_at_most(std::string_view a, std::string_view b, size_t limit) const {
    auto ga = groups_of_.find(a);
    if (ga == groups_of_.end()) return false;
    auto gb = groups_of_.find(b);
    if (gb == groups_of_.end()) return false;
    // Walk the shorter list of groups, look each up in the other.
    const Names& few = ga->second.size() <= gb->second.size() ? ga->second : gb->second;
    const Names& many = &few == &ga->second ? gb->second : ga->second;
    for (const std::string& group : few)
        if (many.find(group) != many.end() && size(group) <= limit) return true;
    return false;
}

void GroupMembers::add(const std::string& group, const std::string& user) {
    if (!members_[group].insert(user).second) return;
    groups_of_[user].insert(group);
    ++count_;
}

void GroupMembers::drop(Index& index, std::string_view key, std::string_view name) {
    auto it = index.find(key);
    if (it == index.end()) return;
    auto n = it->second.find(name);
    if (n != it->second.end()) it->second.erase(n);
    if (it->second.empty()) index.erase(it);
}

void GroupMembers::remove(const std::string& group, const std::string& user) {
    auto g = members_.find(group);
    if (g == members_.end() || g->second.erase(user) == 0) return;
    --count_;
    if (g->second.empty()) members_.erase(g);
    drop(groups_of_, user, group);
}

void GroupMembers::remove_group(const std::string& group) {
    auto g = members_.find(group);
    if (g == members_.end()) return;
    count_ -= g->second.size();
    for (const std::string& user : g->second) drop(groups_of_, user, group);
    members_.erase(g);
}

void GroupMembers::remove_user(const std::string& user) {
    auto u = groups_of_.find(user);
    if (u == groups_of_.end()) return;
    count_ -= u->second.size();
    for (const std::string& group : u->second) drop(members_, group, user);
    groups_of_.erase(u);
}

}  // namespace herald::identity
