// Codec tests for MQTT 5.0: exact bytes with properties, short forms of the acks and DISCONNECT,
// round trips with every property, and the property rules (placement, duplicates, values).
#include <doctest/doctest.h>

#include "tests/unit/mqtt_test_util.h"

using namespace herald::mqtt;
using namespace herald::mqtt::test;

namespace {

// A CONNECT for client "c" whose property block is `props` (hex, without its length byte).
std::string connect_with_props(const std::string& props) {
    std::string p = unhex(props);
    std::string body = unhex("00 04 4D 51 54 54 05 02 00 3C") + static_cast<char>(p.size()) + p + unhex("00 01 63");
    return hex(unhex("10") + static_cast<char>(body.size()) + body);
}

// A QoS 0 PUBLISH to "t" whose property block is `props` (hex, without its length byte).
std::string publish_with_props(const std::string& props) {
    std::string p = unhex(props);
    std::string body = unhex("00 01 74") + static_cast<char>(p.size()) + p;
    return hex(unhex("30") + static_cast<char>(body.size()) + body);
}

}  // namespace

// --- CONNECT / CONNACK ---

TEST_CASE("CONNECT 5.0 with properties: exact bytes") {
    Connect c;
    c.version = V5;
    c.client_id = "abc";
    c.keep_alive = 60;
    c.props.session_expiry_interval = 3600;
    c.props.receive_maximum = 20;
    const char* bytes = "10 18 00 04 4D 51 54 54 05 02 00 3C 08 11 00 00 0E 10 21 00 14 00 03 61 62 63";
    CHECK(enc(c, V5) == bytes);
    auto back = dec_ok<Connect>(bytes, V311);  // CONNECT's own level wins
    CHECK(back.version == V5);
    CHECK(back.props == c.props);
    CHECK(back.client_id == "abc");
}

TEST_CASE("[MQTT-3.1.2-22] CONNECT 5.0 with will properties and a password without user name") {
    Connect c;
    c.version = V5;
    c.clean_start = true;
    c.client_id = "c";
    c.will = Will{"w", "x", 0, false, {}};
    c.will->props.will_delay_interval = 5;
    c.password = "p";
    const char* bytes =
        "10 1D 00 04 4D 51 54 54 05 46 00 00 00 00 01 63 05 18 00 00 00 05 00 01 77 00 01 78 00 01 70";
    CHECK(enc(c, V5) == bytes);
    auto back = dec_ok<Connect>(bytes, V5);
    REQUIRE(back.will);
    CHECK(back.will->props.will_delay_interval == 5u);
    CHECK_FALSE(back.username);
    CHECK(back.password == "p");
}

TEST_CASE("CONNECT 5.0 round trip with every CONNECT and will property") {
    Connect c;
    c.version = V5;
    c.clean_start = false;
    c.keep_alive = 0xFFFF;
    c.client_id = "client-\xC3\xA9";
    c.username = "alice";
    c.password = std::string("\x00\xFF", 2);
    c.props.session_expiry_interval = 0xFFFFFFFF;
    c.props.receive_maximum = 100;
    c.props.maximum_packet_size = 65536;
    c.props.topic_alias_maximum = 10;
    c.props.request_response_information = 1;
    c.props.request_problem_information = 0;
    c.props.authentication_method = "SCRAM";
    c.props.authentication_data = std::string("\x01\x00", 2);
    c.props.user_properties = {{"a", "1"}, {"a", "2"}};
    Will w;
    w.topic = "presence/alice";
    w.payload = std::string("off\0line", 8);
    w.qos = 2;
    w.retain = true;
    w.props.will_delay_interval = 30;
    w.props.payload_format_indicator = 1;
    w.props.message_expiry_interval = 60;
    w.props.content_type = "application/json";
    w.props.response_topic = "r/t";
    w.props.correlation_data = "xyz";
    w.props.user_properties = {{"k", "v"}};
    c.will = w;
    auto back = round_trip(c, V5);
    CHECK(back.clean_start == false);
    CHECK(back.keep_alive == 0xFFFF);
    CHECK(back.client_id == c.client_id);
    CHECK(back.username == c.username);
    CHECK(back.password == c.password);
    CHECK(back.props == c.props);
    REQUIRE(back.will);
    CHECK(back.will->topic == w.topic);
    CHECK(back.will->payload == w.payload);
    CHECK(back.will->qos == 2);
    CHECK(back.will->retain);
    CHECK(back.will->props == w.props);
}

