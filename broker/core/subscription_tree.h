// The subscription tree: topic filters (with '+', '#' and $share groups) -> subscribers.
//
// One node per topic level, so matching a topic costs its depth, not the number of
// subscriptions. A '$'-topic is never matched by a filter whose first level is a wildcard
// [MQTT-4.7.2-1]. Shared subscriptions ($share/{group}/{filter}) are stored under {filter} in a
// named group; matching yields the group once and the broker picks one member.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/mqtt/packets.h"

namespace herald::core {

class Session;

struct SubscriptionEntry {
    Session* session = nullptr;
    mqtt::SubscribeOptions options;
    uint32_t subscription_id = 0;  // 0 = none
};

// The members of one share group under one filter. next_index rotates for round robin.
struct ShareGroup {
    std::string name;
    std::vector<SubscriptionEntry> members;
    size_t next_index = 0;
};

namespace detail {

// The literal children of one tree level (also used by the retained store). Most levels have a
// handful of children, scanned in a small vector; a level with many (users/{name}, one per
// user) gets a hash index on top, so lookups stay O(1) and inserts never shift a big array.
// N must have `std::string level` and `size_t slot` (its position in nodes_, kept up to date
// so that erase is O(1)).
template <class N>
class LevelChildren {
public:
    N* find(std::string_view level) const {
        if (index_) {
            auto it = index_->find(level);
            return it == index_->end() ? nullptr : it->second;
        }
        for (const auto& n : nodes_)
            if (n->level == level) return n.get();
        return nullptr;
    }

    N* insert(std::unique_ptr<N> node) {
        N* raw = node.get();
        raw->slot = nodes_.size();
        nodes_.push_back(std::move(node));
        if (index_) {
            index_->emplace(std::string_view(raw->level), raw);
        } else if (nodes_.size() > kIndexFrom) {
            index_ = std::make_unique<std::unordered_map<std::string_view, N*>>();
            for (const auto& n : nodes_) index_->emplace(std::string_view(n->level), n.get());
        }
        return raw;
    }

    // Destroys `node` (one of ours): swap with the last, pop.
    void erase(N* node) {
        if (index_) index_->erase(std::string_view(node->level));
        size_t slot = node->slot;
        if (slot + 1 != nodes_.size()) {
            std::swap(nodes_[slot], nodes_.back());
            nodes_[slot]->slot = slot;
        }
        nodes_.pop_back();
        if (nodes_.empty()) index_.reset();
    }

    bool empty() const { return nodes_.empty(); }
    size_t size() const { return nodes_.size(); }
    // Iteration, for wildcard walks (callers must not insert/erase while iterating).
    auto begin() const { return nodes_.begin(); }
    auto end() const { return nodes_.end(); }
    // Hands all children over (for iterative teardown of deep trees).
    std::vector<std::unique_ptr<N>> release() {
        index_.reset();
        return std::move(nodes_);
    }

private:
    static constexpr size_t kIndexFrom = 16;
    std::vector<std::unique_ptr<N>> nodes_;
    std::unique_ptr<std::unordered_map<std::string_view, N*>> index_;  // keys view N::level
};

}  // namespace detail

class SubscriptionTree {
public:
    SubscriptionTree();
    ~SubscriptionTree();
    SubscriptionTree(const SubscriptionTree&) = delete;
    SubscriptionTree& operator=(const SubscriptionTree&) = delete;

    // Adds or replaces the subscription of `entry.session` to `filter` (a valid filter, which
    // may be "$share/{group}/{filter}"). Returns true if it did not exist before (retain
    // handling 1 needs to know).
    bool subscribe(std::string_view filter, const SubscriptionEntry& entry);

    // The subscription of `session` to `filter` (as subscribed), or null.
    const SubscriptionEntry* find(std::string_view filter, const Session* session) const;

    // Removes it; returns false if there was none. Empty nodes are pruned.
    bool unsubscribe(std::string_view filter, Session* session);

    // Calls on_entry(const SubscriptionEntry&) for every non-shared subscription whose filter
    // matches `topic`, and on_group(ShareGroup&) once for every share group with a matching
    // filter. A session subscribed by several filters is yielded once per filter; the broker
    // merges them (highest QoS, all subscription ids) [MQTT-3.3.5-1].
    // The callbacks must not subscribe, unsubscribe or match (the matched nodes could be freed,
    // scratch_ is shared).
    // Allocation-free once scratch_ has grown to the largest match.
    template <class OnEntry, class OnGroup>
    void match(std::string_view topic, OnEntry&& on_entry, OnGroup&& on_group);

    size_t size() const { return count_; }  // number of subscriptions (shared included)
    size_t node_count() const;               // nodes below the root (tests: pruning), O(n)

    struct Node;  // public only so that the template below can see it

private:
    void match_level(Node* node, std::string_view topic, size_t level_start, bool first_level,
                     std::vector<Node*>& out);
    Node* find_node(std::string_view filter) const;
    Node* make_node(std::string_view filter);
    void prune(Node* node);
    std::unique_ptr<Node> root_;
    size_t count_ = 0;
    std::vector<Node*> scratch_;  // reused by match(): no allocation per message
};

struct SubscriptionTree::Node {
    std::string level;      // this node's level ("+" and "#" for wildcard nodes, "" at the root)
    Node* parent = nullptr;
    size_t slot = 0;        // position in parent->children (literal levels only)
    detail::LevelChildren<Node> children;  // literal levels
    std::unique_ptr<Node> plus;            // the '+' child, if any
    std::unique_ptr<Node> hash;            // the '#' child, if any (never has children)
    std::vector<SubscriptionEntry> entries;  // subscriptions ending at this node
    std::vector<ShareGroup> groups;          // shared subscriptions ending at this node
    Node* child(std::string_view level);
    bool holds_subscriptions() const { return !entries.empty() || !groups.empty(); }
    bool empty() const { return !holds_subscriptions() && children.empty() && !plus && !hash; }
};

template <class OnEntry, class OnGroup>
void SubscriptionTree::match(std::string_view topic, OnEntry&& on_entry, OnGroup&& on_group) {
    scratch_.clear();
    match_level(root_.get(), topic, 0, true, scratch_);
    for (Node* node : scratch_) {
        for (const auto& e : node->entries) on_entry(e);
        for (auto& g : node->groups) on_group(g);
    }
}

}  // namespace herald::core
