// The PROXY protocol header parser: v1, v2 (IPv4, IPv6, LOCAL, UNSPEC), byte-by-byte input,
// and what must be refused.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "broker/net/proxy_protocol.h"

using namespace herald::net::proxy;

namespace {

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string v2(uint8_t ver_cmd, uint8_t family, const std::string& body) {
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(family);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xFF);
    return h + body;
}

std::string ipv4_body() {
    // 203.0.113.7:5555 -> 10.0.0.1:1883
    return std::string("\xCB\x00\x71\x07\x0A\x00\x00\x01\x15\xB3\x07\x5B", 12);
}

std::string address_text(const Address& a) {
    char text[64] = {0};
    inet_ntop(a.family, a.bytes, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(a.port);
}

// Every prefix shorter than the whole is Incomplete; the whole is Done.
void check_prefixes(const std::string& header) {
    for (size_t n = 0; n < header.size(); ++n) {
        CAPTURE(n);
        CHECK(parse(bytes(header.substr(0, n))).status == Status::Incomplete);
    }
}

}  // namespace

TEST_CASE("proxy v1 TCP4 names the client and the header's length") {
    const std::string header = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 1883\r\n";
    const Result r = parse(bytes(header + "\x10\x0c"));
    REQUIRE(r.status == Status::Done);
    CHECK(r.length == header.size());
    REQUIRE(r.source);
    CHECK(r.source->family == AF_INET);
    CHECK(address_text(*r.source) == "203.0.113.7:5555");
    check_prefixes(header);
}

TEST_CASE("proxy v1 TCP6 and UNKNOWN") {
    const Result six = parse(bytes("PROXY TCP6 2001:db8::7 2001:db8::1 40000 8883\r\n"));
    REQUIRE(six.status == Status::Done);
    REQUIRE(six.source);
    CHECK(address_text(*six.source) == "2001:db8::7:40000");
    const Result unknown = parse(bytes("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"));
    REQUIRE(unknown.status == Status::Done);
    CHECK_FALSE(unknown.source);
    CHECK(parse(bytes("PROXY UNKNOWN\r\n")).status == Status::Done);
}

TEST_CASE("proxy v1 malformed headers are refused") {
    for (const char* bad : {"PROXY TCP4 203.0.113.7 10.0.0.1 5555\r\n",
                            "PROXY TCP4 203.0.113.999 10.0.0.1 5555 1883\r\n",
                            "PROXY TCP4 2001:db8::7 10.0.0.1 5555 1883\r\n",
                            "PROXY TCP5 203.0.113.7 10.0.0.1 5555 1883\r\n",
                            "PROXY TCP4 203.0.113.7 10.0.0.1 65536 1883\r\n",
                            "PROXY TCP4 203.0.113.7 10.0.0.1 05555 1883\r\n",
                            "PROXY TCP4  203.0.113.7 10.0.0.1 5555 1883\r\n",
                            "PROXY TCP4 203.0.113.7 10.0.0.1 5555 1883\n",
                            // a bare LF, then a CRLF (found by fuzz_proxy: its prefix was
                            // refused, the whole accepted)
                            "PROXY UNKNOWN ::\n 2\r\n"}) {
        CAPTURE(bad);
        const Result r = parse(bytes(bad));
        CHECK(r.status == Status::Invalid);
        CHECK_FALSE(r.error.empty());
    }
    // No CRLF within the 107 bytes a v1 header may have.
    CHECK(parse(bytes("PROXY TCP4 " + std::string(120, '1'))).status == Status::Invalid);
}

TEST_CASE("proxy v2 PROXY over IPv4, with a TLV after the addresses") {
    const std::string tlv("\x04\x00\x02xy", 5);
    const std::string header = v2(0x21, 0x11, ipv4_body() + tlv);
    const Result r = parse(bytes(header + "\x10"));
    REQUIRE(r.status == Status::Done);
    CHECK(r.length == header.size());
    REQUIRE(r.source);
    CHECK(address_text(*r.source) == "203.0.113.7:5555");
    check_prefixes(header);
}

TEST_CASE("proxy v2 PROXY over IPv6") {
    std::string body(36, '\0');
    inet_pton(AF_INET6, "2001:db8::7", body.data());
    inet_pton(AF_INET6, "2001:db8::1", body.data() + 16);
    body[32] = '\x9C', body[33] = '\x40';  // 40000
    body[34] = '\x22', body[35] = '\xB3';  // 8883
    const Result r = parse(bytes(v2(0x21, 0x21, body)));
    REQUIRE(r.status == Status::Done);
    REQUIRE(r.source);
    CHECK(r.source->family == AF_INET6);
    CHECK(address_text(*r.source) == "2001:db8::7:40000");
}

TEST_CASE("proxy v2 LOCAL and UNSPEC keep the socket's address") {
    const std::string local = v2(0x20, 0x00, "");
    const Result r = parse(bytes(local));
    REQUIRE(r.status == Status::Done);
    CHECK(r.length == 16);
    CHECK_FALSE(r.source);
    // LOCAL with addresses present: still LOCAL, and the addresses are skipped.
    const Result with_addresses = parse(bytes(v2(0x20, 0x11, ipv4_body())));
    REQUIRE(with_addresses.status == Status::Done);
    CHECK(with_addresses.length == 28);
    CHECK_FALSE(with_addresses.source);
    const Result unspec = parse(bytes(v2(0x21, 0x00, "")));
    REQUIRE(unspec.status == Status::Done);
    CHECK_FALSE(unspec.source);
}

TEST_CASE("proxy v2 malformed headers are refused") {
    CHECK(parse(bytes(v2(0x11, 0x11, ipv4_body()))).status == Status::Invalid);  // version 1
    CHECK(parse(bytes(v2(0x22, 0x11, ipv4_body()))).status == Status::Invalid);  // command 2
    CHECK(parse(bytes(v2(0x21, 0x11, "\x01\x02"))).status == Status::Invalid);   // too short
    CHECK(parse(bytes(v2(0x21, 0x12, ipv4_body()))).status == Status::Invalid);  // DGRAM
    CHECK(parse(bytes(v2(0x21, 0x51, ipv4_body()))).status == Status::Invalid);  // family 5
    std::string huge = v2(0x21, 0x11, "");
    huge[14] = '\xFF', huge[15] = '\xFF';  // claims 65535 bytes
    CHECK(parse(bytes(huge)).status == Status::Invalid);
    // A broken signature is refused at the first byte that differs.
    CHECK(parse(bytes(std::string("\r\n\r\n\0\r\nQUIX", 12))).status == Status::Invalid);
}

TEST_CASE("proxy garbage and plain MQTT are refused at once") {
    CHECK(parse(bytes("\x10")).status == Status::Invalid);  // an MQTT CONNECT's first byte
    CHECK(parse(bytes("\x16\x03\x01")).status == Status::Invalid);  // a TLS ClientHello
    CHECK(parse(bytes("GET / HTTP/1.1\r\n")).status == Status::Invalid);
    CHECK(parse(bytes("PROXX")).status == Status::Invalid);
    CHECK(parse(bytes("")).status == Status::Incomplete);
    CHECK(parse(bytes("PROX")).status == Status::Incomplete);
}
