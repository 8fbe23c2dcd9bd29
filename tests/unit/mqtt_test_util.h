// Helpers for the codec tests: hex literals <-> bytes, encode/decode shorthands and a round trip
// that checks encoded_size() against encode() on every packet it sees.
#pragma once

#include <doctest/doctest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "broker/mqtt/codec.h"

namespace herald::mqtt::test {

constexpr auto V311 = ProtocolVersion::V311;
constexpr auto V5 = ProtocolVersion::V5;

// "10 0F 00 04" -> bytes; spaces are ignored.
inline std::string unhex(std::string_view hex) {
    std::string out;
    int hi = -1;
    for (char c : hex) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::toupper(c) - 'A' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<char>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

// bytes -> "10 0F 00 04"
inline std::string hex(std::string_view bytes) {
    static constexpr char d[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : bytes) {
        if (!out.empty()) out.push_back(' ');
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 0xF]);
    }
    return out;
}

inline std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Encodes and returns the hex, checking encoded_size() agrees.
inline std::string enc(const Packet& p, ProtocolVersion v) {
    std::string out = "prefix";  // encode appends: make sure it does not overwrite
    encode(p, v, out);
    REQUIRE(out.substr(0, 6) == "prefix");
    out.erase(0, 6);
    CHECK(encoded_size(p, v) == out.size());
    return hex(out);
}

inline DecodeResult dec_bytes(const std::string& bytes, ProtocolVersion v) { return decode(span_of(bytes), v); }
inline DecodeResult dec(std::string_view hexstr, ProtocolVersion v) { return dec_bytes(unhex(hexstr), v); }

// Decodes a hex packet that must be valid and of type T.
template <class T>
T dec_ok(std::string_view hexstr, ProtocolVersion v) {
    DecodeResult r = dec(hexstr, v);
    INFO("decode error: ", r.error.message);
    REQUIRE(r.ok);
    REQUIRE(std::holds_alternative<T>(r.packet));
    return std::get<T>(r.packet);
}

// Decodes a hex packet that must be refused with `reason`; returns the message.
inline std::string dec_err(std::string_view hexstr, ProtocolVersion v, ReasonCode reason) {
    DecodeResult r = dec(hexstr, v);
    REQUIRE_FALSE(r.ok);
    INFO("message: ", r.error.message);
    CHECK(static_cast<int>(r.error.reason) == static_cast<int>(reason));
    CHECK_FALSE(r.error.message.empty());
    return r.error.message;
}

// Encodes, decodes, and checks that encoding the decoded value gives the same bytes.
template <class T>
T round_trip(const T& p, ProtocolVersion v) {
    std::string bytes;
    encode(Packet{p}, v, bytes);
    CHECK(encoded_size(Packet{p}, v) == bytes.size());
    DecodeResult r = dec_bytes(bytes, v);
    INFO("decode error: ", r.error.message, " bytes: ", hex(bytes));
    REQUIRE(r.ok);
    REQUIRE(std::holds_alternative<T>(r.packet));
    std::string again;
    encode(r.packet, v, again);
    CHECK(hex(again) == hex(bytes));
    return std::get<T>(r.packet);
}

}  // namespace herald::mqtt::test
