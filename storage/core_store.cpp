// core::Store over SqliteStore: Message <-> RetainedRecord, monotonic <-> wall-clock expiry.
#include "storage/core_store.h"

namespace herald::storage {

uint64_t mono_to_wall(uint64_t expiry_at_mono_ms, const core::Clock& clock) {
    if (expiry_at_mono_ms == 0) return 0;
    int64_t left = static_cast<int64_t>(expiry_at_mono_ms) - static_cast<int64_t>(clock.mono_ms());
    int64_t wall = static_cast<int64_t>(clock.wall_ms()) + left;
    return wall > 0 ? static_cast<uint64_t>(wall) : 1;  // never 0, which would mean "never expires"
}

uint64_t wall_to_mono(uint64_t expiry_at_wall_ms, const core::Clock& clock) {
    if (expiry_at_wall_ms == 0) return 0;
    uint64_t now_wall = clock.wall_ms();
    uint64_t left = expiry_at_wall_ms > now_wall ? expiry_at_wall_ms - now_wall : 0;
    uint64_t mono = clock.mono_ms() + left;
    return mono > 0 ? mono : 1;
}

RetainedRecord to_retained_record(const core::Message& m, const core::Clock& clock) {
    return RetainedRecord{m.topic, m.payload, m.qos, m.props, mono_to_wall(m.expiry_at_mono_ms, clock)};
}

core::Message from_retained_record(RetainedRecord r, const core::Clock& clock) {
    core::Message m;
    m.topic = std::move(r.topic);
    m.payload = r.payload ? std::move(r.payload) : std::make_shared<const std::string>();
    m.qos = r.qos;
    m.retain = true;
    m.props = std::move(r.props);
    m.expiry_at_mono_ms = wall_to_mono(r.expiry_at_wall_ms, clock);
    return m;
}

CoreStore::CoreStore(SqliteStore& store, const core::Clock& clock, std::vector<RetainedRecord> loaded)
    : store_(store), clock_(clock), loaded_(std::move(loaded)) {}

void CoreStore::retained_set(const core::Message& message) {
    store_.retained_set(to_retained_record(message, clock_));
}

void CoreStore::retained_erase(const std::string& topic) { store_.retained_erase(topic); }

std::vector<core::Message> CoreStore::retained_load() {
    std::vector<core::Message> out;
    out.reserve(loaded_.size());
    uint64_t now_wall = clock_.wall_ms();
    for (RetainedRecord& r : loaded_) {
        if (r.expiry_at_wall_ms != 0 && r.expiry_at_wall_ms <= now_wall) continue;
        out.push_back(from_retained_record(std::move(r), clock_));
    }
    loaded_.clear();
    loaded_.shrink_to_fit();
    return out;
}

}  // namespace herald::storage
