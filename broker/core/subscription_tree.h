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

    // Removes it; returns false if there was none. Empty nodes are pruned.
    bool unsubscribe(std::string_view filter, Session* session);

    // Calls on_entry(const SubscriptionEntry&) for every non-shared subscription whose filter
    // matches `topic`, and on_group(ShareGroup&) once for every share group with a matching
    // filter. A session subscribed by several filters is yielded once per filter; the broker
    // merges them (highest QoS, all subscription ids) [MQTT-3.3.5-1].
    template <class OnEntry, class OnGroup>
    void match(std::string_view topic, OnEntry&& on_entry, OnGroup&& on_group);

    size_t size() const { return count_; }  // number of subscriptions (shared included)

    struct Node;  // public only so that the template below can see it

private:
    void match_level(Node* node, std::string_view topic, size_t level_start, bool first_level,
                     std::vector<Node*>& out);
    std::unique_ptr<Node> root_;
    size_t count_ = 0;
    std::vector<Node*> scratch_;  // reused by match(): no allocation per message
};

struct SubscriptionTree::Node {
    std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;  // by level, '+' and '#' included
    std::vector<SubscriptionEntry> entries;  // subscriptions ending at this node
    std::vector<ShareGroup> groups;          // shared subscriptions ending at this node
    Node* child(std::string_view level);
};

template <class OnEntry, class OnGroup>
void SubscriptionTree::match(std::string_view topic, OnEntry&& on_entry, OnGroup&& on_group) {
    scratch_.clear();
    match_level(root_.get(), topic, 0, true, scratch_);
    // Copy the node list: callbacks must not change the tree, but may call match() again
    // (never do), so keep it simple and safe.
    for (Node* node : scratch_) {
        for (const auto& e : node->entries) on_entry(e);
        for (auto& g : node->groups) on_group(g);
    }
}

}  // namespace herald::core
