// Retained messages in a tree by topic level, walked along a subscription filter.
//
// A new subscription visits only the branches its filter can match: a literal level follows
// one child, '+' every child, '#' the whole subtree (and the level above it). Nodes that hold
// neither a message nor children are pruned, so the tree never outgrows the retained set.
#include "broker/core/retained_store.h"

#include "broker/core/subscription_tree.h"  // detail::LevelChildren

namespace herald::core {

struct RetainedStore::Node {
    std::string level;
    Node* parent = nullptr;
    size_t slot = 0;  // position in parent->children
    detail::LevelChildren<Node> children;
    MessagePtr message;  // null when only an inner level
};

namespace {

using Node = RetainedStore::Node;
using Visit = std::function<void(const MessagePtr&)>;

bool expired(const Message& m, uint64_t now) {
    return m.expiry_at_mono_ms != 0 && m.expiry_at_mono_ms <= now;
}

bool is_dollar(const Node& n) { return !n.level.empty() && n.level[0] == '$'; }

// Every message at `node` and below. Under a leading '#', '$' topics are skipped
// [MQTT-4.7.2-1]: skip_dollar is set only for the root's children.
void visit_subtree(const Node* node, uint64_t now, const Visit& visit, bool skip_dollar) {
    if (node->message && !expired(*node->message, now)) visit(node->message);
    for (const auto& c : node->children) {
        if (skip_dollar && is_dollar(*c)) continue;
        visit_subtree(c.get(), now, visit, false);
    }
}

// `node` stands for the filter levels before `start`; start past the end means all consumed.
void walk(const Node* node, std::string_view filter, size_t start, uint64_t now,
          const Visit& visit) {
    bool first = start == 0;
    if (start > filter.size()) {
        if (node->message && !expired(*node->message, now)) visit(node->message);
        return;
    }
    size_t slash = filter.find('/', start);
    if (slash == std::string_view::npos) slash = filter.size();
    std::string_view level = filter.substr(start, slash - start);
    size_t next = slash + 1;
    if (level == "#") {
        visit_subtree(node, now, visit, first);  // includes this node: "a/#" matches "a"
    } else if (level == "+") {
        for (const auto& c : node->children) {
            if (first && is_dollar(*c)) continue;
            walk(c.get(), filter, next, now, visit);
        }
    } else if (const Node* c = node->children.find(level)) {
        walk(c, filter, next, now, visit);
    }
}

// Iterative teardown of a subtree: topics may be thousands of levels deep.
void destroy(std::unique_ptr<Node> root) {
    std::vector<std::unique_ptr<Node>> pending;
    pending.push_back(std::move(root));
    while (!pending.empty()) {
        std::unique_ptr<Node> n = std::move(pending.back());
        pending.pop_back();
        for (auto& c : n->children.release()) pending.push_back(std::move(c));
    }
}

}  // namespace

RetainedStore::RetainedStore() : root_(std::make_unique<Node>()) {}

RetainedStore::~RetainedStore() { destroy(std::move(root_)); }

RetainedStore::Node* RetainedStore::find_node(std::string_view topic) const {
    Node* node = root_.get();
    size_t start = 0;
    for (;;) {
        size_t slash = topic.find('/', start);
        size_t end = slash == std::string_view::npos ? topic.size() : slash;
        node = node->children.find(topic.substr(start, end - start));
        if (!node || slash == std::string_view::npos) return node;
        start = slash + 1;
    }
}

void RetainedStore::prune(Node* node) {
    while (node != root_.get() && !node->message && node->children.empty()) {
        Node* parent = node->parent;
        parent->children.erase(node);
        node = parent;
    }
}

void RetainedStore::set(MessagePtr message) {
    if (!message) return;
    std::string_view topic = message->topic;
    Node* node = root_.get();
    size_t start = 0;
    for (;;) {
        size_t slash = topic.find('/', start);
        size_t end = slash == std::string_view::npos ? topic.size() : slash;
        std::string_view level = topic.substr(start, end - start);
        Node* next = node->children.find(level);
        if (!next) {
            auto fresh = std::make_unique<Node>();
            fresh->level = std::string(level);
            fresh->parent = node;
            next = node->children.insert(std::move(fresh));
        }
        node = next;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    if (!node->message) ++count_;
    node->message = std::move(message);
}

bool RetainedStore::erase(std::string_view topic) {
    Node* node = find_node(topic);
    if (!node || !node->message) return false;
    node->message.reset();
    --count_;
    prune(node);
    return true;
}

void RetainedStore::match(std::string_view filter, uint64_t now_mono_ms,
                          const std::function<void(const MessagePtr&)>& visit) const {
    walk(root_.get(), filter, 0, now_mono_ms, visit);
}

size_t RetainedStore::node_count() const {
    size_t n = 0;
    std::vector<const Node*> pending{root_.get()};
    while (!pending.empty()) {
        const Node* node = pending.back();
        pending.pop_back();
        for (const auto& c : node->children) pending.push_back(c.get());
        ++n;
    }
    return n - 1;
}

size_t RetainedStore::expire(uint64_t now_mono_ms) {
    // Collect first, then erase: erasing prunes nodes, which would upset the walk.
    std::vector<std::string> dead;
    std::vector<const Node*> pending{root_.get()};
    while (!pending.empty()) {
        const Node* n = pending.back();
        pending.pop_back();
        if (n->message && expired(*n->message, now_mono_ms)) dead.push_back(n->message->topic);
        for (const auto& c : n->children) pending.push_back(c.get());
    }
    for (const auto& topic : dead) erase(topic);
    return dead.size();
}

}  // namespace herald::core
