// Contacts: the symmetric map user -> contacts, and its loading from the store at start.
#include "broker/identity/contacts.h"

#include <algorithm>

#include "storage/store.h"
#include "storage/tables.h"

namespace herald::identity {

void Contacts::assign(const std::vector<std::pair<std::string, std::string>>& pairs) {
    of_.clear();
    pairs_ = 0;
    for (const auto& [a, b] : pairs) add(a, b);
}

storage::Status Contacts::load(storage::SqliteStore& store) {
    std::vector<std::pair<std::string, std::string>> all;
    storage::Status s = store.exec_now([&all](storage::Db& db) {
        auto got = storage::contacts::all_pairs(db);
        if (!got) return got.status();
        all = std::move(got.value());
        return storage::Status{};
    });
    if (s) assign(all);
    return s;
}

bool Contacts::are_contacts(std::string_view a, std::string_view b) const {
    auto it = of_.find(a);
    return it != of_.end() && it->second.find(b) != it->second.end();
}

std::vector<std::string> Contacts::of(std::string_view user) const {
    std::vector<std::string> out;
    auto it = of_.find(user);
    if (it != of_.end()) out.assign(it->second.begin(), it->second.end());
    std::sort(out.begin(), out.end());
    return out;
}

void Contacts::add(const std::string& a, const std::string& b) {
    if (a == b) return;
    if (!of_[a].insert(b).second) return;
    of_[b].insert(a);
    ++pairs_;
}

bool Contacts::drop(std::string_view key, std::string_view name) {
    auto it = of_.find(key);
    if (it == of_.end()) return false;
    auto n = it->second.find(name);
    if (n == it->second.end()) return false;
    it->second.erase(n);
    if (it->second.empty()) of_.erase(it);
    return true;
}

void Contacts::remove(const std::string& a, const std::string& b) {
    if (!drop(a, b)) return;
    drop(b, a);
    --pairs_;
}

void Contacts::remove_user(const std::string& user) {
    auto it = of_.find(user);
    if (it == of_.end()) return;
    Names mine = std::move(it->second);
    of_.erase(it);
    for (const std::string& other : mine) drop(other, user);
    pairs_ -= mine.size();
}

}  // namespace herald::identity
