// CoreStore: core::Store (broker/core/store.h) over a SqliteStore, so that the broker keeps
// its retained messages in the file today; sessions come when core is wired to SqliteStore.
//
// The one translation it owns is time: core keeps expiry as monotonic milliseconds, which
// mean nothing after a restart, so records carry wall-clock expiry and the conversion uses
// the broker's Clock at the moment of each call.
#pragma once

#include <vector>

#include "broker/core/clock.h"
#include "broker/core/message.h"
#include "broker/core/store.h"
#include "storage/store.h"

namespace herald::storage {

class CoreStore final : public core::Store {
public:
    // `loaded` is StartState::retained from SqliteStore::open(); handed out by retained_load().
    CoreStore(SqliteStore& store, const core::Clock& clock, std::vector<RetainedRecord> loaded);

    void retained_set(const core::Message& message) override;
    void retained_erase(const std::string& topic) override;
    // The messages loaded at open(), minus those expired since; once (later calls: empty).
    std::vector<core::Message> retained_load() override;

private:
    SqliteStore& store_;
    const core::Clock& clock_;
    std::vector<RetainedRecord> loaded_;
};

// The conversions, exposed for the session wiring and for tests.
uint64_t mono_to_wall(uint64_t expiry_at_mono_ms, const core::Clock& clock);  // 0 stays 0
uint64_t wall_to_mono(uint64_t expiry_at_wall_ms, const core::Clock& clock);  // 0 stays 0; past -> now
RetainedRecord to_retained_record(const core::Message& message, const core::Clock& clock);
core::Message from_retained_record(RetainedRecord record, const core::Clock& clock);

}  // namespace herald::storage
