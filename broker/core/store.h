// The Store interface: what core persists. In this issue only an in-memory implementation
// exists (MemoryStore, which keeps nothing); the SQLite store plugs in here later.
//
// Core calls it from the loop thread; an implementation must not block (it posts to its own
// writer thread). Records, never Session& (STYLE 9).
#pragma once

#include <string>
#include <vector>

#include "broker/core/message.h"

namespace herald::core {

class Store {
public:
    virtual ~Store() = default;
    // Retained messages: set replaces, erase removes; load is called once at start.
    virtual void retained_set(const Message& message) = 0;
    virtual void retained_erase(const std::string& topic) = 0;
    virtual std::vector<Message> retained_load() = 0;
};

// Keeps nothing: retained messages and sessions live only in the broker's memory.
class MemoryStore final : public Store {
public:
    void retained_set(const Message&) override {}
    void retained_erase(const std::string&) override {}
    std::vector<Message> retained_load() override { return {}; }
};

}  // namespace herald::core
