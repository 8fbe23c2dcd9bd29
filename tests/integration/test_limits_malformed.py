"""Limits and bad input (SPEC 6): a client that breaks a limit or sends malformed bytes gets a
clear reason (5.0 DISCONNECT reason code, 3.1.1 close) and everybody else goes on being served.

After each bad input a Healthy client, connected before the misbehaving one, does a QoS 1 round
trip, and the broker must still be alive. Byte-level clients come from v5util.
"""
import random
import struct
import threading
import time

import pytest

from v5util import (
    CONNACK, DISCONNECT, P_MAXIMUM_PACKET_SIZE, P_SESSION_EXPIRY, PINGREQ, PUBACK, PUBLISH, SUBACK,
    SUBSCRIBE, Healthy, Raw, connect_bytes, connected, expect_rejected, heraldd_only, on_mosquitto,
    packet, parse_connack, parse_reason, parse_suback, peak_rss_kib, prop, props_all,
    publish_bytes, subscribe_bytes, ustr, varint,
)

VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]


# ---------------------------------------------------------------- packet size

@pytest.mark.parametrize("version", VERSIONS)
def test_packet_over_max_packet_size_mqtt_3_2_2_15(make_broker, version):
    """max_packet_size = 1000: a 2000-byte PUBLISH breaks the announced limit [MQTT-3.2.2-15]
    and gets DISCONNECT 0x95 (5.0) and a close (SPEC 6); others are still served; a packet of
    exactly 1000 bytes is accepted."""
    broker = make_broker(config="max_packet_size = 1000\n")
    h = Healthy(broker)
    c = connected(broker, "too-big", version=version)
    c.send(publish_bytes("big/t", b"x" * 2000, qos=1, pid=1, version=version))
    expect_rejected(c, codes=(0x95,))
    h.check()
    # Exactly at the limit is fine.
    ok = connected(broker, "at-limit", version=version)
    assert ok.subscribe("lim/t") == [1]
    body_len = 1000 - 1 - len(varint(1000))
    overhead = 2 + len("lim/t") + 2 + (1 if version == 5 else 0)
    payload = b"y" * (body_len - overhead)
    pkt = publish_bytes("lim/t", payload, qos=1, pid=9, version=version)
    assert len(pkt) == 1000
    ok.send(pkt)
    got = ok.recv_publish()
    assert got.payload == payload
    assert broker.alive()


@pytest.mark.parametrize("version", VERSIONS)
def test_connect_over_max_packet_size(make_broker, version):
    """A CONNECT larger than max_packet_size is refused (a CONNACK, if any, carries 0x95 in 5.0
    or a non-zero code) and closed (SPEC 6)."""
    broker = make_broker(config="max_packet_size = 1000\n")
    h = Healthy(broker)
    c = Raw(broker, version)
    c.send(connect_bytes("bigconnect", version=version, username="u", password=b"p" * 2000))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    for t, _, b in seen:
        assert t == CONNACK, seen
        rc = parse_connack(b, version)[1]
        assert rc != 0 and (version == 4 or rc == 0x95 or on_mosquitto()), seen
    h.check()


def test_huge_remaining_length_closed_at_once(make_broker):
    """A fixed header announcing ~256 MiB that never arrives is refused from the header alone:
    the connection is closed at once (DISCONNECT 0x95 in 5.0), not after waiting for the body."""
    broker = make_broker(config="max_packet_size = 1000\n")
    h = Healthy(broker)
    c = connected(broker, "huge-header")
    start = time.monotonic()
    c.send(bytes([0x30]) + varint(268435455))
    expect_rejected(c, codes=(0x95,), timeout=3)
    assert time.monotonic() - start < 2.0
    h.check()


def test_huge_remaining_length_default_limit(broker):
    """The same with the default limit (1 MiB): 200 MiB announced is refused at once."""
    h = Healthy(broker)
    c = connected(broker, "huge-header-default")
    start = time.monotonic()
    c.send(bytes([0x30]) + varint(200 * 1024 * 1024) + b"\x00\x01a")
    if on_mosquitto():  # mosquitto has no default limit: it would wait for the body
        c.close()
    else:
        expect_rejected(c, codes=(0x95,), timeout=3)
        assert time.monotonic() - start < 2.0
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_remaining_length_five_bytes_mqtt_1_5_5(broker, version):
    """A Remaining Length of 5 bytes is malformed [MQTT-1.5.5 / 2.2.3]: close (5.0: 0x81)."""
    h = Healthy(broker)
    c = connected(broker, "varint5", version=version)
    c.send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16)
    expect_rejected(c, codes=(0x81,))
    h.check()


BAD_CONNECT_PROPS = [
    pytest.param([(P_MAXIMUM_PACKET_SIZE, 0)], id="max-packet-size-0"),
    pytest.param([(0x21, 0)], id="receive-maximum-0"),
    pytest.param([(0x11, 10), (0x11, 20)], id="duplicate-session-expiry"),
    pytest.param([(0x17, 2)], id="request-problem-info-2"),
    pytest.param([(0x19, 5)], id="request-response-info-5"),
    pytest.param([(0x01, 1)], id="payload-format-in-connect"),
    pytest.param(b"\x7f\x00", id="unknown-property"),
    pytest.param(b"\x11\x00\x00", id="truncated-property"),
]