TEST_CASE("CONNECT 5.0 property errors") {
    CHECK(connect_with_props("") == "10 0E 00 04 4D 51 54 54 05 02 00 3C 00 00 01 63");
    dec_ok<Connect>(connect_with_props(""), V5);
    // receive maximum 0, maximum packet size 0, request problem information 2
    dec_err(connect_with_props("21 00 00"), V5, ReasonCode::ProtocolError);
    dec_err(connect_with_props("27 00 00 00 00"), V5, ReasonCode::ProtocolError);
    dec_err(connect_with_props("17 02"), V5, ReasonCode::ProtocolError);
    dec_err(connect_with_props("19 02"), V5, ReasonCode::ProtocolError);
    // duplicate session expiry interval
    std::string msg = dec_err(connect_with_props("11 00 00 00 01 11 00 00 00 02"), V5, ReasonCode::ProtocolError);
    CHECK(msg == "session expiry interval appears more than once");
    // topic alias and will delay interval are not CONNECT properties (spec 2.2.2.2: malformed)
    msg = dec_err(connect_with_props("23 00 01"), V5, ReasonCode::MalformedPacket);
    CHECK(msg == "topic alias is not allowed in CONNECT");
    dec_err(connect_with_props("18 00 00 00 01"), V5, ReasonCode::MalformedPacket);
    // authentication data without a method
    dec_err(connect_with_props("16 00 01 61"), V5, ReasonCode::ProtocolError);
    // user property may repeat
    auto c = dec_ok<Connect>(connect_with_props("26 00 01 61 00 01 62 26 00 01 61 00 01 63"), V5);
    CHECK(c.props.user_properties.size() == 2);
}

TEST_CASE("CONNECT 5.0: session expiry is not a will property") {
    dec_err("10 1A 00 04 4D 51 54 54 05 06 00 3C 00 00 01 63 05 11 00 00 00 01 00 01 77 00 01 78", V5,
            ReasonCode::MalformedPacket);
}

TEST_CASE("CONNACK 5.0: exact bytes with and without properties") {
    Connack c;
    CHECK(enc(c, V5) == "20 03 00 00 00");
    c.reason = ReasonCode::NotAuthorized;
    CHECK(enc(c, V5) == "20 03 00 87 00");
    c.reason = ReasonCode::Success;
    c.props.assigned_client_identifier = "id";
    c.props.topic_alias_maximum = 10;
    CHECK(enc(c, V5) == "20 0B 00 00 08 12 00 02 69 64 22 00 0A");
    auto back = dec_ok<Connack>("20 0B 00 00 08 12 00 02 69 64 22 00 0A", V5);
    CHECK(back.props == c.props);
    dec_err("20 03 00 01 00", V5, ReasonCode::ProtocolError);     // 0x01 is not a CONNACK code
    dec_err("20 02 00 00", V5, ReasonCode::MalformedPacket);       // property length missing
    dec_err("20 04 00 00 01 24", V5, ReasonCode::MalformedPacket);  // property runs past its block
}

TEST_CASE("CONNACK 5.0 round trip with every CONNACK property") {
    Connack c;
    c.session_present = true;
    c.props.session_expiry_interval = 10;
    c.props.receive_maximum = 5;
    c.props.maximum_qos = 1;
    c.props.retain_available = 0;
    c.props.maximum_packet_size = 1024;
    c.props.assigned_client_identifier = "auto-1";
    c.props.topic_alias_maximum = 3;
    c.props.reason_string = "ok";
    c.props.user_properties = {{"x", "y"}};
    c.props.wildcard_subscription_available = 1;
    c.props.subscription_identifier_available = 1;
    c.props.shared_subscription_available = 0;
    c.props.server_keep_alive = 30;
    c.props.response_information = "resp/";
    c.props.server_reference = "other";
    c.props.authentication_method = "m";
    c.props.authentication_data = "d";
    auto back = round_trip(c, V5);
    CHECK(back.session_present);
    CHECK(back.props == c.props);
    dec_err("20 05 00 00 02 24 02", V5, ReasonCode::ProtocolError);  // maximum QoS 2
    dec_err("20 05 00 00 02 25 05", V5, ReasonCode::ProtocolError);  // retain available 5
}

// --- PUBLISH ---

