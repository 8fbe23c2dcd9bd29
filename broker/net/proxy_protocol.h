// The PROXY protocol header (HAProxy's v1 text and v2 binary forms) that a load balancer puts
// before a connection's own bytes to name the real client. Pure: bytes in, a verdict out.
//
// parse() looks at what has arrived so far: Incomplete (send more), Invalid (with the reason;
// the connection is to be closed), or Done with the header's length and the client's address.
// Input that cannot become a header is Invalid as soon as one byte shows it (a plain MQTT
// CONNECT is refused at its first byte), so a peer cannot make the broker wait for more.
//
// What is accepted:
// - v1: "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n" (at most 107 bytes), or
//   "PROXY UNKNOWN...\r\n", which keeps the socket's own address.
// - v2: the 12-byte signature, version 2, command LOCAL (a health check of the proxy itself:
//   the socket's own address is kept) or PROXY with family INET or INET6 over STREAM; PROXY
//   with an unspecified or Unix family keeps the socket's address too (as the spec says).
//   TLVs after the addresses are skipped. A header longer than kMaxV2Length is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace herald::net::proxy {

struct Address {
    int family = 0;           // AF_INET or AF_INET6
    uint8_t bytes[16] = {};   // network order: 4 bytes (IPv4) or 16 (IPv6)
    uint16_t port = 0;
};

enum class Status : uint8_t { Incomplete, Done, Invalid };

struct Result {
    Status status = Status::Incomplete;
    size_t length = 0;              // Done: the header's bytes, to skip
    std::optional<Address> source;  // Done: the real client; empty = keep the socket's address
    std::string error;              // Invalid: why, for the log line
};

inline constexpr size_t kMaxV1Length = 107;
inline constexpr size_t kMaxV2Length = 16 + 2048;

Result parse(std::span<const uint8_t> input);

}  // namespace herald::net::proxy