@pytest.mark.parametrize("props", BAD_CONNECT_PROPS)
def test_bad_connect_properties_mqtt_3_1_2_11(broker, props):
    """Malformed or forbidden CONNECT properties [MQTT-2.2.2-2, MQTT-3.1.2.11]: the connection
    is refused (a CONNACK, if any, carries an error code >= 0x80) and closed."""
    h = Healthy(broker)
    c = Raw(broker)
    c.send(connect_bytes("badprops", props=props))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    for t, _, b in seen:
        assert t == CONNACK, seen
        assert parse_connack(b)[1] in (0x81, 0x82), seen
    h.check()


BAD_PUBLISH_PROPS = [
    pytest.param([(0x0B, 1)], id="subscription-id-from-client",     # [MQTT-3.3.4-6]
                 marks=pytest.mark.xfail(on_mosquitto(), reason="mosquitto 2.0.11 accepts it")),
    pytest.param([(0x23, 1), (0x23, 2)], id="duplicate-topic-alias"),
    pytest.param([(0x11, 5)], id="session-expiry-in-publish"),
    pytest.param(b"\x02\x00\x00", id="truncated-expiry"),
    pytest.param(b"\x26\x00\x01k", id="user-property-without-value"),
]


@pytest.mark.parametrize("props", BAD_PUBLISH_PROPS)
def test_bad_publish_properties_mqtt_2_2_2_2(broker, props):
    """Malformed or forbidden PUBLISH properties: DISCONNECT 0x81/0x82 and close."""
    h = Healthy(broker)
    c = connected(broker, "badpubprops")
    c.send(publish_bytes("bp/t", b"x", qos=1, pid=1, props=props))
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


def test_subscription_identifier_zero_mqtt_3_8_2_1_2(broker):
    """A Subscription Identifier of 0 is a Protocol Error [MQTT-3.8.2.1.2]."""
    h = Healthy(broker)
    c = connected(broker, "subid0")
    c.send(subscribe_bytes(1, [("s/t", 0)], props=[(0x0B, 0)]))
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


# ---------------------------------------------------------------- bad UTF-8 / bad topics