TEST_CASE("PUBLISH 5.0 QoS 0 and QoS 1 with properties: exact bytes") {
    Publish p;
    p.topic = "a/b";
    p.payload = std::make_shared<const std::string>("hi");
    CHECK(enc(p, V5) == "30 08 00 03 61 2F 62 00 68 69");
    p.qos = 1;
    p.packet_id = 10;
    p.props.message_expiry_interval = 60;
    p.props.topic_alias = 5;
    p.props.user_properties = {{"k", "v"}};
    const char* bytes = "32 19 00 03 61 2F 62 00 0A 0F 02 00 00 00 3C 23 00 05 26 00 01 6B 00 01 76 68 69";
    CHECK(enc(p, V5) == bytes);
    auto back = dec_ok<Publish>(bytes, V5);
    CHECK(back.props == p.props);
    CHECK(*back.payload == "hi");
    // the same packet in 3.1.1 drops the properties
    CHECK(enc(p, V311) == "32 09 00 03 61 2F 62 00 0A 68 69");
}

TEST_CASE("PUBLISH 5.0 round trip with every PUBLISH property") {
    Publish p;
    p.topic = "users/bob/alice";
    p.qos = 2;
    p.packet_id = 65535;
    p.payload = std::make_shared<const std::string>(std::string("\0\1\2", 3));
    p.props.payload_format_indicator = 0;
    p.props.message_expiry_interval = 1;
    p.props.content_type = "text/plain";
    p.props.response_topic = "users/alice/bob";
    p.props.correlation_data = std::string("\xFF\x00", 2);
    p.props.subscription_identifiers = {1, 268435455};
    p.props.topic_alias = 1;
    p.props.user_properties = {{"seq", "17"}, {"ts", "1"}};
    auto back = round_trip(p, V5);
    CHECK(back.props == p.props);
    CHECK(*back.payload == *p.payload);
    CHECK(back.packet_id == 65535);
}

TEST_CASE("PUBLISH 5.0 with an empty topic needs a topic alias (spec 3.3.2.1)") {
    auto p = dec_ok<Publish>("30 07 00 00 03 23 00 05 68", V5);
    CHECK(p.topic.empty());
    CHECK(p.props.topic_alias == 5);
    dec_err("30 03 00 00 00", V5, ReasonCode::ProtocolError);
}

TEST_CASE("PUBLISH 5.0 property rules") {
    // several subscription identifiers are allowed in PUBLISH
    auto p = dec_ok<Publish>(publish_with_props("0B 01 0B 02"), V5);
    CHECK(p.props.subscription_identifiers == std::vector<uint32_t>{1, 2});
    CHECK(dec_err(publish_with_props("0B 00"), V5, ReasonCode::ProtocolError) == "subscription identifier is 0");
    dec_err(publish_with_props("0B 80 00"), V5, ReasonCode::MalformedPacket);  // non-minimal varint
    dec_err(publish_with_props("23 00 01 23 00 02"), V5, ReasonCode::ProtocolError);  // topic alias twice
    dec_err(publish_with_props("01 02"), V5, ReasonCode::ProtocolError);       // payload format 2
    dec_err(publish_with_props("08 00 02 61 23"), V5, ReasonCode::ProtocolError);  // [MQTT-3.3.2-14]
    dec_err(publish_with_props("03 00 01 FF"), V5, ReasonCode::MalformedPacket);   // content type UTF-8
    dec_err(publish_with_props("26 00 01 61 00 01 C0"), V5, ReasonCode::MalformedPacket);
    dec_err(publish_with_props("05 00"), V5, ReasonCode::MalformedPacket);  // unknown property 0x05
    dec_err(publish_with_props("11 00 00 00 01"), V5, ReasonCode::MalformedPacket);  // not allowed
    dec_err(publish_with_props("23 00"), V5, ReasonCode::MalformedPacket);  // value cut short
    dec_err("30 05 00 01 74 05 23", V5, ReasonCode::MalformedPacket);      // length past the packet
    dec_err("30 03 00 01 74", V5, ReasonCode::MalformedPacket);            // property length missing
}

// --- acks ---

TEST_CASE("PUBACK 5.0 short and long forms") {
    Ack a{PacketType::Puback, 10, ReasonCode::Success, {}};
    CHECK(enc(a, V5) == "40 02 00 0A");
    a.reason = ReasonCode::NoMatchingSubscribers;
    CHECK(enc(a, V5) == "40 03 00 0A 10");
    a.reason = ReasonCode::NotAuthorized;
    a.props.reason_string = "no";
    CHECK(enc(a, V5) == "40 09 00 0A 87 05 1F 00 02 6E 6F");
    auto back = dec_ok<Ack>("40 09 00 0A 87 05 1F 00 02 6E 6F", V5);
    CHECK(back.reason == ReasonCode::NotAuthorized);
    CHECK(back.props.reason_string == "no");
    // remaining length 2, 3 and 4 all decode [spec 3.4.2.1]
    CHECK(dec_ok<Ack>("40 02 00 0A", V5).reason == ReasonCode::Success);
    CHECK(dec_ok<Ack>("40 03 00 0A 10", V5).reason == ReasonCode::NoMatchingSubscribers);
    CHECK(dec_ok<Ack>("40 04 00 0A 10 00", V5).reason == ReasonCode::NoMatchingSubscribers);
    dec_err("40 06 00 0A 00 02 0B 01", V5, ReasonCode::MalformedPacket);  // subscription id in PUBACK
    dec_err("40 03 00 0A 05", V5, ReasonCode::ProtocolError);              // unknown reason code
    dec_err("40 02 00 00", V5, ReasonCode::ProtocolError);                 // packet id 0
}

