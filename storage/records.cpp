// The text and byte forms of record enums as they are stored: these strings and bit
// positions are on disk, so they must not change (a new value needs a migration).
#include "storage/records.h"

namespace herald::storage {

const char* role_name(Role role) { return role == Role::Admin ? "admin" : "user"; }

std::optional<Role> parse_role(std::string_view text) {
    if (text == "admin") return Role::Admin;
    if (text == "user") return Role::User;
    return std::nullopt;
}

uint8_t pack_options(const mqtt::SubscribeOptions& o) {
    return static_cast<uint8_t>((o.qos & 3u) | (o.no_local ? 4u : 0u) | (o.retain_as_published ? 8u : 0u) |
                                ((o.retain_handling & 3u) << 4));
}

mqtt::SubscribeOptions unpack_options(uint8_t b) {
    mqtt::SubscribeOptions o;
    o.qos = b & 3u;
    o.no_local = (b & 4u) != 0;
    o.retain_as_published = (b & 8u) != 0;
    o.retain_handling = (b >> 4) & 3u;
    return o;
}

const char* state_name(MessageState state) {
    switch (state) {
        case MessageState::Queued: return "queued";
        case MessageState::InflightPublish: return "inflight_publish";
        case MessageState::InflightPubrel: return "inflight_pubrel";
    }
    return "queued";
}

std::optional<MessageState> parse_state(std::string_view text) {
    if (text == "queued") return MessageState::Queued;
    if (text == "inflight_publish") return MessageState::InflightPublish;
    if (text == "inflight_pubrel") return MessageState::InflightPubrel;
    return std::nullopt;
}

}  // namespace herald::storage