BAD_UTF8 = [
    pytest.param(b"a/\xff\xfe", id="invalid-bytes"),
    pytest.param(b"a/\x00/b", id="nul"),
    pytest.param(b"a/\xed\xa0\x80", id="surrogate-D800"),
    pytest.param(b"a/\xc0\xaf", id="overlong-slash"),
    pytest.param(b"a/\xe0\x80\xaf", id="overlong-3byte"),
    pytest.param(b"a/\xe2\x82", id="truncated"),
    pytest.param(b"a/\xf4\x90\x80\x80", id="above-10FFFF"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topic", BAD_UTF8)
def test_bad_utf8_topic_mqtt_1_5_4_1(broker, version, topic):
    """A topic that is not well-formed UTF-8 or contains U+0000 is malformed [MQTT-1.5.4-1,
    MQTT-1.5.4-2]: close (5.0: DISCONNECT 0x81 first, SPEC 6). Nobody receives it."""
    h = Healthy(broker)
    watcher = connected(broker, "utf8-watch")
    assert watcher.subscribe([("#", 0)]) == [0]
    c = connected(broker, "bad-utf8", version=version)
    c.send(publish_bytes(topic, b"bad", qos=1, pid=3, version=version))
    expect_rejected(c, codes=(0x81,))
    h.check()
    seen = watcher.recv_until(h.topic)
    assert all(m.payload != b"bad" for m in seen), seen


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("field", ["client_id", "filter", "will_topic", "username"])
def test_bad_utf8_in_other_strings(broker, version, field):
    """Bad UTF-8 (a surrogate) in the client id, a filter, the will topic or the username is
    malformed too [MQTT-1.5.4-1]: the connection is refused or closed, never served."""
    h = Healthy(broker)
    bad = b"x\xed\xa0\x80y"
    c = Raw(broker, version)
    if field == "filter":
        c.connect("bad-filter")
        c.send(subscribe_bytes(1, [(bad, 0)], version=version))
        expect_rejected(c, codes=(0x81,))
    else:
        kw = {"client_id": bad} if field == "client_id" else {"client_id": "bad-" + field}
        if field == "will_topic":
            kw["will"] = {"topic": bad, "payload": b"w"}
        if field == "username":
            kw["username"] = bad
        c.send(connect_bytes(version=version, **kw))
        seen = c.closed_after(5)
        assert seen is not None, "connection must be closed"
        for t, _, b in seen:
            assert t == CONNACK, "only a refusing CONNACK may come: %r" % ((t, b),)
            assert parse_connack(b, version)[1] != 0
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topic", ["a/+/b", "a/#", "+", "#"])
def test_wildcard_in_publish_topic_mqtt_3_3_2_2(broker, version, topic):
    """A PUBLISH topic must not contain wildcards [MQTT-3.3.2-2]: close (5.0: DISCONNECT 0x90
    Topic Name invalid, or 0x81/0x82)."""
    h = Healthy(broker)
    c = connected(broker, "wild-pub", version=version)
    c.send(publish_bytes(topic, b"w", qos=1, pid=1, version=version))
    expect_rejected(c, codes=(0x81, 0x82, 0x90))
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_topic_without_alias_mqtt_3_3_2_1(broker, version):
    """An empty topic name (without a topic alias) is a protocol violation [MQTT-4.7.3-1]."""
    h = Healthy(broker)
    c = connected(broker, "empty-topic", version=version)
    c.send(publish_bytes("", b"e", qos=0, version=version))
    expect_rejected(c, codes=(0x81, 0x82, 0x90))
    h.check()


# ---------------------------------------------------------------- SUBSCRIBE

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("flags", [0x00, 0x03, 0x0A])
def test_subscribe_reserved_flags_mqtt_3_8_1_1(broker, version, flags):
    """SUBSCRIBE fixed-header flags must be 0010 [MQTT-3.8.1-1]: otherwise malformed, close."""
    h = Healthy(broker)
    c = connected(broker, "sub-flags", version=version)
    c.send(subscribe_bytes(1, [("ok/t", 0)], version=version, flags=flags))
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_subscribe_without_filters_mqtt_3_8_3_2(broker, version):
    """A SUBSCRIBE with no topic filter is a protocol violation [MQTT-3.8.3-2]: close."""
    h = Healthy(broker)
    c = connected(broker, "sub-empty", version=version)
    c.send(subscribe_bytes(1, [], version=version))
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_subscribe_bad_options_mqtt_3_8_3_5(broker, version):
    """Subscription options: QoS 3 (and in 5.0 Retain Handling 3 or reserved bits) are
    malformed [MQTT-3.8.3-4, MQTT-3-8.3-5]: close."""
    h = Healthy(broker)
    c = connected(broker, "sub-opts", version=version)
    c.send(subscribe_bytes(1, [("ok/t", 3)], version=version))
    expect_rejected(c, codes=(0x81, 0x82))
    if version == 5:
        for opts in (0x30, 0xC0):
            c = connected(broker, "sub-opts-%x" % opts)
            c.send(subscribe_bytes(1, [("ok/t", opts)], version=version))
            expect_rejected(c, codes=(0x81, 0x82))
    h.check()


# Violations mosquitto 2.0.11 ignores (heraldd must not): (case name, protocol version).
MOSQUITTO_LAX = {(n, v) for n in ("pingreq-flags", "pingreq-with-body", "pingresp-from-client",
                                  "suback-from-client") for v in (4, 5)}
MOSQUITTO_GRANTS = {"$share/g", "$share//t", "$share/g/"}
INVALID_FILTERS = ["a/#/b", "a+", "a/b#", "+a/b", "#/", "", "$share/g", "$share//t",
                   "$share/g+/t", "$share/g#/t", "$share/g/"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("flt", INVALID_FILTERS, ids=[repr(f) for f in INVALID_FILTERS])
def test_invalid_topic_filter_mqtt_4_7_1(broker, version, flt):
    """An invalid filter [MQTT-4.7.1-1, -2, MQTT-4.7.3-1, MQTT-4.8.2-1, -2] gets either a SUBACK
    failure for that filter (0x80 in 3.1.1, 0x8F/0x9E... >= 0x80 in 5.0) while the valid filter
    beside it is granted, or a close (5.0: DISCONNECT 0x81/0x82/0x8F). Never a subscription."""
    if version == 4 and flt.startswith("$share"):
        pytest.skip("shared subscriptions are a 5.0 feature")
    if on_mosquitto() and flt in MOSQUITTO_GRANTS:
        pytest.xfail("mosquitto 2.0.11 grants %r" % flt)
    h = Healthy(broker)
    c = connected(broker, "bad-filter", version=version)
    c.send(subscribe_bytes(1, [("good/t", 1), (flt, 1)], version=version))
    try:
        t, f, b = c.recv_packet(5)
    except ConnectionError:
        t = None
    if t == SUBACK:
        pid, codes, _ = parse_suback(b, version)
        assert pid == 1 and len(codes) == 2
        assert codes[0] == 1
        assert codes[1] >= 0x80, "invalid filter %r was granted: %r" % (flt, codes)
        c.ping()
    else:
        if t == DISCONNECT:
            assert version == 5
            assert parse_reason(b)[1] in (0x81, 0x82, 0x8F)
        assert c.closed_after(5) is not None
    h.check()


# ---------------------------------------------------------------- PUBLISH flags

@pytest.mark.parametrize("version", VERSIONS)
def test_publish_qos3_mqtt_3_3_1_4(broker, version):
    """A PUBLISH with both QoS bits set is malformed [MQTT-3.3.1-4]: close (5.0: 0x81)."""
    h = Healthy(broker)
    c = connected(broker, "qos3", version=version)
    body = ustr("q3/t") + struct.pack("!H", 1) + (b"\x00" if version == 5 else b"") + b"p"
    c.send(packet(PUBLISH, 0x06, body))
    expect_rejected(c, codes=(0x81,))
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_publish_qos0_with_dup_mqtt_3_3_1_2(broker, version):
    """DUP must be 0 for QoS 0 messages [MQTT-3.3.1-2]: a protocol violation, close."""
    if on_mosquitto():
        pytest.xfail("mosquitto 2.0.11 ignores DUP on QoS 0")
    h = Healthy(broker)
    c = connected(broker, "dup0", version=version)
    c.send(packet(PUBLISH, 0x08, ustr("d/t") + (b"\x00" if version == 5 else b"") + b"p"))
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_reserved_packet_type_zero(broker, version):
    """Packet type 0 is reserved: close (5.0: 0x81)."""
    h = Healthy(broker)
    c = connected(broker, "type0", version=version)
    c.send(bytes([0x00, 0x00]))
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


# ---------------------------------------------------------------- other malformed packets

def _malformed_cases(v):
    props = b"\x00" if v == 5 else b""
    return {
        # [MQTT-2.2.1-3 / MQTT-2.3.1-1]: QoS > 0 PUBLISH needs a non-zero packet id.
        "publish-packet-id-0": packet(PUBLISH, 0x02, ustr("m/t") + b"\x00\x00" + props + b"p"),
        # Topic length pointing past the end of the packet.
        "topic-length-past-end": packet(PUBLISH, 0x00, b"\x00\x40m/t"),
        # Remaining length 1: not even a topic length.
        "publish-too-short": packet(PUBLISH, 0x00, b"\x00"),
        "subscribe-packet-id-0": packet(SUBSCRIBE, 0x02,
                                        b"\x00\x00" + props + ustr("m/t") + b"\x00"),
        # [MQTT-3.10.1-1]: UNSUBSCRIBE flags must be 0010; [MQTT-3.10.3-2]: at least one filter.
        "unsubscribe-flags": packet(10, 0x00, b"\x00\x01" + props + ustr("m/t")),
        "unsubscribe-empty": packet(10, 0x02, b"\x00\x01" + props),
        # [MQTT-3.6.1-1]: PUBREL flags must be 0010.
        "pubrel-flags": packet(6, 0x00, b"\x00\x01"),
        # PINGREQ has no variable header: a non-zero remaining length is malformed.
        "pingreq-with-body": packet(PINGREQ, 0, b"\x00"),
        "pingreq-flags": packet(PINGREQ, 0x01, b""),
        # Server-to-client packet types sent by a client.
        "connack-from-client": packet(CONNACK, 0, b"\x00\x00" + props),
        "suback-from-client": packet(SUBACK, 0, b"\x00\x01" + props + b"\x00"),
        "pingresp-from-client": packet(13, 0, b""),
        # A property length longer than the packet.
        "property-length-past-end": (packet(PUBLISH, 0x00, ustr("m/t") + b"\x40")
                                     if v == 5 else packet(PUBLISH, 0x00, b"\x00\x05m/t")),
    }


MALFORMED_NAMES = sorted(_malformed_cases(5))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", MALFORMED_NAMES)
def test_malformed_packet_after_connect(broker, version, name):
    """Each malformed packet or protocol violation closes the connection (5.0: DISCONNECT
    0x81/0x82 first, SPEC 6) and the broker serves others on."""
    if on_mosquitto() and (name, version) in MOSQUITTO_LAX:
        pytest.xfail("mosquitto 2.0.11 tolerates %s" % name)
    h = Healthy(broker)
    c = connected(broker, "malformed", version=version)
    c.send(_malformed_cases(version)[name])
    expect_rejected(c, codes=(0x81, 0x82))
    h.check()


def test_auth_packet_without_authentication_method_mqtt_4_12_0_1(broker):
    """An AUTH packet when the CONNECT had no Authentication Method is a Protocol Error
    [MQTT-3.15.2-1, MQTT-4.12.0-?]: DISCONNECT 0x82 (or 0x81) and close."""
    h = Healthy(broker)
    c = connected(broker, "auth-nomethod")
    c.send(packet(15, 0, b"\x18\x00"))
    expect_rejected(c, codes=(0x82, 0x81))
    h.check()


# ---------------------------------------------------------------- CONNECT

@pytest.mark.parametrize("first", ["publish", "pingreq", "subscribe", "connack"])
def test_first_packet_not_connect_mqtt_3_1_0_1(broker, first):
    """The first packet must be CONNECT [MQTT-3.1.0-1]: the connection is closed, nothing is
    answered, and the publish is not routed."""
    h = Healthy(broker)
    watcher = connected(broker, "first-watch")
    assert watcher.subscribe([("first/#", 0)]) == [0]
    c = Raw(broker)
    data = {"publish": publish_bytes("first/t", b"nope", version=4),
            "pingreq": packet(PINGREQ, 0, b""),
            "subscribe": subscribe_bytes(1, [("first/#", 0)], version=4),
            "connack": packet(CONNACK, 0, b"\x00\x00")}[first]
    c.send(data)
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    assert all(t in (CONNACK, DISCONNECT) for t, _, _ in seen), seen
    h.check()
    watcher.publish("first/sentinel", b"", qos=1)
    assert watcher.recv_until("first/sentinel") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_second_connect_mqtt_3_1_0_2(broker, version):
    """A second CONNECT is a protocol violation [MQTT-3.1.0-2]: close (5.0: DISCONNECT 0x82)."""
    h = Healthy(broker)
    c = connected(broker, "twice", version=version)
    c.send(connect_bytes("twice", version=version))
    expect_rejected(c, codes=(0x82, 0x81))
    h.check()


def test_unknown_protocol_level_v5_shaped_mqtt_3_1_2_2(broker):
    """Protocol level 6 (a 5.0-shaped CONNECT): CONNACK 0x84 Unsupported Protocol Version, then
    close [MQTT-3.1.2-2]."""
    h = Healthy(broker)
    c = Raw(broker, 5)
    c.send(connect_bytes("lvl6", version=5, proto_level=6))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    assert seen and seen[0][0] == CONNACK, seen
    assert seen[0][2][1] in (0x84, 0x01), seen   # 5.0 form 0x84, or the 3.1.1 form rc 1
    if not on_mosquitto():
        assert seen[0][2][1] == 0x84
    h.check()


def test_unknown_protocol_level_v311_shaped_mqtt_3_1_2_2(broker):
    """Protocol level 2 in a 3.1.1-shaped CONNECT: CONNACK return code 1, then close
    [MQTT-3.1.2-2]."""
    h = Healthy(broker)
    c = Raw(broker, 4)
    c.send(connect_bytes("lvl2", version=4, proto_level=2))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    if not on_mosquitto():
        assert seen and seen[0][0] == CONNACK and seen[0][2][1] == 0x01, seen
    h.check()


@pytest.mark.parametrize("name", [b"MQTX", b"", b"MQIsdpX", b"mqtt"])
def test_bad_protocol_name_mqtt_3_1_2_1(broker, name):
    """An unknown protocol name: the server may close at once [MQTT-3.1.2-1]; it must not accept."""
    h = Healthy(broker)
    c = Raw(broker, 4)
    c.send(connect_bytes("badname", version=4, proto_name=name))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    for t, _, b in seen:
        assert t == CONNACK and b[1] != 0, seen
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_connect_reserved_flag_mqtt_3_1_2_3(broker, version):
    """The reserved CONNECT flag bit 0 must be 0 [MQTT-3.1.2-3]: malformed, close."""
    h = Healthy(broker)
    c = Raw(broker, version)
    c.send(connect_bytes("rsv", version=version, flags_extra=0x01))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    for t, _, b in seen:
        assert t == CONNACK and b[1] != 0, seen
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_password_without_username_v311_and_will_flags(broker, version):
    """Will QoS 3, or will QoS/retain set without the will flag, are malformed [MQTT-3.1.2-11,
    -13, -15]: the connection is refused and closed."""
    h = Healthy(broker)
    for extra in (0x18, 0x08, 0x20):  # will QoS 3 (with will flag below), QoS 1 / retain w/o flag
        c = Raw(broker, version)
        if extra == 0x18:
            c.send(connect_bytes("willq3", version=version,
                                 will={"topic": "w/t", "payload": b"w", "qos": 3}))
        else:
            c.send(connect_bytes("willbad", version=version, flags_extra=extra))
        seen = c.closed_after(5)
        assert seen is not None, "connection must be closed (flags %#x)" % extra
        for t, _, b in seen:
            assert t == CONNACK and b[1] != 0, seen
    h.check()


def test_no_connect_within_connect_timeout(make_broker):
    """connect_timeout = 1: a socket that sends nothing, or only part of a CONNECT, is closed
    within ~2 s (SPEC 6)."""
    broker = make_broker(config="connect_timeout = 1\n")
    h = Healthy(broker)
    idle = Raw(broker)
    partial = Raw(broker)
    start = time.monotonic()
    partial.send(connect_bytes("slow")[:5])
    assert idle.closed_after(4) is not None, "idle socket not closed"
    assert partial.closed_after(4) is not None, "half-CONNECT socket not closed"
    assert time.monotonic() - start < 2.5
    h.check()


# ---------------------------------------------------------------- connection limits

@pytest.mark.parametrize("version", VERSIONS)
def test_max_connections(make_broker, version):
    """max_connections = 3: the 4th client gets CONNACK 0x9F (5.0) / 0x03 (3.1.1) and is closed
    (SPEC 6); once one leaves, a new client is accepted again."""
    broker = make_broker(config="max_connections = 3\n")
    clients = [connected(broker, "mc-%d" % i, version=version) for i in range(3)]
    extra = Raw(broker, version)
    try:
        extra.send(connect_bytes("mc-extra", version=version))
        seen = extra.closed_after(5)
    except OSError:
        seen = []
    assert seen is not None, "4th connection must be refused"
    if not on_mosquitto():  # mosquitto closes the socket without a CONNACK
        assert seen and seen[0][0] == CONNACK, seen
        assert parse_connack(seen[0][2], version)[1] == (0x9F if version == 5 else 0x03)
    for c in clients:
        c.ping()
    clients[0].disconnect()
    deadline = time.monotonic() + 5
    while True:  # the broker notices the disconnect asynchronously
        c = Raw(broker, version)
        c.send(connect_bytes("mc-again", version=version))
        try:
            _, b = c.expect(CONNACK, 2)
            if parse_connack(b, version)[1] == 0:
                break
        except (OSError, AssertionError):
            pass
        c.close()
        assert time.monotonic() < deadline, "no connection accepted after one left"
        time.sleep(0.05)
    c.ping()
    assert broker.alive()


@heraldd_only
def test_max_connect_rate(make_broker):
    """max_connect_rate = 5 per second: a burst of 20 connects gets some CONNACK 0x9F; a second
    later connecting works again (SPEC 6)."""
    broker = make_broker(config="max_connect_rate = 5\n")
    codes = []
    for i in range(20):
        c = Raw(broker)
        c.send(connect_bytes("rate-%d" % i))
        try:
            _, b = c.expect(CONNACK, 5)
            codes.append(parse_connack(b)[1])
        except OSError:
            codes.append(None)
    assert codes.count(0) >= 1
    assert 0x9F in codes, codes
    assert all(x in (0, 0x9F) for x in codes), codes
    time.sleep(1.5)  # the event under test is the rate window passing
    c = Raw(broker)
    c.connect("rate-later")
    c.ping()


# ---------------------------------------------------------------- slow consumer, floods

def test_slow_consumer_memory_bounded(broker):
    """A subscriber that never reads its socket while 20 MiB of QoS 0 is published: the broker's
    memory stays bounded (peak RSS < 200 MiB), the publisher is not blocked, and another
    subscriber still gets the messages (SPEC 6)."""
    slow = Raw(broker, rcvbuf=4096)
    slow.connect("slow")
    assert slow.subscribe([("flood/#", 0)]) == [0]  # from here on, slow never reads
    fast = Raw(broker)
    fast.connect("fast")
    assert fast.subscribe([("flood/#", 0), ("flood-end", 1)]) == [0, 1]
    pub = Raw(broker)
    pub.connect("flooder")
    payload = b"z" * 65536
    total = 20 * 1024 * 1024 // len(payload)
    received = [0]
    stop = threading.Event()

    def drain():
        # The fast subscriber reads concurrently; QoS 0 may be dropped for it too if it lags.
        while not stop.is_set():
            try:
                p = fast.recv_publish(10)
            except (TimeoutError, OSError):
                return
            if p.topic == "flood-end":
                return
            received[0] += 1

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    chunk = publish_bytes("flood/t", payload, qos=0)
    start = time.monotonic()
    for i in range(total):
        pub.send(chunk)
    assert pub.publish("flood-end", b"", qos=1, timeout=30) == 0  # publisher not blocked
    elapsed = time.monotonic() - start
    t.join(30)
    stop.set()
    peak = peak_rss_kib(broker.pid)
    assert peak < 200 * 1024, "broker peak RSS %d KiB" % peak
    assert received[0] > 0, "the reading subscriber got nothing"
    assert elapsed < 30
    h = Healthy(broker)
    h.check()
    slow.close()
    assert broker.alive()


def test_slow_consumer_qos1_queue_bounded(make_broker):
    """A never-reading QoS 1 subscriber with max_queued_messages = 100: 2000 QoS 1 messages of
    4 KiB are all acknowledged to the publisher (not blocked), RSS stays bounded."""
    broker = make_broker(config="max_queued_messages = 100\n")
    slow = Raw(broker, rcvbuf=4096)
    slow.connect("slow1")
    assert slow.subscribe([("q1flood/#", 1)]) == [1]  # from here on, slow never reads
    pub = Raw(broker)
    pub.connect("q1flooder")
    payload = b"q" * 4096
    for i in range(2000):
        pub.send(publish_bytes("q1flood/t", payload, qos=1, pid=i % 60000 + 1))
    for i in range(2000):
        pub.expect(PUBACK, 10)
    assert peak_rss_kib(broker.pid) < 200 * 1024
    Healthy(broker).check()
    slow.close()


def test_slow_consumer_qos0_dropped_before_qos1(broker):
    """A subscriber that stops reading while QoS 0 (12.5 MiB) and QoS 1 (50 small) messages are
    published to it: when it reads again it gets every QoS 1 message, in order; QoS 0 may have
    been dropped (SPEC 6: QoS 0 is dropped first); peak RSS stays < 200 MiB."""
    slow = Raw(broker, rcvbuf=4096)
    slow.connect("mixed-slow")
    assert slow.subscribe([("mix/q0", 0), ("mix/q1", 1)]) == [0, 1]
    pub = connected(broker, "mixed-pub")
    big = publish_bytes("mix/q0", b"0" * 65536, qos=0)
    n1 = 0
    for i in range(200):
        pub.send(big)
        if i % 4 == 3:
            assert pub.publish("mix/q1", b"q1-%d" % n1, qos=1, timeout=10) == 0
            n1 += 1
    assert peak_rss_kib(broker.pid) < 200 * 1024
    q0 = 0
    q1 = []
    deadline = time.monotonic() + 30
    while len(q1) < n1:
        m = slow.recv_publish(max(0.001, deadline - time.monotonic()))
        if m.topic == "mix/q1":
            q1.append(m.payload)
        else:
            q0 += 1
    assert q1 == [b"q1-%d" % i for i in range(n1)]
    assert q0 <= 200
    Healthy(broker).check()


@pytest.mark.parametrize("version", VERSIONS)
def test_flood_of_qos1_publishes_pipelined(make_broker, version):
    """10,000 QoS 1 publishes written at once (distinct packet ids, no waiting) are each
    acknowledged, with their own packet id; a subscriber (whose queue may hold them all:
    max_queued_messages = 20000) gets them all, in order."""
    broker = make_broker(config="max_queued_messages = 20000\n")
    h = Healthy(broker)
    sub = connected(broker, "flood1-sub", version=version)
    assert sub.subscribe([("sf1/t", 1)]) == [1]
    pub = connected(broker, "flood1-pub", version=version)
    n = 10000
    pub.send(b"".join(publish_bytes("sf1/t", b"%d" % i, qos=1, pid=i + 1, version=version)
                      for i in range(n)))
    got = []

    def drain():  # the subscriber reads concurrently so neither side stalls
        try:
            while len(got) < n:
                got.append(sub.recv_publish(30).payload)
        except (TimeoutError, OSError):
            pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    acked = []
    for _ in range(n):
        _, b = pub.expect(PUBACK, 30)
        acked.append(struct.unpack_from("!H", b)[0])
    t.join(60)
    assert sorted(acked) == list(range(1, n + 1))
    assert got == [b"%d" % i for i in range(n)]
    h.check()


@pytest.mark.parametrize("limit", ["max_queued_messages = 10", "max_queued_bytes = 10000"])
def test_offline_queue_bounded(make_broker, limit):
    """An offline persistent session queues at most max_queued_messages messages /
    max_queued_bytes payload bytes (SPEC 5, 6): 50 QoS 1 messages of 1000 bytes published
    while it is away, at most 10 arrive on reconnect, in publish order; the publisher is
    acknowledged every time."""
    broker = make_broker(config=limit + "\n")
    c = Raw(broker)
    c.connect("queued", props=[(P_SESSION_EXPIRY, 300)])
    assert c.subscribe([("oq/t", 1)]) == [1]
    c.disconnect()
    pub = connected(broker, "oq-pub")
    for i in range(50):
        assert pub.publish("oq/t", b"%04d" % i + b"." * 996, qos=1) in (0, 0x10)
    c = Raw(broker)
    sp, _, _ = c.connect("queued", clean=False, props=[(P_SESSION_EXPIRY, 300)])
    assert sp
    assert c.subscribe([("oq/end", 1)]) == [1]
    pub.publish("oq/end", b"", qos=1)
    got = [int(m.payload[:4]) for m in c.recv_until("oq/end")]
    assert 1 <= len(got) <= 10, got
    assert got == sorted(got), got
    Healthy(broker).check()


@pytest.mark.parametrize("version", VERSIONS)
def test_flood_of_small_publishes(broker, version):
    """10,000 small QoS 0 publishes written at once by one client all reach a reading
    subscriber, in order; a QoS 1 publish after them is acknowledged."""
    h = Healthy(broker)
    sub = connected(broker, "flood-sub", version=version)
    assert sub.subscribe([("sf/t", 0), ("sf/end", 1)]) == [0, 1]
    pub = connected(broker, "flood-pub", version=version)
    n = 10000
    pub.send(b"".join(publish_bytes("sf/t", b"%d" % i, version=version) for i in range(n)))
    assert pub.publish("sf/end", b"", qos=1, timeout=30) == 0
    got = sub.recv_until("sf/end", timeout=30)
    assert [m.payload for m in got] == [b"%d" % i for i in range(n)]
    h.check()


@pytest.mark.parametrize("seed", range(8))
def test_garbage_after_connect(broker, seed):
    """Random bytes after a valid CONNECT never crash the broker: the connection is closed or the
    bytes ignored, and others are served (SPEC 6)."""
    h = Healthy(broker)
    rnd = random.Random(seed)
    version = 5 if seed % 2 else 4
    c = connected(broker, "garbage-%d" % seed, version=version)
    try:
        for _ in range(20):
            c.send(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300))))
    except OSError:
        pass
    c.closed_after(2)  # closed or not: either is allowed for arbitrary bytes
    c.close()
    h.check()


