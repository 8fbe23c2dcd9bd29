// The broker's in-memory copy of group membership (SPEC 3): the topic rules ask "is this user
// a member of that group?" at every publish to groups/{g}/... and at each delivery, so the
// answer must come from memory, at once, not from the store.
//
// Loaded synchronously at start (before the store's writer thread starts), then kept current
// on the loop thread by the admin API's ChangeListener calls, which come after each commit.
// So the copy never holds what the store does not; it may lag a commit by one loop turn.
//
// Two indexes, group -> users and user -> groups, kept in step: SPEC 4's presence visibility
// asks "do these two users share a group of at most N members?" at each delivery of a
// presence record, which walks the (few) groups of one user.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/records.h"
#include "storage/result.h"

namespace herald::storage {
class SqliteStore;
}

namespace herald::identity {

class GroupMembers {
public:
    // Replaces the whole copy with `members`.
    void assign(const std::vector<storage::GroupMemberRecord>& members);
    // Reads every membership with SqliteStore::exec_now: before start() only.
    storage::Status load(storage::SqliteStore& store);

    bool contains(std::string_view group, std::string_view user) const;
    // The groups `user` is a member of, sorted (a copy: for tests and tools, not the hot path).
    std::vector<std::string> groups_of(std::string_view user) const;
    // Members of `group` (0 if it has none or does not exist).
    size_t size(std::string_view group) const;
    // True when `a` and `b` are both members of some group with at most `limit` members.
    bool share_group_of_at_most(std::string_view a, std::string_view b, size_t limit) const;

    void add(const std::string& group, const std::string& user);
    void remove(const std::string& group, const std::string& user);
    void remove_group(const std::string& group);
    void remove_user(const std::string& user);  // from every group

    size_t groups() const { return members_.size(); }  // groups with at least one member
    size_t memberships() const { return count_; }
    size_t users() const { return groups_of_.size(); }  // users in at least one group

private:
    // Heterogeneous lookup: string_view keys find std::string entries without a copy.
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Names = std::unordered_set<std::string, Hash, std::equal_to<>>;
    using Index = std::unordered_map<std::string, Names, Hash, std::equal_to<>>;
    // Drops `name` from index[key], and index[key] when it becomes empty.
    static void drop(Index& index, std::string_view key, std::string_view name);

    Index members_;    // group -> its users
    Index groups_of_;  // user -> its groups
    size_t count_ = 0;
};

}  // namespace herald::identity
