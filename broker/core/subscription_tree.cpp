// The subscription tree: insertion, removal with pruning, and the level-by-level match walk.
//
// The walk is the broker's fast path (once per PUBLISH): it recurses only into the children
// that can match (the literal level, '+' and '#'), collects the matching nodes into a reused
// vector and never allocates. It does its own level splitting and "$share/" parsing rather
// than calling mqtt::topic_matches per subscription.
#include "broker/core/subscription_tree.h"

#include <algorithm>

namespace herald::core {

namespace {

constexpr std::string_view kSharePrefix = "$share/";

// "$share/{group}/{filter}" -> group, filter. The filter was validated by the caller.
bool parse_shared(std::string_view filter, std::string_view& group, std::string_view& real) {
    if (filter.substr(0, kSharePrefix.size()) != kSharePrefix) return false;
    std::string_view rest = filter.substr(kSharePrefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return false;
    group = rest.substr(0, slash);
    real = rest.substr(slash + 1);
    return true;
}

// Calls f(level) for each '/'-separated level of `s` ("a//b" has an empty middle level);
// stops early when f returns false. Returns false if stopped.
template <class F>
bool for_each_level(std::string_view s, F&& f) {
    size_t start = 0;
    for (;;) {
        size_t slash = s.find('/', start);
        std::string_view level =
            s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (!f(level)) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

}  // namespace

SubscriptionTree::Node* SubscriptionTree::Node::child(std::string_view lvl) {
    if (lvl == "+") return plus.get();
    if (lvl == "#") return hash.get();
    return children.find(lvl);
}

SubscriptionTree::SubscriptionTree() : root_(std::make_unique<Node>()) {}

// Iterative teardown: a client may subscribe to a filter with thousands of levels, and the
// default recursive unique_ptr destruction would then recurse that deep.
SubscriptionTree::~SubscriptionTree() {
    std::vector<std::unique_ptr<Node>> pending;
    pending.push_back(std::move(root_));
    while (!pending.empty()) {
        std::unique_ptr<Node> n = std::move(pending.back());
        pending.pop_back();
        for (auto& c : n->children.release()) pending.push_back(std::move(c));
        if (n->plus) pending.push_back(std::move(n->plus));
        if (n->hash) pending.push_back(std::move(n->hash));
    }
}

SubscriptionTree::Node* SubscriptionTree::find_node(std::string_view filter) const {
    Node* node = root_.get();
    for_each_level(filter, [&](std::string_view level) {
        node = node->child(level);
        return node != nullptr;
    });
    return node;
}

SubscriptionTree::Node* SubscriptionTree::make_node(std::string_view filter) {
    Node* node = root_.get();
    for_each_level(filter, [&](std::string_view level) {
        Node* next = node->child(level);
        if (!next) {
            auto fresh = std::make_unique<Node>();
            fresh->level = std::string(level);
            fresh->parent = node;
            if (level == "+") {
                node->plus = std::move(fresh);
                next = node->plus.get();
            } else if (level == "#") {
                node->hash = std::move(fresh);
                next = node->hash.get();
            } else {
                next = node->children.insert(std::move(fresh));
            }
        }
        node = next;
        return true;
    });
    return node;
}

// Removes `node` and its ancestors for as long as they hold nothing.
void SubscriptionTree::prune(Node* node) {
    while (node != root_.get() && node->empty()) {
        Node* parent = node->parent;
        if (parent->plus.get() == node) {
            parent->plus.reset();
        } else if (parent->hash.get() == node) {
            parent->hash.reset();
        } else {
            parent->children.erase(node);
        }
        node = parent;
    }
}

bool SubscriptionTree::subscribe(std::string_view filter, const SubscriptionEntry& entry) {
    std::string_view group_name, real;
    bool shared = parse_shared(filter, group_name, real);
    Node* node = make_node(shared ? real : filter);
    std::vector<SubscriptionEntry>* list = &node->entries;
    if (shared) {
        auto g = std::find_if(node->groups.begin(), node->groups.end(),
                              [&](const ShareGroup& x) { return x.name == group_name; });
        if (g == node->groups.end()) {
            node->groups.push_back(ShareGroup{std::string(group_name), {}, 0});
            g = node->groups.end() - 1;
        }
        list = &g->members;
    }
    for (auto& e : *list) {
        if (e.session == entry.session) {
            e = entry;  // same session, same filter: new options and id [MQTT-3.8.4-3]
            return false;
        }
    }
    list->push_back(entry);
    ++count_;
    return true;
}

const SubscriptionEntry* SubscriptionTree::find(std::string_view filter,
                                                const Session* session) const {
    std::string_view group_name, real;
    bool shared = parse_shared(filter, group_name, real);
    const Node* node = find_node(shared ? real : filter);
    if (!node) return nullptr;
    const std::vector<SubscriptionEntry>* list = &node->entries;
    if (shared) {
        auto g = std::find_if(node->groups.begin(), node->groups.end(),
                              [&](const ShareGroup& x) { return x.name == group_name; });
        if (g == node->groups.end()) return nullptr;
        list = &g->members;
    }
    for (const auto& e : *list)
        if (e.session == session) return &e;
    return nullptr;
}

bool SubscriptionTree::unsubscribe(std::string_view filter, Session* session) {
    std::string_view group_name, real;
    bool shared = parse_shared(filter, group_name, real);
    Node* node = find_node(shared ? real : filter);
    if (!node) return false;
    auto drop = [&](std::vector<SubscriptionEntry>& list) {
        auto it = std::find_if(list.begin(), list.end(),
                               [&](const SubscriptionEntry& e) { return e.session == session; });
        if (it == list.end()) return false;
        list.erase(it);
        return true;
    };
    if (!shared) {
        if (!drop(node->entries)) return false;
    } else {
        auto g = std::find_if(node->groups.begin(), node->groups.end(),
                              [&](const ShareGroup& x) { return x.name == group_name; });
        if (g == node->groups.end() || !drop(g->members)) return false;
        if (g->members.empty()) {
            node->groups.erase(g);
        } else if (g->next_index >= g->members.size()) {
            g->next_index = 0;  // keep the round robin cursor in range
        }
    }
    --count_;
    prune(node);
    return true;
}

size_t SubscriptionTree::node_count() const {
    size_t n = 0;
    std::vector<const Node*> pending{root_.get()};
    while (!pending.empty()) {
        const Node* node = pending.back();
        pending.pop_back();
        for (const auto& c : node->children) pending.push_back(c.get());
        if (node->plus) pending.push_back(node->plus.get());
        if (node->hash) pending.push_back(node->hash.get());
        ++n;
    }
    return n - 1;
}

// `node` stands for filter levels that matched the topic's levels before `start`. start past
// the end of the topic means every level has been consumed.
void SubscriptionTree::match_level(Node* node, std::string_view topic, size_t start,
                                   bool first_level, std::vector<Node*>& out) {
    if (start > topic.size()) {
        if (node->holds_subscriptions()) out.push_back(node);
        // "a/#" also matches "a": '#' includes the parent level (spec 4.7.1.2).
        if (node->hash) out.push_back(node->hash.get());
        return;
    }
    size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) slash = topic.size();
    std::string_view level = topic.substr(start, slash - start);
    size_t next = slash + 1;
    // A leading wildcard never matches a '$' topic [MQTT-4.7.2-1].
    bool wildcards = !(first_level && !level.empty() && level[0] == '$');
    if (wildcards) {
        if (node->hash) out.push_back(node->hash.get());
        if (node->plus) match_level(node->plus.get(), topic, next, false, out);
    }
    if (Node* c = node->children.find(level)) match_level(c, topic, next, false, out);
}

}  // namespace herald::core