@pytest.mark.parametrize("seed", range(4))
def test_garbage_instead_of_connect(broker, seed):
    """Random bytes as the first packet: the connection is closed, the broker carries on."""
    h = Healthy(broker)
    rnd = random.Random(1000 + seed)
    c = Raw(broker)
    try:
        c.send(bytes(rnd.getrandbits(8) for _ in range(2000)))
    except OSError:
        pass
    c.closed_after(5)
    c.close()
    h.check()


def test_mutated_valid_packets(broker):
    """Valid packets with one byte changed (a cheap fuzzer, seeded): never a crash."""
    h = Healthy(broker)
    rnd = random.Random(42)
    base = [
        connect_bytes("mut", version=5, will={"topic": "m/w", "payload": b"w"}, username="u",
                      password=b"p", props=[(0x11, 10), (0x21, 5)]),
        publish_bytes("m/t", b"payload", qos=1, pid=1,
                      props=[(0x23, 1), (0x26, ("k", "v")), (0x09, b"cd")]),
        subscribe_bytes(2, [("m/#", 1), ("$share/g/m", 2)], props=[(0x0B, 3)]),
    ]
    for i in range(60):
        c = Raw(broker)
        pkts = [bytearray(p) for p in base]
        k = rnd.randrange(len(pkts))
        pos = rnd.randrange(len(pkts[k]))
        pkts[k][pos] = rnd.getrandbits(8)
        try:
            c.send(b"".join(bytes(p) for p in pkts))
        except OSError:
            pass
        c.closed_after(0.1)
        c.close()
    h.check()


