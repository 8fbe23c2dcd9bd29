// Helpers the table files share to put message fields into a row and take them out again:
// properties as a blob (NULL when none persist), payloads as shared strings.
#pragma once

#include <memory>
#include <string>

#include "storage/db.h"
#include "broker/mqtt/packets.h"
#include "storage/properties_blob.h"

namespace herald::storage::detail {

// Binds the properties blob of `props` at `index`, encoded into `scratch` (which must live
// until the query's last step); NULL when no persisted property is set.
inline void bind_props(Query& q, int index, const mqtt::Properties& props, std::string& scratch) {
    scratch.clear();
    encode_properties_blob(props, scratch);
    if (scratch.empty()) q.bind_null(index);
    else q.bind_blob(index, scratch);
}

// A damaged blob loses its properties but not the message (logged by nobody: it cannot
// happen short of a corrupt file, which SQLite reports on its own).
inline mqtt::Properties column_props(const Query& q, int column) {
    mqtt::Properties props;
    if (!q.is_null(column) && !decode_properties_blob(q.view(column), props)) props = {};
    return props;
}

inline mqtt::SharedPayload column_payload(const Query& q, int column) {
    return std::make_shared<const std::string>(q.view(column));
}

inline std::string_view payload_view(const mqtt::SharedPayload& p) {
    return p ? std::string_view(*p) : std::string_view();
}

}  // namespace herald::storage::detail