TEST_CASE("PUBREC PUBREL PUBCOMP 5.0") {
    CHECK(enc(Ack{PacketType::Pubrel, 10, ReasonCode::PacketIdentifierNotFound, {}}, V5) == "62 03 00 0A 92");
    CHECK(enc(Ack{PacketType::Pubrec, 10, ReasonCode::QuotaExceeded, {}}, V5) == "50 03 00 0A 97");
    CHECK(enc(Ack{PacketType::Pubcomp, 10, ReasonCode::Success, {}}, V5) == "70 02 00 0A");
    CHECK(dec_ok<Ack>("62 03 00 0A 92", V5).type == PacketType::Pubrel);
    dec_err("62 03 00 0A 10", V5, ReasonCode::ProtocolError);  // 0x10 is not a PUBREL code
    Ack rel{PacketType::Pubrel, 3, ReasonCode::Success, {}};
    rel.props.user_properties = {{"a", "b"}};
    auto back = round_trip(rel, V5);
    CHECK(back.props == rel.props);
}

// --- subscriptions ---

TEST_CASE("SUBSCRIBE 5.0 with options and a subscription identifier: exact bytes") {
    Subscribe s;
    s.packet_id = 1;
    s.props.subscription_identifiers = {5};
    s.subscriptions = {{"a/+", {1, true, true, 2}}};
    CHECK(enc(s, V5) == "82 0B 00 01 02 0B 05 00 03 61 2F 2B 2D");
    auto back = dec_ok<Subscribe>("82 0B 00 01 02 0B 05 00 03 61 2F 2B 2D", V5);
    REQUIRE(back.subscriptions.size() == 1);
    const auto& o = back.subscriptions[0].options;
    CHECK(o.qos == 1);
    CHECK(o.no_local);
    CHECK(o.retain_as_published);
    CHECK(o.retain_handling == 2);
    CHECK(back.props.subscription_identifiers == std::vector<uint32_t>{5});
}

TEST_CASE("SUBSCRIBE 5.0 errors") {
    dec_err("82 07 00 01 00 00 01 61 30", V5, ReasonCode::ProtocolError);    // retain handling 3
    dec_err("82 07 00 01 00 00 01 61 40", V5, ReasonCode::MalformedPacket);  // [MQTT-3.8.3-5]
    dec_err("82 07 00 01 00 00 01 61 03", V5, ReasonCode::MalformedPacket);  // QoS 3
    dec_err("82 03 00 01 00", V5, ReasonCode::ProtocolError);                // no filters
    dec_err("82 09 00 01 02 0B 00 00 01 61 00", V5, ReasonCode::ProtocolError);  // subscription id 0
    dec_err("82 0B 00 01 04 0B 01 0B 02 00 01 61 00", V5, ReasonCode::ProtocolError);  // twice
    dec_err("82 0A 00 01 03 23 00 01 00 01 61 00", V5, ReasonCode::MalformedPacket);  // topic alias
    // [MQTT-3.8.3-4] no local on a shared subscription
    dec_err("82 10 00 01 00 00 0A 24 73 68 61 72 65 2F 67 2F 61 04", V5, ReasonCode::ProtocolError);
    auto s = dec_ok<Subscribe>("82 10 00 01 00 00 0A 24 73 68 61 72 65 2F 67 2F 61 01", V5);
    CHECK(s.subscriptions[0].filter == "$share/g/a");
    // 3.1.1 options bits 2..5 are reserved there, not in 5.0
    dec_err("82 06 00 01 00 01 61 2D", V311, ReasonCode::MalformedPacket);
}

