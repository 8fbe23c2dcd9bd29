// Parsing the PROXY protocol v1 and v2 headers (see proxy_protocol.h).
#include "broker/net/proxy_protocol.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

namespace herald::net::proxy {

namespace {

constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";

Result invalid(std::string why) {
    Result r;
    r.status = Status::Invalid;
    r.error = std::move(why);
    return r;
}

Result done(size_t length, std::optional<Address> source) {
    Result r;
    r.status = Status::Done;
    r.length = length;
    r.source = source;
    return r;
}

// Does `input` start like `prefix` as far as it goes?
bool starts_like(std::span<const uint8_t> input, const uint8_t* prefix, size_t prefix_length) {
    const size_t n = std::min(input.size(), prefix_length);
    return std::memcmp(input.data(), prefix, n) == 0;
}

bool parse_port(std::string_view text, uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    uint32_t value = 0;
    for (char ch : text) {
        if (ch < '0' || ch > '9') return false;
        value = value * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (value > 65535 || (text.size() > 1 && text[0] == '0')) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> words;
    size_t start = 0;
    for (;;) {
        const size_t space = line.find(' ', start);
        words.push_back(line.substr(start, space - start));
        if (space == std::string_view::npos) return words;
        start = space + 1;
    }
}

Result parse_v1(std::span<const uint8_t> input) {
    const std::string_view text(reinterpret_cast<const char*>(input.data()),
                                std::min(input.size(), kMaxV1Length));
    const size_t end = text.find("\r\n");
    if (end == std::string_view::npos) {
        if (input.size() >= kMaxV1Length) return invalid("v1 header without CRLF in 107 bytes");
        if (text.find('\n') != std::string_view::npos) return invalid("v1 header ends without CR");
        return {};
    }
    // A bare LF before the CRLF: the same verdict as when the LF arrived alone (above).
    if (text.substr(0, end).find('\n') != std::string_view::npos)
        return invalid("v1 header ends without CR");
    const std::vector<std::string_view> words = split_spaces(text.substr(0, end));
    // words[0] is "PROXY"
    if (words.size() >= 2 && words[1] == "UNKNOWN") return done(end + 2, std::nullopt);
    if (words.size() != 6) return invalid("v1 header is not 'PROXY TCP4|TCP6 src dst sport dport'");
    Address source;
    if (words[1] == "TCP4") source.family = AF_INET;
    else if (words[1] == "TCP6") source.family = AF_INET6;
    else return invalid("v1 header has an unknown protocol '" + std::string(words[1]) + "'");
    const std::string src(words[2]), dst(words[3]);
    uint8_t ignored[16];
    if (inet_pton(source.family, src.c_str(), source.bytes) != 1 ||
        inet_pton(source.family, dst.c_str(), ignored) != 1)
        return invalid("v1 header has a bad " + std::string(words[1]) + " address");
    uint16_t destination_port = 0;
    if (!parse_port(words[4], source.port) || !parse_port(words[5], destination_port))
        return invalid("v1 header has a bad port");
    return done(end + 2, source);
}

Result parse_v2(std::span<const uint8_t> input) {
    if (input.size() < 16) return {};
    const uint8_t version = input[12] >> 4, command = input[12] & 0x0F;
    const uint8_t family = input[13] >> 4, transport = input[13] & 0x0F;
    const size_t length = (size_t(input[14]) << 8) | input[15];
    if (version != 2) return invalid("v2 header with version " + std::to_string(version));
    if (command > 1) return invalid("v2 header with unknown command " + std::to_string(command));
    if (16 + length > kMaxV2Length)
        return invalid("v2 header of " + std::to_string(16 + length) + " bytes is too long");
    if (input.size() < 16 + length) return {};
    if (command == 0) return done(16 + length, std::nullopt);  // LOCAL
    const uint8_t* body = input.data() + 16;
    Address source;
    if (family == 1 || family == 2) {
        if (transport != 1) return invalid("v2 header for a transport other than STREAM");
        const size_t size = family == 1 ? 4 : 16;
        if (length < 2 * size + 4) return invalid("v2 header too short for its addresses");
        source.family = family == 1 ? AF_INET : AF_INET6;
        std::memcpy(source.bytes, body, size);
        source.port = static_cast<uint16_t>((body[2 * size] << 8) | body[2 * size + 1]);
        return done(16 + length, source);
    }
    if (family == 0 || family == 3) return done(16 + length, std::nullopt);  // UNSPEC, UNIX
    return invalid("v2 header with unknown address family " + std::to_string(family));
}

}  // namespace

Result parse(std::span<const uint8_t> input) {
    if (input.empty()) return {};
    if (input[0] == kV2Signature[0]) {
        if (!starts_like(input, kV2Signature, sizeof(kV2Signature)))
            return invalid("not a PROXY protocol header");
        return parse_v2(input);
    }
    if (!starts_like(input, reinterpret_cast<const uint8_t*>(kV1Prefix.data()), kV1Prefix.size()))
        return invalid("not a PROXY protocol header");
    if (input.size() < kV1Prefix.size()) return {};
    return parse_v1(input);
}

}  // namespace herald::net::proxy
