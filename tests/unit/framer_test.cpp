// Tests of the Framer: packets split at every byte, several per feed, the size limit checked
// from the header alone, bad length varints, and frames handed on without a copy.
#include <doctest/doctest.h>

#include <vector>

#include "broker/mqtt/framer.h"
#include "tests/unit/mqtt_test_util.h"

using namespace herald::mqtt;
using namespace herald::mqtt::test;

namespace {

struct Collect {
    std::vector<std::string> frames;
    std::function<bool(std::span<const uint8_t>)> fn = [this](std::span<const uint8_t> f) {
        frames.emplace_back(reinterpret_cast<const char*>(f.data()), f.size());
        return true;
    };
};

FrameError feed(Framer& fr, const std::string& bytes, Collect& c) { return fr.feed(span_of(bytes), c.fn); }

// Three packets: PINGREQ, a 200-byte-payload PUBLISH (2-byte length) and a PUBACK.
std::string stream() {
    std::string s = unhex("C0 00");
    encode_publish("t/x", std::string(200, 'p'), 1, false, false, 9, nullptr, ProtocolVersion::V311, s);
    s += unhex("40 02 00 09");
    return s;
}

}  // namespace

TEST_CASE("framer: several packets in one feed, handed on without a copy") {
    Framer fr(1024);
    std::string s = stream();
    std::vector<const uint8_t*> starts;
    FrameError e = fr.feed(span_of(s), [&](std::span<const uint8_t> f) {
        starts.push_back(f.data());
        return true;
    });
    CHECK(e == FrameError::None);
    REQUIRE(starts.size() == 3);
    const auto* base = reinterpret_cast<const uint8_t*>(s.data());
    CHECK(starts[0] == base);  // spans point into the caller's buffer
    CHECK(starts[1] == base + 2);
    CHECK(starts[2] == base + s.size() - 4);
    CHECK(fr.buffered() == 0);
}

TEST_CASE("framer: byte-by-byte feeding yields the same frames") {
    Framer fr(1024);
    std::string s = stream();
    Collect c;
    for (char ch : s) REQUIRE(feed(fr, std::string(1, ch), c) == FrameError::None);
    REQUIRE(c.frames.size() == 3);
    CHECK(hex(c.frames[0]) == "C0 00");
    CHECK(c.frames[1].size() == 1 + 2 + 2 + 3 + 2 + 200);
    CHECK(hex(c.frames[2]) == "40 02 00 09");
    CHECK(fr.buffered() == 0);
}

TEST_CASE("framer: every split point of a stream yields the same frames") {
    std::string s = stream();
    for (size_t cut = 0; cut <= s.size(); ++cut) {
        for (size_t cut2 = cut; cut2 <= s.size(); cut2 += 7) {
            CAPTURE(cut);
            CAPTURE(cut2);
            Framer fr(1024);
            Collect c;
            CHECK(feed(fr, s.substr(0, cut), c) == FrameError::None);
            CHECK(feed(fr, s.substr(cut, cut2 - cut), c) == FrameError::None);
            CHECK(feed(fr, s.substr(cut2), c) == FrameError::None);
            REQUIRE(c.frames.size() == 3);
            CHECK(c.frames[0] + c.frames[1] + c.frames[2] == s);
        }
    }
}

TEST_CASE("framer: an incomplete packet is kept, then completed") {
    Framer fr(1024);
    Collect c;
    CHECK(feed(fr, unhex("C0 00 40 02 00"), c) == FrameError::None);
    CHECK(c.frames.size() == 1);
    CHECK(fr.buffered() == 3);
    CHECK(feed(fr, unhex("09 D0"), c) == FrameError::None);
    CHECK(c.frames.size() == 2);
    CHECK(fr.buffered() == 1);
    CHECK(feed(fr, unhex("00"), c) == FrameError::None);
    REQUIRE(c.frames.size() == 3);
    CHECK(hex(c.frames[2]) == "D0 00");
    CHECK(feed(fr, "", c) == FrameError::None);
}

TEST_CASE("framer: too large is known from the header, before the body arrives") {
    Framer fr(100);
    Collect c;
    // remaining length 98 -> total 100: allowed
    std::string ok = unhex("30 62 00 01 74") + std::string(95, 'x');
    CHECK(feed(fr, ok, c) == FrameError::None);
    CHECK(c.frames.size() == 1);
    // remaining length 99 -> total 101: refused after two bytes, nothing buffered
    CHECK(feed(fr, unhex("30 63"), c) == FrameError::TooLarge);
    CHECK(c.frames.size() == 1);

    Framer fr2(100);
    Collect c2;
    CHECK(feed(fr2, unhex("30"), c2) == FrameError::None);
    CHECK(feed(fr2, unhex("FF"), c2) == FrameError::None);
    CHECK(feed(fr2, unhex("7F"), c2) == FrameError::TooLarge);  // 16383 bytes announced
    CHECK(fr2.buffered() <= 3);

    Framer fr3(1024);
    fr3.set_max_packet_size(3);
    Collect c3;
    CHECK(feed(fr3, unhex("C0 00 E0 02 00 00"), c3) == FrameError::TooLarge);
    CHECK(c3.frames.size() == 1);  // the frames before the big one were delivered
}

TEST_CASE("[MQTT-1.5.5] framer: a remaining length longer than 4 bytes is malformed") {
    Framer fr(1 << 28);
    Collect c;
    CHECK(feed(fr, unhex("30 FF FF FF FF 01"), c) == FrameError::MalformedLength);
    Framer fr2(1 << 28);
    CHECK(feed(fr2, unhex("30 FF"), c) == FrameError::None);
    CHECK(feed(fr2, unhex("FF FF"), c) == FrameError::None);
    CHECK(feed(fr2, unhex("FF"), c) == FrameError::MalformedLength);
    // the largest legal length is fine (and too large only by the limit)
    Framer fr3(1024);
    CHECK(feed(fr3, unhex("30 FF FF FF 7F"), c) == FrameError::TooLarge);
    CHECK(c.frames.empty());
}

TEST_CASE("framer: on_frame returning false stops the feed") {
    Framer fr(1024);
    int n = 0;
    std::string s = unhex("C0 00 C0 00 C0 00");
    CHECK(fr.feed(span_of(s), [&](std::span<const uint8_t>) { return ++n < 2; }) == FrameError::None);
    CHECK(n == 2);
    // also when the stopping frame was completed from the buffer
    Framer fr2(1024);
    n = 0;
    std::string a = unhex("C0"), b = unhex("00 C0 00");
    auto stop = [&](std::span<const uint8_t>) { return ++n > 5; };
    CHECK(fr2.feed(span_of(a), stop) == FrameError::None);
    CHECK(fr2.feed(span_of(b), stop) == FrameError::None);
    CHECK(n == 1);
}

TEST_CASE("framer: a zero-length body and frames that decode") {
    Framer fr(1024);
    std::string s;
    encode(Connect{}, ProtocolVersion::V5, s);
    encode(Pingreq{}, ProtocolVersion::V5, s);
    encode(Disconnect{}, ProtocolVersion::V5, s);
    int ok = 0;
    CHECK(fr.feed(span_of(s),
                  [&](std::span<const uint8_t> f) {
                      ok += decode(f, ProtocolVersion::V5).ok ? 1 : 0;
                      return true;
                  }) == FrameError::None);
    CHECK(ok == 3);
}