TEST_CASE("SUBACK UNSUBSCRIBE UNSUBACK 5.0: exact bytes") {
    Suback sa;
    sa.packet_id = 1;
    sa.reasons = {ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized};
    CHECK(enc(sa, V5) == "90 05 00 01 00 01 87");
    sa.props.reason_string = "r";
    auto back = round_trip(sa, V5);
    CHECK(back.reasons == sa.reasons);
    CHECK(back.props == sa.props);
    dec_err("90 04 00 01 00 05", V5, ReasonCode::ProtocolError);

    Unsubscribe u;
    u.packet_id = 2;
    u.filters = {"a/+"};
    CHECK(enc(u, V5) == "A2 08 00 02 00 00 03 61 2F 2B");
    u.props.user_properties = {{"k", "v"}};
    u.filters.push_back("$share/g/#");
    CHECK(round_trip(u, V5).filters == u.filters);
    dec_err("A2 03 00 02 00", V5, ReasonCode::ProtocolError);

    Unsuback ua;
    ua.packet_id = 2;
    ua.reasons = {ReasonCode::Success, ReasonCode::NoSubscriptionExisted};
    CHECK(enc(ua, V5) == "B0 05 00 02 00 00 11");
    CHECK(dec_ok<Unsuback>("B0 05 00 02 00 00 11", V5).reasons == ua.reasons);
    dec_err("B0 04 00 02 00 01", V5, ReasonCode::ProtocolError);
}

// --- DISCONNECT / AUTH ---

TEST_CASE("DISCONNECT 5.0: empty, reason only, reason and properties") {
    CHECK(enc(Disconnect{}, V5) == "E0 00");
    CHECK(enc(Disconnect{ReasonCode::DisconnectWithWill, {}}, V5) == "E0 01 04");
    Disconnect d{ReasonCode::SessionTakenOver, {}};
    d.props.session_expiry_interval = 0;
    CHECK(enc(d, V5) == "E0 07 8E 05 11 00 00 00 00");
    CHECK(dec_ok<Disconnect>("E0 00", V5).reason == ReasonCode::Success);
    CHECK(dec_ok<Disconnect>("E0 01 04", V5).reason == ReasonCode::DisconnectWithWill);
    CHECK(dec_ok<Disconnect>("E0 02 04 00", V5).reason == ReasonCode::DisconnectWithWill);
    auto back = dec_ok<Disconnect>("E0 07 8E 05 11 00 00 00 00", V5);
    CHECK(back.props.session_expiry_interval == 0u);
    dec_err("E0 01 05", V5, ReasonCode::ProtocolError);
    dec_err("E0 04 00 02 23 00", V5, ReasonCode::MalformedPacket);
    d.props.reason_string = "bye";
    d.props.server_reference = "elsewhere";
    d.props.user_properties = {{"a", ""}};
    CHECK(round_trip(d, V5).props == d.props);
}

TEST_CASE("AUTH 5.0") {
    CHECK(enc(Auth{}, V5) == "F0 00");
    Auth a{ReasonCode::ContinueAuthentication, {}};
    a.props.authentication_method = "m";
    CHECK(enc(a, V5) == "F0 06 18 04 15 00 01 6D");
    auto back = dec_ok<Auth>("F0 06 18 04 15 00 01 6D", V5);
    CHECK(back.reason == ReasonCode::ContinueAuthentication);
    CHECK(back.props.authentication_method == "m");
    dec_err("F0 06 18 04 16 00 01 6D", V5, ReasonCode::ProtocolError);  // data without method
    dec_err("F0 02 10 00", V5, ReasonCode::ProtocolError);               // 0x10 is not an AUTH code
    a.props.authentication_data = "data";
    a.props.reason_string = "more";
    CHECK(round_trip(a, V5).props == a.props);
}

TEST_CASE("properties_size counts the length varint") {
    Properties p;
    CHECK(properties_size(p) == 1);
    p.topic_alias = 1;
    CHECK(properties_size(p) == 4);
    p.user_properties.push_back({std::string(200, 'k'), ""});
    CHECK(properties_size(p) == 2 + 3 + 1 + 2 + 200 + 2);
}

TEST_CASE("reason codes: 3.1.1 mappings and names") {
    CHECK(suback_code_v311(ReasonCode::Success) == 0);
    CHECK(suback_code_v311(ReasonCode::GrantedQoS2) == 2);
    CHECK(suback_code_v311(ReasonCode::QuotaExceeded) == 0x80);
    CHECK(connack_code_v311(ReasonCode::ServerBusy) == ConnackCodeV311::ServerUnavailable);
    CHECK(reason_name(ReasonCode::QuotaExceeded) == "Quota exceeded");
    CHECK(reason_name(ReasonCode::MalformedPacket) == "Malformed Packet");
    CHECK(reason_name(static_cast<ReasonCode>(0x03)) == "Unknown reason code");
    CHECK(is_error(ReasonCode::UnspecifiedError));
    CHECK_FALSE(is_error(ReasonCode::GrantedQoS2));
}
