// Codec tests for MQTT 3.1.1 and the rules both versions share: exact bytes of every packet,
// round trips, variable byte integers, fixed header rules and malformed inputs.
#include <doctest/doctest.h>

#include "tests/unit/mqtt_test_util.h"

using namespace herald::mqtt;
using namespace herald::mqtt::test;

// --- Variable Byte Integer (spec 1.5.5) ---

TEST_CASE("[MQTT-1.5.5-1] variable byte integer edges encode in the fewest bytes") {
    struct Row {
        uint32_t value;
        const char* hex;
    };
    const Row rows[] = {
        {0, "00"},           {127, "7F"},          {128, "80 01"},          {16383, "FF 7F"},
        {16384, "80 80 01"}, {2097151, "FF FF 7F"}, {2097152, "80 80 80 01"}, {268435455, "FF FF FF 7F"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.value);
        std::string out;
        encode_varint(row.value, out);
        CHECK(hex(out) == row.hex);
        CHECK(varint_size(row.value) == out.size());
    }
}

TEST_CASE("remaining length at the varint edges (spec 2.1.4) round trips") {
    // A PUBLISH whose remaining length is 127, 128 and 16384 bytes.
    for (size_t rl : {size_t{127}, size_t{128}, size_t{16383}, size_t{16384}}) {
        CAPTURE(rl);
        std::string payload(rl - 3, 'x');
        Publish p;
        p.topic = "t";
        p.payload = std::make_shared<const std::string>(payload);
        std::string bytes;
        encode(p, V311, bytes);
        CHECK(bytes.size() == 1 + varint_size(static_cast<uint32_t>(rl)) + rl);
        auto back = round_trip(p, V311);
        CHECK(*back.payload == payload);
    }
}