# ---------------------------------------------------------------- odd but valid input

# Strings a receiver must accept (emoji, BOM) and strings it SHOULD NOT get but MAY refuse as
# malformed (control characters, non-characters [MQTT-1.5.4-2 note; 3.1.1: MQTT-1.5.3-2]).
ODD = [
    pytest.param("\U0001F600\U0001F4A9", True, id="emoji"),
    pytest.param("\ufeffbom", True, id="bom"),   # must not be stripped [MQTT-1.5.4-3]
    pytest.param("\u00e9\u4e2d\u0627", True, id="accents-cjk-arabic"),
    pytest.param("ctl\x01\x02\x1f\x7f\u0085end", False, id="control-chars"),
    pytest.param("\uffff\U0010FFFF", False, id="non-characters"),
    pytest.param("sp ace/ta\tb", False, id="space-tab"),
]


def _refused_or(c, step):
    """After step() on c: either it worked (returns its value) or the broker closed c's
    connection (returns None)."""
    try:
        return step()
    except (ConnectionError, OSError, AssertionError):
        assert c.closed_after(5) is not None, "neither served nor closed"
        return None


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("odd,must_accept", ODD)
def test_odd_valid_utf8_everywhere(broker, version, odd, must_accept):
    """A client id, username, topic, payload of odd but valid UTF-8 never crash the broker
    (SPEC 6). CONNECT is accepted or refused with a code; a topic is delivered byte for byte, or
    (only for control / non-characters) the connection is closed as malformed."""
    h = Healthy(broker)
    c = Raw(broker, version)
    c.send(connect_bytes(odd, version=version, username=odd, password=odd.encode()))
    try:
        _, b = c.expect(CONNACK)
        rc = parse_connack(b, version)[1]
    except ConnectionError:
        rc = None
        assert not must_accept
    if rc != 0:
        assert c.closed_after(5) is not None
    s = connected(broker, "odd-sub", version=version)
    topic = "odd/" + odd
    codes = _refused_or(s, lambda: s.subscribe([(topic, 1)]))
    if must_accept:
        assert codes == [1]
    p = connected(broker, "odd-pub", version=version)
    payload = odd.encode() + bytes(range(256))
    rc = _refused_or(p, lambda: p.publish(topic, payload, qos=1))
    if must_accept:
        assert rc == 0
    if codes == [1] and rc == 0:
        m = s.recv_publish()
        assert m.topic == topic and m.payload == payload
    h.check()


