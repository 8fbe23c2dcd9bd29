// MQTT 5.0 reason codes (spec 2.4) and their mapping to 3.1.1 return codes.
//
// The broker thinks in 5.0 reason codes everywhere; the 3.1.1 encoder maps them at the edge,
// in one place (connack_code_v311, suback_code_v311).
#pragma once

#include <cstdint>
#include <string_view>

namespace herald::mqtt {

enum class ReasonCode : uint8_t {
    Success = 0x00,  // also Normal disconnection, Granted QoS 0
    GrantedQoS1 = 0x01,
    GrantedQoS2 = 0x02,
    DisconnectWithWill = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QoSNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
};

// 3.1.1 CONNACK return codes (spec 3.1.1, table 3.1).
enum class ConnackCodeV311 : uint8_t {
    Accepted = 0x00,
    UnacceptableProtocolVersion = 0x01,
    IdentifierRejected = 0x02,
    ServerUnavailable = 0x03,
    BadUserNameOrPassword = 0x04,
    NotAuthorized = 0x05,
};

// Maps a 5.0 CONNACK reason code to the closest 3.1.1 return code.
ConnackCodeV311 connack_code_v311(ReasonCode reason);

// Maps a 5.0 SUBACK reason code to 3.1.1: granted QoS stays, every failure becomes 0x80.
uint8_t suback_code_v311(ReasonCode reason);

// A short English name for logs and reason strings ("Quota exceeded").
std::string_view reason_name(ReasonCode reason);

inline bool is_error(ReasonCode reason) { return static_cast<uint8_t>(reason) >= 0x80; }

}  // namespace herald::mqtt
