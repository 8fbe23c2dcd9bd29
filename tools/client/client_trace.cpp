// The packet trace behind `-d`: one line per packet, in mosquitto_pub/sub's wording so that
// people who know those tools can read it. Built only when a trace callback is set.
#include <fmt/format.h>

#include <type_traits>

#include "tools/client/client.h"

namespace herald::tools {

namespace {

std::string describe(const mqtt::Packet& packet) {
    return std::visit(
        [](const auto& p) -> std::string {
            using T = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<T, mqtt::Connect>) {
                return fmt::format("CONNECT (v{}, c{}, k{}, id '{}'{}{})", uint8_t(p.version), p.clean_start ? 1 : 0,
                                   p.keep_alive, p.client_id, p.username ? ", u '" + *p.username + "'" : "",
                                   p.will ? ", will '" + p.will->topic + "'" : "");
            } else if constexpr (std::is_same_v<T, mqtt::Connack>) {
                return fmt::format("CONNACK ({})", uint8_t(p.reason));
            } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
                return fmt::format("PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))", p.dup ? 1 : 0, p.qos,
                                   p.retain ? 1 : 0, p.packet_id, p.topic, p.payload ? p.payload->size() : 0);
            } else if constexpr (std::is_same_v<T, mqtt::Ack>) {
                const char* name = p.type == mqtt::PacketType::Puback   ? "PUBACK"
                                   : p.type == mqtt::PacketType::Pubrec ? "PUBREC"
                                   : p.type == mqtt::PacketType::Pubrel ? "PUBREL"
                                                                        : "PUBCOMP";
                return fmt::format("{} (m{}, rc{})", name, p.packet_id, uint8_t(p.reason));
            } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
                std::string s = fmt::format("SUBSCRIBE (Mid: {}", p.packet_id);
                for (const auto& sub : p.subscriptions)
                    s += fmt::format(", Topic: {}, QoS: {}", sub.filter, sub.options.qos);
                return s + ")";
            } else if constexpr (std::is_same_v<T, mqtt::Suback>) {
                std::string s = fmt::format("SUBACK (Mid: {}", p.packet_id);
                for (auto r : p.reasons) s += fmt::format(", {}", uint8_t(r));
                return s + ")";
            } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
                return fmt::format("UNSUBSCRIBE (Mid: {})", p.packet_id);
            } else if constexpr (std::is_same_v<T, mqtt::Unsuback>) {
                return fmt::format("UNSUBACK (Mid: {})", p.packet_id);
            } else if constexpr (std::is_same_v<T, mqtt::Pingreq>) {
                return "PINGREQ";
            } else if constexpr (std::is_same_v<T, mqtt::Pingresp>) {
                return "PINGRESP";
            } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
                return fmt::format("DISCONNECT ({})", uint8_t(p.reason));
            } else {
                return "AUTH";
            }
        },
        packet);
}

}  // namespace

void Client::trace_out(const mqtt::Packet& packet) {
    on_trace(fmt::format("Client {} sending {}", options_.client_id, describe(packet)));
}

void Client::trace_in(const mqtt::Packet& packet) {
    on_trace(fmt::format("Client {} received {}", options_.client_id, describe(packet)));
}

}  // namespace herald::tools
