// MQTT control packets as plain values, for both protocol versions (3.1.1 and 5.0).
//
// These are what the codec produces and consumes. They carry no I/O and no broker state;
// the 3.1.1 forms are the 5.0 forms with properties and reason codes left empty/zero.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "broker/mqtt/properties.h"
#include "broker/mqtt/reason_codes.h"

namespace herald::mqtt {

enum class PacketType : uint8_t {
    Connect = 1,
    Connack = 2,
    Publish = 3,
    Puback = 4,
    Pubrec = 5,
    Pubrel = 6,
    Pubcomp = 7,
    Subscribe = 8,
    Suback = 9,
    Unsubscribe = 10,
    Unsuback = 11,
    Pingreq = 12,
    Pingresp = 13,
    Disconnect = 14,
    Auth = 15,  // 5.0 only
};

// The protocol level byte of CONNECT. 3 (MQTT 3.1, "MQIsdp") is recognised only to refuse it.
enum class ProtocolVersion : uint8_t {
    V311 = 4,
    V5 = 5,
};

struct Will {
    std::string topic;
    std::string payload;  // binary
    uint8_t qos = 0;
    bool retain = false;
    Properties props;  // will properties (5.0): delay, expiry, content type, ...
};

struct Connect {
    ProtocolVersion version = ProtocolVersion::V311;
    bool clean_start = true;  // "clean session" in 3.1.1
    uint16_t keep_alive = 0;  // seconds
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;  // binary
    std::optional<Will> will;
    Properties props;
};

struct Connack {
    bool session_present = false;
    // 5.0 reason code; for 3.1.1 the encoder maps it to the 3.1.1 return code
    // (see reason_codes.h, connack_code_v311).
    ReasonCode reason = ReasonCode::Success;
    Properties props;
};

// The payload is shared: one received PUBLISH is delivered to many subscribers without a copy.
using SharedPayload = std::shared_ptr<const std::string>;

struct Publish {
    uint8_t qos = 0;
    bool retain = false;
    bool dup = false;
    std::string topic;       // may be empty in 5.0 when a topic alias is used
    uint16_t packet_id = 0;  // 0 for QoS 0
    Properties props;
    SharedPayload payload;  // never null after decode (empty string for an empty payload)
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape.
struct Ack {
    PacketType type = PacketType::Puback;
    uint16_t packet_id = 0;
    ReasonCode reason = ReasonCode::Success;
    Properties props;
};

struct SubscribeOptions {
    uint8_t qos = 0;
    bool no_local = false;             // 5.0
    bool retain_as_published = false;  // 5.0
    uint8_t retain_handling = 0;       // 5.0: 0 send, 1 send if new subscription, 2 do not send
};

struct Subscription {
    std::string filter;
    SubscribeOptions options;
};

struct Subscribe {
    uint16_t packet_id = 0;
    Properties props;  // subscription identifier, user properties
    std::vector<Subscription> subscriptions;
};

struct Suback {
    uint16_t packet_id = 0;
    Properties props;
    // 5.0 reason codes; 3.1.1 encodes 0x00..0x02 as is and anything >= 0x80 as 0x80.
    std::vector<ReasonCode> reasons;
};

struct Unsubscribe {
    uint16_t packet_id = 0;
    Properties props;
    std::vector<std::string> filters;
};

struct Unsuback {
    uint16_t packet_id = 0;
    Properties props;
    std::vector<ReasonCode> reasons;  // not encoded for 3.1.1
};

struct Pingreq {};
struct Pingresp {};

struct Disconnect {
    ReasonCode reason = ReasonCode::Success;  // 5.0 only; 3.1.1 DISCONNECT is empty
    Properties props;
};

struct Auth {
    ReasonCode reason = ReasonCode::Success;
    Properties props;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe, Unsuback,
                            Pingreq, Pingresp, Disconnect, Auth>;

}  // namespace herald::mqtt