TEST_CASE("[MQTT-1.5.5] a 5-byte remaining length is malformed") {
    dec_err("30 FF FF FF FF 01", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-1.5.5-1] a non-minimal remaining length is malformed") {
    dec_err("C0 80 00", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("remaining length that disagrees with the frame is malformed") {
    dec_err("C0 01", V311, ReasonCode::MalformedPacket);        // missing byte
    dec_err("40 02 00 01 00", V311, ReasonCode::MalformedPacket);  // extra byte
    dec_err("", V311, ReasonCode::MalformedPacket);
    dec_err("C0", V311, ReasonCode::MalformedPacket);
}

// --- Fixed header (spec 2.1) ---

TEST_CASE("[MQTT-2.1.3-1] reserved fixed header flags are checked") {
    dec_err("11 00", V311, ReasonCode::MalformedPacket);     // CONNECT 0001
    dec_err("41 02 00 01", V311, ReasonCode::MalformedPacket);  // PUBACK 0001
    dec_err("60 02 00 01", V311, ReasonCode::MalformedPacket);  // PUBREL must be 0010
    dec_err("80 06 00 01 00 01 61 00", V311, ReasonCode::MalformedPacket);  // SUBSCRIBE 0000
    dec_err("A0 05 00 01 00 01 61", V311, ReasonCode::MalformedPacket);     // UNSUBSCRIBE 0000
    dec_err("C8 00", V311, ReasonCode::MalformedPacket);
    dec_err("D1 00", V311, ReasonCode::MalformedPacket);
    dec_err("E2 00", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-2.1.3] packet type 0 is reserved; AUTH does not exist in 3.1.1") {
    dec_err("00 00", V311, ReasonCode::MalformedPacket);
    dec_err("00 00", V5, ReasonCode::MalformedPacket);
    dec_err("F0 00", V311, ReasonCode::MalformedPacket);
}

// --- CONNECT ---

TEST_CASE("CONNECT 3.1.1 minimal: exact bytes and round trip") {
    Connect c;
    c.client_id = "abc";
    c.keep_alive = 60;
    CHECK(enc(c, V311) == "10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63");
    auto back = dec_ok<Connect>("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63", V311);
    CHECK(back.version == V311);
    CHECK(back.clean_start);
    CHECK(back.keep_alive == 60);
    CHECK(back.client_id == "abc");
    CHECK_FALSE(back.username);
    CHECK_FALSE(back.password);
    CHECK_FALSE(back.will);
}

TEST_CASE("CONNECT 3.1.1 with will, user name and password") {
    Connect c;
    c.client_id = "c";
    c.keep_alive = 10;
    c.will = Will{"w", "x", 1, true, {}};
    c.username = "u";
    c.password = "p";
    const char* bytes = "10 19 00 04 4D 51 54 54 04 EE 00 0A 00 01 63 00 01 77 00 01 78 00 01 75 00 01 70";
    CHECK(enc(c, V311) == bytes);
    auto back = dec_ok<Connect>(bytes, V311);
    REQUIRE(back.will);
    CHECK(back.will->topic == "w");
    CHECK(back.will->payload == "x");
    CHECK(back.will->qos == 1);
    CHECK(back.will->retain);
    CHECK(back.username == "u");
    CHECK(back.password == "p");
    round_trip(c, V311);
}

TEST_CASE("CONNECT carries its own version: decode ignores the session's") {
    auto c = dec_ok<Connect>("10 0F 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63", V5);
    CHECK(c.version == V311);
}

TEST_CASE("[MQTT-3.1.2-2] unsupported protocol levels and MQIsdp") {
    dec_err("10 11 00 06 4D 51 49 73 64 70 03 02 00 3C 00 03 61 62 63", V311,
            ReasonCode::UnsupportedProtocolVersion);
    dec_err("10 0F 00 04 4D 51 54 54 03 02 00 3C 00 03 61 62 63", V311, ReasonCode::UnsupportedProtocolVersion);
    dec_err("10 0F 00 04 4D 51 54 54 06 02 00 3C 00 03 61 62 63", V311, ReasonCode::UnsupportedProtocolVersion);
}

TEST_CASE("[MQTT-3.1.2-1] a protocol name other than MQTT is malformed") {
    dec_err("10 0F 00 04 4D 51 54 58 04 02 00 3C 00 03 61 62 63", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.1.2-3] CONNECT reserved flag set is malformed") {
    dec_err("10 0F 00 04 4D 51 54 54 04 03 00 3C 00 03 61 62 63", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.1.2-11] [MQTT-3.1.2-13] will QoS or retain without will flag is malformed") {
    dec_err("10 0F 00 04 4D 51 54 54 04 0A 00 3C 00 03 61 62 63", V311, ReasonCode::MalformedPacket);
    dec_err("10 0F 00 04 4D 51 54 54 04 22 00 3C 00 03 61 62 63", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.1.2-14] will QoS 3 is malformed") {
    dec_err("10 13 00 04 4D 51 54 54 04 1E 00 3C 00 01 63 00 01 77 00 01 78", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.1.2-22] 3.1.1 password without user name is malformed") {
    std::string msg =
        dec_err("10 10 00 04 4D 51 54 54 04 42 00 3C 00 01 63 00 01 70", V311, ReasonCode::MalformedPacket);
    CHECK(msg == "password flag is set without the user name flag");
}

TEST_CASE("[MQTT-3.1.3-4] client id that is not valid UTF-8 is malformed") {
    std::string msg = dec_err("10 0E 00 04 4D 51 54 54 04 02 00 3C 00 02 C0 80", V311, ReasonCode::MalformedPacket);
    CHECK(msg == "client id is not valid UTF-8");
}

TEST_CASE("[MQTT-1.5.4-2] UTF-8 string with U+0000 is malformed") {
    dec_err("10 0E 00 04 4D 51 54 54 04 02 00 3C 00 02 61 00", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("CONNECT truncated or with trailing bytes is malformed") {
    dec_err("10 0E 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62", V311, ReasonCode::MalformedPacket);
    dec_err("10 10 00 04 4D 51 54 54 04 02 00 3C 00 03 61 62 63 00", V311, ReasonCode::MalformedPacket);
    dec_err("10 06 00 04 4D 51 54 54", V311, ReasonCode::MalformedPacket);
    // the user name flag is set but the user name is missing
    dec_err("10 0F 00 04 4D 51 54 54 04 82 00 3C 00 03 61 62 63", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.1.3-11] will topic with a wildcard is refused") {
    dec_err("10 13 00 04 4D 51 54 54 04 06 00 3C 00 01 63 00 01 23 00 01 78", V311, ReasonCode::ProtocolError);
}

// --- CONNACK ---

TEST_CASE("CONNACK 3.1.1: bytes and reason code mapping") {
    Connack c;
    CHECK(enc(c, V311) == "20 02 00 00");
    c.session_present = true;
    CHECK(enc(c, V311) == "20 02 01 00");
    c.session_present = false;
    struct Row {
        ReasonCode reason;
        const char* hex;
    };
    const Row rows[] = {
        {ReasonCode::UnsupportedProtocolVersion, "20 02 00 01"},
        {ReasonCode::ClientIdentifierNotValid, "20 02 00 02"},
        {ReasonCode::ServerUnavailable, "20 02 00 03"},
        {ReasonCode::ServerBusy, "20 02 00 03"},
        {ReasonCode::QuotaExceeded, "20 02 00 03"},
        {ReasonCode::ConnectionRateExceeded, "20 02 00 03"},
        {ReasonCode::UnspecifiedError, "20 02 00 03"},
        {ReasonCode::BadUserNameOrPassword, "20 02 00 04"},
        {ReasonCode::NotAuthorized, "20 02 00 05"},
        {ReasonCode::Banned, "20 02 00 05"},
    };
    for (const auto& row : rows) {
        c.reason = row.reason;
        CHECK(enc(c, V311) == row.hex);
    }
    auto back = dec_ok<Connack>("20 02 01 04", V311);
    CHECK(back.session_present);
    CHECK(back.reason == ReasonCode::BadUserNameOrPassword);
}

TEST_CASE("[MQTT-3.2.2-1] CONNACK reserved flags and unknown return codes are malformed") {
    dec_err("20 02 02 00", V311, ReasonCode::MalformedPacket);
    dec_err("20 02 00 06", V311, ReasonCode::MalformedPacket);
    dec_err("20 03 00 00 00", V311, ReasonCode::MalformedPacket);
}

// --- PUBLISH ---

TEST_CASE("PUBLISH 3.1.1 QoS 0 and QoS 1: exact bytes") {
    Publish p;
    p.topic = "a/b";
    p.payload = std::make_shared<const std::string>("hi");
    CHECK(enc(p, V311) == "30 07 00 03 61 2F 62 68 69");
    p.qos = 1;
    p.retain = true;
    p.dup = true;
    p.packet_id = 10;
    CHECK(enc(p, V311) == "3B 09 00 03 61 2F 62 00 0A 68 69");
    auto back = dec_ok<Publish>("3B 09 00 03 61 2F 62 00 0A 68 69", V311);
    CHECK(back.qos == 1);
    CHECK(back.retain);
    CHECK(back.dup);
    CHECK(back.packet_id == 10);
    CHECK(back.topic == "a/b");
    CHECK(*back.payload == "hi");
    p.qos = 2;
    p.dup = false;
    CHECK(enc(p, V311) == "35 09 00 03 61 2F 62 00 0A 68 69");
}

TEST_CASE("PUBLISH with an empty payload decodes to a non-null empty payload") {
    auto p = dec_ok<Publish>("30 03 00 01 74", V311);
    REQUIRE(p.payload);
    CHECK(p.payload->empty());
    Publish none;  // null payload encodes as empty
    none.topic = "t";
    CHECK(enc(none, V311) == "30 03 00 01 74");
}

TEST_CASE("[MQTT-3.3.1-4] PUBLISH QoS 3 is malformed") {
    dec_err("36 05 00 01 74 00 01", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.3.1-2] PUBLISH QoS 0 with DUP is malformed") {
    dec_err("38 03 00 01 74", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.3.2-2] PUBLISH topic with a wildcard is a protocol error") {
    dec_err("30 03 00 01 23", V311, ReasonCode::ProtocolError);
    dec_err("30 05 00 03 61 2F 2B", V311, ReasonCode::ProtocolError);
}

TEST_CASE("[MQTT-4.7.3-1] 3.1.1 PUBLISH with an empty topic is malformed") {
    dec_err("30 02 00 00", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-2.2.1-3] PUBLISH QoS 1 with packet id 0 is a protocol error") {
    dec_err("32 05 00 01 74 00 00", V311, ReasonCode::ProtocolError);
    dec_err("32 04 00 01 74 00", V311, ReasonCode::MalformedPacket);  // packet id cut short
}

TEST_CASE("[MQTT-1.5.4-1] PUBLISH topic with a UTF-16 surrogate is malformed") {
    dec_err("30 05 00 03 ED A0 80", V311, ReasonCode::MalformedPacket);
}

// --- acks ---

TEST_CASE("PUBACK PUBREC PUBREL PUBCOMP 3.1.1: exact bytes and round trip") {
    struct Row {
        PacketType type;
        const char* hex;
    };
    const Row rows[] = {{PacketType::Puback, "40 02 00 0A"},
                        {PacketType::Pubrec, "50 02 00 0A"},
                        {PacketType::Pubrel, "62 02 00 0A"},
                        {PacketType::Pubcomp, "70 02 00 0A"}};
    for (const auto& row : rows) {
        Ack a{row.type, 10, ReasonCode::Success, {}};
        CHECK(enc(a, V311) == row.hex);
        auto back = dec_ok<Ack>(row.hex, V311);
        CHECK(back.type == row.type);
        CHECK(back.packet_id == 10);
    }
    // 3.1.1 drops reason codes
    Ack a{PacketType::Puback, 10, ReasonCode::NotAuthorized, {}};
    CHECK(enc(a, V311) == "40 02 00 0A");
}

TEST_CASE("[MQTT-2.2.1-3] 3.1.1 acks: packet id 0, short and long bodies") {
    dec_err("40 02 00 00", V311, ReasonCode::ProtocolError);
    dec_err("40 01 00", V311, ReasonCode::MalformedPacket);
    dec_err("40 03 00 01 00", V311, ReasonCode::MalformedPacket);
}

// --- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK ---

TEST_CASE("SUBSCRIBE 3.1.1: exact bytes and round trip") {
    Subscribe s;
    s.packet_id = 1;
    s.subscriptions = {{"a/+", {1}}, {"#", {2}}};
    CHECK(enc(s, V311) == "82 0C 00 01 00 03 61 2F 2B 01 00 01 23 02");
    auto back = round_trip(s, V311);
    REQUIRE(back.subscriptions.size() == 2);
    CHECK(back.subscriptions[0].filter == "a/+");
    CHECK(back.subscriptions[0].options.qos == 1);
    CHECK(back.subscriptions[1].filter == "#");
    CHECK(back.subscriptions[1].options.qos == 2);
    // 5.0-only options are not written in 3.1.1
    s.subscriptions = {{"x", {0, true, true, 2}}};
    CHECK(enc(s, V311) == "82 06 00 01 00 01 78 00");
}

TEST_CASE("[MQTT-3.8.3-3] SUBSCRIBE without topic filters is a protocol error") {
    std::string msg = dec_err("82 02 00 01", V311, ReasonCode::ProtocolError);
    CHECK(msg == "SUBSCRIBE has no topic filters");
}

TEST_CASE("[MQTT-3-8.3-4] 3.1.1 SUBSCRIBE reserved option bits are malformed") {
    dec_err("82 06 00 01 00 01 61 04", V311, ReasonCode::MalformedPacket);
    dec_err("82 06 00 01 00 01 61 03", V311, ReasonCode::MalformedPacket);  // QoS 3
    dec_err("82 05 00 01 00 01 61", V311, ReasonCode::MalformedPacket);     // options byte missing
}

TEST_CASE("[MQTT-4.7.1-1] SUBSCRIBE with an invalid filter is malformed") {
    dec_err("82 08 00 01 00 03 61 23 62 00", V311, ReasonCode::MalformedPacket);  // "a#b"
    dec_err("82 08 00 01 00 03 23 2F 61 00", V311, ReasonCode::MalformedPacket);  // "#/a"
    dec_err("82 05 00 01 00 00 00", V311, ReasonCode::MalformedPacket);           // ""
    dec_err("82 07 00 01 00 01 61 00 00", V311, ReasonCode::MalformedPacket);     // trailing byte
    dec_err("82 06 00 00 00 01 61 00", V311, ReasonCode::ProtocolError);          // packet id 0
}

TEST_CASE("SUBACK 3.1.1: failures become 0x80") {
    Suback s;
    s.packet_id = 1;
    s.reasons = {ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError, ReasonCode::NotAuthorized};
    CHECK(enc(s, V311) == "90 05 00 01 01 80 80");
    auto back = dec_ok<Suback>("90 05 00 01 01 80 80", V311);
    REQUIRE(back.reasons.size() == 3);
    CHECK(back.reasons[0] == ReasonCode::GrantedQoS1);
    CHECK(back.reasons[1] == ReasonCode::UnspecifiedError);
    dec_err("90 03 00 01 03", V311, ReasonCode::ProtocolError);
    dec_err("90 02 00 01", V311, ReasonCode::ProtocolError);
}

TEST_CASE("UNSUBSCRIBE and UNSUBACK 3.1.1: exact bytes") {
    Unsubscribe u;
    u.packet_id = 2;
    u.filters = {"a/+"};
    CHECK(enc(u, V311) == "A2 07 00 02 00 03 61 2F 2B");
    auto back = round_trip(u, V311);
    CHECK(back.filters == std::vector<std::string>{"a/+"});
    Unsuback ua;
    ua.packet_id = 2;
    ua.reasons = {ReasonCode::Success};  // not encoded in 3.1.1
    CHECK(enc(ua, V311) == "B0 02 00 02");
    CHECK(dec_ok<Unsuback>("B0 02 00 02", V311).packet_id == 2);
    dec_err("B0 03 00 02 00", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters is a protocol error") {
    dec_err("A2 02 00 01", V311, ReasonCode::ProtocolError);
    dec_err("A2 06 00 01 00 01 2B 00", V311, ReasonCode::MalformedPacket);  // trailing byte
}

// --- PINGREQ / PINGRESP / DISCONNECT ---

TEST_CASE("PINGREQ PINGRESP DISCONNECT 3.1.1") {
    CHECK(enc(Pingreq{}, V311) == "C0 00");
    CHECK(enc(Pingresp{}, V311) == "D0 00");
    CHECK(enc(Disconnect{}, V311) == "E0 00");
    Disconnect d{ReasonCode::ServerShuttingDown, {}};
    CHECK(enc(d, V311) == "E0 00");  // 3.1.1 DISCONNECT is always empty
    dec_ok<Pingreq>("C0 00", V311);
    dec_ok<Pingresp>("D0 00", V311);
    dec_ok<Disconnect>("E0 00", V311);
    dec_err("C0 01 00", V311, ReasonCode::MalformedPacket);
    dec_err("E0 01 00", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("encode appends several packets to one buffer") {
    std::string out;
    encode(Pingreq{}, V311, out);
    encode(Ack{PacketType::Puback, 1, ReasonCode::Success, {}}, V311, out);
    encode_publish("t", "p", 0, false, false, 0, nullptr, V311, out);
    CHECK(hex(out) == "C0 00 40 02 00 01 30 04 00 01 74 70");
}

TEST_CASE("encode_publish fast path equals encode of a Publish value") {
    for (auto v : {V311, V5}) {
        for (uint8_t qos : {0, 1, 2}) {
            Publish p;
            p.topic = "x/y";
            p.qos = qos;
            p.retain = true;
            p.packet_id = qos ? 7 : 0;
            p.payload = std::make_shared<const std::string>(300, 'z');
            p.props.message_expiry_interval = 5;
            std::string a, b;
            encode(p, v, a);
            encode_publish(p.topic, *p.payload, p.qos, p.retain, p.dup, p.packet_id, &p.props, v, b);
            CHECK(hex(a) == hex(b));
            CHECK(encoded_publish_size(p.topic, p.payload->size(), qos, &p.props, v) == b.size());
        }
    }
    std::string c;
    encode_publish("t", "", 0, false, false, 0, nullptr, V5, c);
    CHECK(hex(c) == "30 04 00 01 74 00");
    CHECK(encoded_publish_size("t", 0, 0, nullptr, V5) == 6);
}
