// Reason codes in one place: names, the 3.1.1 mappings, and which codes each 5.0 packet may
// carry (spec 2.4 and the reason code table of each packet).
#include "broker/mqtt/reason_codes.h"

#include <initializer_list>

#include "broker/mqtt/detail/decode_parts.h"

namespace herald::mqtt {

ConnackCodeV311 connack_code_v311(ReasonCode reason) {
    switch (reason) {
        case ReasonCode::Success: return ConnackCodeV311::Accepted;
        case ReasonCode::UnsupportedProtocolVersion: return ConnackCodeV311::UnacceptableProtocolVersion;
        case ReasonCode::ClientIdentifierNotValid: return ConnackCodeV311::IdentifierRejected;
        case ReasonCode::BadUserNameOrPassword: return ConnackCodeV311::BadUserNameOrPassword;
        // 3.1.1 has no enhanced authentication; mosquitto answers a bad method as not authorized.
        case ReasonCode::NotAuthorized:
        case ReasonCode::Banned:
        case ReasonCode::BadAuthenticationMethod: return ConnackCodeV311::NotAuthorized;
        default: return ConnackCodeV311::ServerUnavailable;
    }
}

uint8_t suback_code_v311(ReasonCode reason) {
    uint8_t code = static_cast<uint8_t>(reason);
    return code <= 0x02 ? code : 0x80;
}

std::string_view reason_name(ReasonCode reason) {
    switch (reason) {
        case ReasonCode::Success: return "Success";
        case ReasonCode::GrantedQoS1: return "Granted QoS 1";
        case ReasonCode::GrantedQoS2: return "Granted QoS 2";
        case ReasonCode::DisconnectWithWill: return "Disconnect with Will Message";
        case ReasonCode::NoMatchingSubscribers: return "No matching subscribers";
        case ReasonCode::NoSubscriptionExisted: return "No subscription existed";
        case ReasonCode::ContinueAuthentication: return "Continue authentication";
        case ReasonCode::ReAuthenticate: return "Re-authenticate";
        case ReasonCode::UnspecifiedError: return "Unspecified error";
        case ReasonCode::MalformedPacket: return "Malformed Packet";
        case ReasonCode::ProtocolError: return "Protocol Error";
        case ReasonCode::ImplementationSpecificError: return "Implementation specific error";
        case ReasonCode::UnsupportedProtocolVersion: return "Unsupported Protocol Version";
        case ReasonCode::ClientIdentifierNotValid: return "Client Identifier not valid";
        case ReasonCode::BadUserNameOrPassword: return "Bad User Name or Password";
        case ReasonCode::NotAuthorized: return "Not authorized";
        case ReasonCode::ServerUnavailable: return "Server unavailable";
        case ReasonCode::ServerBusy: return "Server busy";
        case ReasonCode::Banned: return "Banned";
        case ReasonCode::ServerShuttingDown: return "Server shutting down";
        case ReasonCode::BadAuthenticationMethod: return "Bad authentication method";
        case ReasonCode::KeepAliveTimeout: return "Keep Alive timeout";
        case ReasonCode::SessionTakenOver: return "Session taken over";
        case ReasonCode::TopicFilterInvalid: return "Topic Filter invalid";
        case ReasonCode::TopicNameInvalid: return "Topic Name invalid";
        case ReasonCode::PacketIdentifierInUse: return "Packet Identifier in use";
        case ReasonCode::PacketIdentifierNotFound: return "Packet Identifier not found";
        case ReasonCode::ReceiveMaximumExceeded: return "Receive Maximum exceeded";
        case ReasonCode::TopicAliasInvalid: return "Topic Alias invalid";
        case ReasonCode::PacketTooLarge: return "Packet too large";
        case ReasonCode::MessageRateTooHigh: return "Message rate too high";
        case ReasonCode::QuotaExceeded: return "Quota exceeded";
        case ReasonCode::AdministrativeAction: return "Administrative action";
        case ReasonCode::PayloadFormatInvalid: return "Payload format invalid";
        case ReasonCode::RetainNotSupported: return "Retain not supported";
        case ReasonCode::QoSNotSupported: return "QoS not supported";
        case ReasonCode::UseAnotherServer: return "Use another server";
        case ReasonCode::ServerMoved: return "Server moved";
        case ReasonCode::SharedSubscriptionsNotSupported: return "Shared Subscriptions not supported";
        case ReasonCode::ConnectionRateExceeded: return "Connection rate exceeded";
        case ReasonCode::MaximumConnectTime: return "Maximum connect time";
        case ReasonCode::SubscriptionIdentifiersNotSupported: return "Subscription Identifiers not supported";
        case ReasonCode::WildcardSubscriptionsNotSupported: return "Wildcard Subscriptions not supported";
    }
    return "Unknown reason code";
}

namespace detail {
namespace {

bool in(uint8_t code, std::initializer_list<uint8_t> set) {
    for (uint8_t c : set)
        if (c == code) return true;
    return false;
}

}  // namespace

bool reason_allowed(PacketType type, uint8_t code) {
    switch (type) {
        case PacketType::Connack:  // spec 3.2.2.2
            return in(code, {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
                             0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F});
        case PacketType::Puback:  // spec 3.4.2.1, 3.5.2.1
        case PacketType::Pubrec:
            return in(code, {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99});
        case PacketType::Pubrel:  // spec 3.6.2.1, 3.7.2.1
        case PacketType::Pubcomp: return code == 0x00 || code == 0x92;
        case PacketType::Suback:  // spec 3.9.3
            return in(code, {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2});
        case PacketType::Unsuback:  // spec 3.11.3
            return in(code, {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91});
        case PacketType::Disconnect:  // spec 3.14.2.1
            return in(code, {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F,
                             0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D,
                             0x9E, 0x9F, 0xA0, 0xA1, 0xA2});
        case PacketType::Auth: return code == 0x00 || code == 0x18 || code == 0x19;  // spec 3.15.2.1
        default: return false;
    }
}

const char* packet_name(PacketType type) {
    switch (type) {
        case PacketType::Connect: return "CONNECT";
        case PacketType::Connack: return "CONNACK";
        case PacketType::Publish: return "PUBLISH";
        case PacketType::Puback: return "PUBACK";
        case PacketType::Pubrec: return "PUBREC";
        case PacketType::Pubrel: return "PUBREL";
        case PacketType::Pubcomp: return "PUBCOMP";
        case PacketType::Subscribe: return "SUBSCRIBE";
        case PacketType::Suback: return "SUBACK";
        case PacketType::Unsubscribe: return "UNSUBSCRIBE";
        case PacketType::Unsuback: return "UNSUBACK";
        case PacketType::Pingreq: return "PINGREQ";
        case PacketType::Pingresp: return "PINGRESP";
        case PacketType::Disconnect: return "DISCONNECT";
        case PacketType::Auth: return "AUTH";
    }
    return "packet type 0";
}

std::string hex_byte(uint8_t b) {
    static constexpr char digits[] = "0123456789ABCDEF";
    return std::string{'0', 'x', digits[b >> 4], digits[b & 0xF]};
}

}  // namespace detail
}  // namespace herald::mqtt
