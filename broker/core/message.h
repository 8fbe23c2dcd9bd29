// An application message as routed inside the broker: one value shared by every delivery.
//
// Built once per received PUBLISH (or will, or $SYS update) and held by shared pointer in
// session queues, inflight windows and the retained store, so fan-out never copies a payload.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/mqtt/packets.h"

namespace herald::core {

struct Message {
    std::string topic;
    mqtt::SharedPayload payload;  // never null
    uint8_t qos = 0;              // QoS as published
    bool retain = false;          // retain flag as published
    // Properties forwarded to receivers: payload format, content type, response topic,
    // correlation data, user properties. Never topic alias or subscription identifiers;
    // message expiry is recomputed from expiry_at_mono_ms at each delivery.
    mqtt::Properties props;
    uint64_t expiry_at_mono_ms = 0;  // 0 = never expires
    uint64_t origin_id = 0;          // id of the publishing session (for no-local); 0 = broker
    uint64_t stream_seq = 0;         // its seq in its user/group stream (SPEC 5); 0 = not stored there
};

using MessagePtr = std::shared_ptr<const Message>;

}  // namespace herald::core
