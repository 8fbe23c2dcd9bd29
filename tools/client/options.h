// What a Client needs to know before it connects: where to, and the CONNECT packet's contents.
//
// A plain value so that the CLI and the benchmark can build it once and copy it per client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "broker/mqtt/packets.h"

namespace herald::tools {

struct ConnectOptions {
    // Transport. When unix_path is set the client connects to that Unix socket and ignores
    // host/port; otherwise host is resolved with uv_getaddrinfo (names and literals alike).
    std::string host = "localhost";
    uint16_t port = 1883;
    std::string unix_path;
    // Optional local source address for TCP (e.g. 127.0.0.2): the benchmark spreads many
    // connections over several loopback addresses to get past the ephemeral port limit.
    std::string bind_address;
    // TLS (mqtts), as mosquitto_pub's flags: on when `tls` is set. The server's certificate
    // must chain to ca_file and (unless insecure) name the host; cert_file/key_file: a client
    // certificate for servers that ask for one.
    struct Tls {
        std::string ca_file, cert_file, key_file;
        bool insecure = false;  // skip the host name check (the chain is still verified)
    };
    std::optional<Tls> tls;

    // CONNECT contents.
    mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V5;
    std::string client_id;
    bool clean_start = true;
    uint16_t keep_alive = 60;  // seconds; 0 turns the PINGREQ timer off
    std::optional<std::string> username;
    std::optional<std::string> password;
    std::optional<mqtt::Will> will;
    // 5.0 CONNECT properties: session expiry, receive maximum, topic alias maximum, maximum
    // packet size, user properties, ... (ignored for 3.1.1). The client honours what it
    // announces here: inbound topic aliases up to topic_alias_maximum are resolved.
    mqtt::Properties props;

    // Largest inbound packet accepted by this client's Framer.
    uint32_t max_inbound_packet = 256u * 1024 * 1024;
};

}  // namespace herald::tools
