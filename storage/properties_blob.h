// The on-disk form of a message's properties: a compact blob in the MQTT 5.0 property
// encoding (spec 2.2.2.2: identifier byte, then the value in its wire type), without the
// leading length.
//
// Only what a stored message needs again persists: payload format indicator, content type,
// response topic, correlation data, subscription identifiers (of a queued delivery) and user
// properties, in that order. Message expiry is stored as an absolute time in its own column
// and recomputed at delivery; a topic alias never outlives its connection. Using the wire
// encoding keeps the format fixed by the MQTT spec (it must not change: rows written by an
// older heraldd are read back with it); the codec does not export its property writer, so
// this file writes the few persisted properties itself.
#pragma once

#include <string>
#include <string_view>

#include "broker/mqtt/properties.h"

namespace herald::storage {

// Appends the blob of `props` to `out` (nothing when no persisted property is set).
void encode_properties_blob(const mqtt::Properties& props, std::string& out);

// Reads a blob written by encode_properties_blob into `props`. False for a blob that does not
// parse (a damaged row); `props` then holds what was read before the damage.
bool decode_properties_blob(std::string_view blob, mqtt::Properties& props);

}  // namespace herald::storage
