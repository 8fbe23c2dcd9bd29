// Retained messages: topic -> last retained message, matched against a new subscription's filter.
//
// A tree by topic level, so that a filter walk visits only the matching branches. Setting an
// empty payload deletes (the caller decides; this class just stores). Expired messages are
// skipped at match time and dropped lazily.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker/core/message.h"

namespace herald::core {

class RetainedStore {
public:
    RetainedStore();
    ~RetainedStore();
    RetainedStore(const RetainedStore&) = delete;
    RetainedStore& operator=(const RetainedStore&) = delete;

    void set(MessagePtr message);          // replaces any message on message->topic
    bool erase(std::string_view topic);   // true if there was one

    // Calls visit(const MessagePtr&) for every retained message whose topic matches `filter`
    // (a valid non-shared filter), skipping messages expired at now_mono_ms. '$' topics are not
    // matched by a leading wildcard.
    void match(std::string_view filter, uint64_t now_mono_ms,
               const std::function<void(const MessagePtr&)>& visit) const;

    // Drops every message expired at now_mono_ms (match() only skips them, being const);
    // the broker calls this now and then. Returns how many were dropped.
    size_t expire(uint64_t now_mono_ms);

    size_t size() const { return count_; }
    size_t node_count() const;  // nodes below the root (tests: pruning), O(n)

    struct Node;

private:
    Node* find_node(std::string_view topic) const;
    void prune(Node* node);
    std::unique_ptr<Node> root_;
    size_t count_ = 0;
};

}  // namespace herald::core