@pytest.mark.parametrize("version", VERSIONS)
def test_longest_topic_65535_bytes(broker, version):
    """A 65535-byte topic (the longest a UTF-8 string can be) is routed byte for byte; a
    65535-byte client id is accepted or refused with a code, never a crash."""
    h = Healthy(broker)
    topic = "long/" + "\u00e9" * ((65535 - 5) // 2)
    assert len(topic.encode()) == 65535
    s = connected(broker, "long-sub", version=version)
    assert s.subscribe([(topic, 1)]) == [1]
    p = connected(broker, "long-pub", version=version)
    p.publish(topic, b"L", qos=1)
    m = s.recv_publish()
    assert m.topic == topic and m.payload == b"L"
    c = Raw(broker, version)
    c.send(connect_bytes("i" * 65535, version=version))
    _, b = c.expect(CONNACK)
    assert parse_connack(b, version)[1] in (0, 0x02, 0x85, 0x80)
    h.check()


def test_many_user_properties_and_big_correlation_data(broker):
    """1000 user properties and 60 KB of correlation data on one PUBLISH pass through intact."""
    h = Healthy(broker)
    s = connected(broker, "props-sub")
    assert s.subscribe("bigprops/t") == [1]
    p = connected(broker, "props-pub")
    ups = [(0x26, ("k%d" % i, "\u2603" * (i % 7))) for i in range(1000)]
    corr = bytes(random.Random(7).getrandbits(8) for _ in range(60000))
    p.publish("bigprops/t", b"x", qos=1, props=ups + [(0x09, corr)])
    m = s.recv_publish()
    assert props_all(m.props, 0x26) == [v for _, v in ups]
    assert prop(m.props, 0x09) == corr
    h.check()
