// The client's WebSocket layer (tools/client/ws_frames.h), RFC 6455: the accept value of the
// RFC's own example, the check of a server's 101, masked frames out (every length form), and
// the reader of server frames fed whole or byte by byte: several packets in one frame, one
// packet over many frames, control frames between fragments, and the frames it must refuse.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tools/client/ws_frames.h"

using namespace herald::tools;

namespace {

// A server frame: unmasked, FIN as given.
std::string server_frame(uint8_t opcode, std::string_view payload, bool fin = true) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(payload.size()));
    } else if (payload.size() <= 0xFFFF) {
        f.push_back(126);
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        f.push_back(127);
        for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((uint64_t(payload.size()) >> s) & 0xFF));
    }
    f.append(payload);
    return f;
}

struct Read {
    std::string data;
    std::vector<std::pair<uint8_t, std::string>> controls;
    std::string error;
};

// Feeds `bytes` in pieces of `step` (0: all at once).
Read read_all(std::string_view bytes, size_t step) {
    ws::FrameReader r;
    Read out;
    size_t at = 0;
    while (at < bytes.size() && out.error.empty()) {
        const size_t n = step ? std::min(step, bytes.size() - at) : bytes.size();
        std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(bytes.data()) + at, n);
        at += n;
        while (!in.empty()) {
            ws::FramePart p;
            in = in.subspan(ws::next_part(r, in, p));
            if (p.kind == ws::FramePart::Kind::Data) out.data.append(reinterpret_cast<const char*>(p.data.data()), p.data.size());
            if (p.kind == ws::FramePart::Kind::Control)
                out.controls.emplace_back(p.opcode, std::string(reinterpret_cast<const char*>(p.data.data()), p.data.size()));
            if (p.kind == ws::FramePart::Kind::Error) {
                out.error = p.error;
                break;
            }
        }
    }
    return out;
}

}  // namespace

