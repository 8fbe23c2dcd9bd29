// The broker's in-memory copy of the contacts table (SPEC 4): presence visibility "contacts"
// asks "are these two users contacts?" at each delivery of a presence record, so the answer
// comes from memory, at once, never from the store.
//
// Contacts are symmetric: a pair is kept under both names, so a lookup is one hash find and
// deleting a user finds its pairs without a scan. Loaded synchronously at start (before the
// store's writer thread starts), then kept current on the loop thread by the admin API's
// ChangeListener calls after each commit, as GroupMembers is.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/result.h"

namespace herald::storage {
class SqliteStore;
}

namespace herald::identity {

class Contacts {
public:
    // Replaces the whole copy with `pairs` (either order in each pair).
    void assign(const std::vector<std::pair<std::string, std::string>>& pairs);
    // Reads every pair with SqliteStore::exec_now: before start() only.
    storage::Status load(storage::SqliteStore& store);

    bool are_contacts(std::string_view a, std::string_view b) const;
    // The contacts of `user`, sorted (a copy: for tests and tools, not the hot path).
    std::vector<std::string> of(std::string_view user) const;

    void add(const std::string& a, const std::string& b);  // a == b is ignored; twice is once
    void remove(const std::string& a, const std::string& b);
    void remove_user(const std::string& user);  // every pair it is in

    size_t pairs() const { return pairs_; }
    size_t users() const { return of_.size(); }  // users with at least one contact

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Names = std::unordered_set<std::string, Hash, std::equal_to<>>;
    // Drops `name` from of_[key], and of_[key] when it becomes empty; true if it was there.
    bool drop(std::string_view key, std::string_view name);

    std::unordered_map<std::string, Names, Hash, std::equal_to<>> of_;  // user -> its contacts
    size_t pairs_ = 0;
};

}  // namespace herald::identity