TEST_CASE("ws: Sec-WebSocket-Accept of RFC 6455's example (section 1.3)") {
    CHECK(ws::accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const std::string key = ws::make_key();
    CHECK(key.size() == 24);  // 16 bytes in base64
    CHECK(key != ws::make_key());
}

TEST_CASE("ws: the upgrade request asks for the path and subprotocol mqtt") {
    const std::string r = ws::upgrade_request("127.0.0.1:8080", "/mqtt", "abc", "mqtt");
    CHECK(r.starts_with("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
    CHECK(r.find("\r\nSec-WebSocket-Protocol: mqtt\r\n") != std::string::npos);
    CHECK(r.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
    CHECK(r.ends_with("\r\n\r\n"));
}

TEST_CASE("ws: the server's 101 is checked: status, upgrade, accept and subprotocol") {
    const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    const std::string good =
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    using S = ws::UpgradeAnswer::Status;
    CHECK(ws::check_upgrade_answer(good.substr(0, 40), key, "mqtt").status == S::NeedMore);
    auto a = ws::check_upgrade_answer(good + "\x82\x02\x20\x02", key, "mqtt");
    CHECK(a.status == S::Ok);
    CHECK(a.consumed == good.size());

    a = ws::check_upgrade_answer("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", key, "mqtt");
    CHECK(a.status == S::Refused);
    CHECK(a.error.find("404 Not Found") != std::string::npos);
    std::string wrong_accept = good;
    wrong_accept.replace(wrong_accept.find("s3pP"), 4, "XXXX");
    CHECK(ws::check_upgrade_answer(wrong_accept, key, "mqtt").status == S::Refused);
    std::string no_protocol = good;
    no_protocol.erase(no_protocol.find("Sec-WebSocket-Protocol"), std::string("Sec-WebSocket-Protocol: mqtt\r\n").size());
    a = ws::check_upgrade_answer(no_protocol, key, "mqtt");
    CHECK(a.status == S::Refused);
    CHECK(a.error.find("subprotocol") != std::string::npos);
    CHECK(ws::check_upgrade_answer(std::string(20000, 'x'), key, "mqtt").status == S::Refused);
}

TEST_CASE("ws: client frames are masked, in all three length forms, and unmask to the payload") {
    for (size_t n : {size_t(0), size_t(5), size_t(125), size_t(126), size_t(65535), size_t(65536), size_t(70001)}) {
        std::string payload(n, '\0');
        for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 7 + 3);
        std::string f;
        ws::append_frame(ws::kOpBinary, payload, 0x11223344, f);
        CAPTURE(n);
        REQUIRE(f.size() >= 6);
        CHECK(static_cast<uint8_t>(f[0]) == 0x82);
        CHECK((static_cast<uint8_t>(f[1]) & 0x80) == 0x80);
        const uint8_t len7 = static_cast<uint8_t>(f[1]) & 0x7F;
        const size_t header = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        CHECK(len7 == (n < 126 ? n : n <= 0xFFFF ? 126 : 127));
        REQUIRE(f.size() == header + 4 + n);
        const auto* mask = reinterpret_cast<const uint8_t*>(f.data() + header);
        CHECK(mask[0] == 0x11);
        CHECK(mask[3] == 0x44);
        std::string back = f.substr(header + 4);
        for (size_t i = 0; i < n; ++i) back[i] = static_cast<char>(back[i] ^ mask[i % 4]);
        CHECK(back == payload);
    }
    uint64_t state = ws::mask_seed();
    CHECK(ws::next_mask(state) != ws::next_mask(state));
}

TEST_CASE("ws: server frames are a byte stream: packets across frames, several in one, split anywhere") {
    const std::string connack("\x20\x03\x00\x00\x00", 5), suback("\x90\x03\x00\x01\x00", 5);
    std::string big(70000, 'p');
    // CONNACK + SUBACK in one frame; a large payload over a binary frame and two continuations,
    // with a ping between fragments; then an empty binary frame and a pong.
    std::string bytes = server_frame(ws::kOpBinary, connack + suback);
    bytes += server_frame(ws::kOpBinary, big.substr(0, 100), false);
    bytes += server_frame(ws::kOpPing, "hi");
    bytes += server_frame(ws::kOpContinuation, big.substr(100, 300), false);
    bytes += server_frame(ws::kOpContinuation, big.substr(400), true);
    bytes += server_frame(ws::kOpBinary, "");
    bytes += server_frame(ws::kOpPong, "");
    for (size_t step : {size_t(0), size_t(1), size_t(3), size_t(7), size_t(4096)}) {
        CAPTURE(step);
        Read r = read_all(bytes, step);
        CHECK(r.error.empty());
        CHECK(r.data == connack + suback + big);
        REQUIRE(r.controls.size() == 2);
        CHECK(r.controls[0] == std::pair<uint8_t, std::string>(ws::kOpPing, "hi"));
        CHECK(r.controls[1].first == ws::kOpPong);
    }
}

TEST_CASE("ws: frames a client must refuse") {
    CHECK(read_all(server_frame(ws::kOpText, "x"), 0).error.find("text") != std::string::npos);
    std::string masked = server_frame(ws::kOpBinary, "abcd");
    masked[1] = static_cast<char>(masked[1] | 0x80);
    CHECK(read_all(masked, 0).error.find("masked") != std::string::npos);
    CHECK(!read_all(server_frame(ws::kOpContinuation, "x"), 0).error.empty());
    CHECK(!read_all(server_frame(ws::kOpBinary, "a", false) + server_frame(ws::kOpBinary, "b"), 0).error.empty());
    CHECK(!read_all(server_frame(ws::kOpPing, std::string(126, 'x')), 0).error.empty());
    CHECK(!read_all(server_frame(0x3, "x"), 0).error.empty());
    std::string rsv = server_frame(ws::kOpBinary, "x");
    rsv[0] = static_cast<char>(rsv[0] | 0x40);
    CHECK(!read_all(rsv, 0).error.empty());
}
