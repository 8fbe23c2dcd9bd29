# Sessions: persistent sessions keep subscriptions and queue QoS 1/2 while offline, clean start
# discards them, unacknowledged messages are resent with DUP, QoS 2 resumes exactly once, 5.0
# session expiry, session takeover. SPEC 1.
import struct
import time

import pytest
from helpers import *


def persistent(broker, version, client_id, clean=False, expiry=300):
    """A client whose session outlives the connection: 3.1.1 CleanSession=0, 5.0 expiry > 0.
    clean=True (a fresh session) only means something in 5.0 (Clean Start); in 3.1.1 a
    persistent session always connects with CleanSession=0."""
    if version == V311:
        return Client(broker, version, client_id=client_id, clean=False)
    return Client(broker, version, client_id=client_id, clean=clean,
                  properties={"SessionExpiryInterval": expiry})


def fresh_persistent(version):
    """The clean flag of the first raw CONNECT of a persistent session."""
    return version == V5


def expiry_props(seconds):
    return p_u32(0x11, seconds)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_persistent_session_queues_qos1_qos2_offline(broker, version):
    """[MQTT-3.1.2-4/5] a persistent session keeps its subscriptions and stores QoS 1 and 2
    messages while the client is away; [MQTT-3.2.2-2] session present is 1 on resume; QoS 0
    messages are not queued for an offline client (mosquitto's default, SPEC 5)."""
    s = persistent(broker, version, "ps", clean=True)
    s.connect()
    assert s.subscribe("ps/#", 2) == [2]
    s.disconnect()
    p = Client(broker, version, client_id="ps-pub")
    p.connect()
    p.publish("ps/a", b"q1", qos=1)
    p.publish("ps/b", b"q2", qos=2)
    p.publish("ps/c", b"q0", qos=0)
    p.publish("ps/d", b"q1-again", qos=1)
    s2 = persistent(broker, version, "ps")
    ca = s2.connect()
    assert ca.session_present
    msgs = s2.expect_messages(3)
    # Different topics: only the order within one topic and QoS is specified [MQTT-4.6.0-6].
    assert sorted((m.topic, m.payload, m.qos) for m in msgs) == \
        [("ps/a", b"q1", 1), ("ps/b", b"q2", 2), ("ps/d", b"q1-again", 1)]
    s2.expect_no_message(0.5)
    # The subscription itself survived too: live delivery continues.
    p.publish("ps/e", b"live", qos=1)
    assert s2.expect_message().payload == b"live"


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_clean_start_discards_session(broker, version):
    """[MQTT-3.1.2-6] (3.1.1 CleanSession=1) / [MQTT-3.1.2-4] (5.0 Clean Start=1): the old session
    and its queued messages are discarded; session present 0 [MQTT-3.2.2-1]."""
    s = persistent(broker, version, "cs", clean=True)
    s.connect()
    s.subscribe("cs/#", 1)
    s.disconnect()
    p = Client(broker, version, client_id="cs-pub")
    p.connect()
    p.publish("cs/x", b"queued", qos=1)
    s2 = Client(broker, version, client_id="cs", clean=True)
    assert not s2.connect().session_present
    s2.expect_no_message(0.5)
    p.publish("cs/x", b"after", qos=1)   # no subscription any more
    s2.expect_no_message(0.5)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_unacknowledged_qos1_resent_with_dup(broker, version):
    """[MQTT-4.4.0-1] on resuming a session the server resends unacknowledged PUBLISH packets
    with DUP=1 [MQTT-3.3.1-1] and the same packet identifier."""
    props = expiry_props(300) if version == V5 else b""
    r = RawClient(broker)
    r.connect(version=version, client_id="dup", clean=fresh_persistent(version), props=props)
    r.send(subscribe_packet([("dup/t", 1)], packet_id=1, version=version))
    r.expect_packet(SUBACK)
    p = Client(broker, version, client_id="dup-pub")
    p.connect()
    p.publish("dup/t", b"unacked", qos=1)
    flags, body = r.expect_packet(PUBLISH)
    first = parse_publish(flags, body, version)
    assert (first["payload"], first["qos"], first["dup"]) == (b"unacked", 1, False)
    r.close()   # no PUBACK
    r2 = RawClient(broker)
    sp, _, _ = r2.connect(version=version, client_id="dup", clean=False, props=props)
    assert sp
    flags, body = r2.expect_packet(PUBLISH)
    again = parse_publish(flags, body, version)
    assert (again["payload"], again["qos"], again["dup"]) == (b"unacked", 1, True)
    assert again["packet_id"] == first["packet_id"]
    r2.send(ack_packet(PUBACK, again["packet_id"], version=version))
    # Acknowledged now: a further resume does not send it again.
    r2.send(disconnect_packet(version=version))
    r2.close()
    r3 = RawClient(broker)
    assert r3.connect(version=version, client_id="dup", clean=False, props=props)[0]
    r3.send(pingreq_packet())
    assert r3.recv_packet()[0] == PINGRESP


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_qos2_exactly_once_across_reconnect(broker, version):
    """[MQTT-4.4.0-1] QoS 2 resume: the client dropped after sending PUBREC; on resume the server
    resends PUBREL (not the PUBLISH) with its original packet id, and after PUBCOMP the flow is complete: the
    message was delivered exactly once."""
    props = expiry_props(300) if version == V5 else b""
    r = RawClient(broker)
    r.connect(version=version, client_id="eo", clean=fresh_persistent(version), props=props)
    r.send(subscribe_packet([("eo/t", 2)], packet_id=1, version=version))
    r.expect_packet(SUBACK)
    p = Client(broker, version, client_id="eo-pub")
    p.connect()
    p.publish("eo/t", b"once", qos=2)
    flags, body = r.expect_packet(PUBLISH)
    pub = parse_publish(flags, body, version)
    assert (pub["payload"], pub["qos"]) == (b"once", 2)
    r.send(ack_packet(PUBREC, pub["packet_id"], version=version))
    f, b = r.expect_packet(PUBREL)
    assert f == 0x2 and struct.unpack("!H", b[:2])[0] == pub["packet_id"]
    r.close()   # drop before PUBCOMP
    r2 = RawClient(broker)
    assert r2.connect(version=version, client_id="eo", clean=False, props=props)[0]
    t, f, b = r2.recv_packet()
    assert t == PUBREL, f"expected PUBREL resent, got packet type {t}"
    assert struct.unpack("!H", b[:2])[0] == pub["packet_id"]
    r2.send(ack_packet(PUBCOMP, pub["packet_id"], version=version))
    r2.send(pingreq_packet())
    assert r2.recv_packet()[0] == PINGRESP, "nothing else (no second PUBLISH) may arrive"


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_qos2_inbound_duplicate_not_redelivered(broker, version):
    """[MQTT-4.3.3-9] a QoS 2 PUBLISH resent (DUP) by the publisher before PUBREL is not delivered
    twice to subscribers."""
    s = Client(broker, version, client_id="in2-sub")
    s.connect()
    s.subscribe("in2/t", 2)
    r = RawClient(broker)
    r.connect(version=version, client_id="in2-pub")
    r.send(publish_packet("in2/t", b"one", qos=2, packet_id=7, version=version))
    r.expect_packet(PUBREC)
    r.send(publish_packet("in2/t", b"one", qos=2, packet_id=7, version=version, dup=True))
    r.expect_packet(PUBREC)
    r.send(ack_packet(PUBREL, 7, version=version))
    r.expect_packet(PUBCOMP)
    assert s.expect_message().payload == b"one"
    s.expect_no_message(0.5)


def test_v5_session_expiry(broker):
    """[MQTT-3.1.2-23] a 5.0 session ends Session Expiry Interval seconds after the network
    connection closed: reconnecting after 2 s with expiry 1 s gives session present 0; within
    the interval the session is still there."""
    s = persistent(broker, V5, "exp", clean=True, expiry=1)
    s.connect()
    s.subscribe("exp/t", 1)
    s.disconnect()
    s2 = persistent(broker, V5, "exp", expiry=1)
    assert s2.connect().session_present, "resumed within the interval"
    s2.disconnect()
    time.sleep(2.0)   # the interval must pass in real time: nothing to wait on
    s3 = persistent(broker, V5, "exp", expiry=1)
    assert not s3.connect().session_present
    p = Client(broker, V5, client_id="exp-pub")
    p.connect()
    p.publish("exp/t", b"x", qos=1)
    s3.expect_no_message(0.5)


def test_v5_session_expiry_zero_ends_with_connection(broker):
    """[MQTT-3.1.2-23] 5.0 with no Session Expiry Interval (0): the session ends when the network
    connection closes, even with Clean Start 0."""
    s = Client(broker, V5, client_id="exp0", clean=False)
    s.connect()
    s.subscribe("exp0/t", 1)
    s.disconnect()
    s2 = Client(broker, V5, client_id="exp0", clean=False)
    assert not s2.connect().session_present


def test_v5_disconnect_can_set_session_expiry(broker):
    """[MQTT-3.14.2-2] 5.0: a DISCONNECT may raise a non-zero session expiry; then the session
    survives (here: set to 0 at DISCONNECT ends the session)."""
    s = persistent(broker, V5, "dexp", clean=True, expiry=300)
    s.connect()
    s.subscribe("dexp/t", 1)
    s.disconnect(properties={"SessionExpiryInterval": 0})
    s2 = persistent(broker, V5, "dexp")
    assert not s2.connect().session_present


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_session_takeover(broker, version):
    """[MQTT-3.1.4-3] a second connection with the same client id takes over: the first is closed,
    5.0 with DISCONNECT 0x8E Session taken over; the second works, with the old session when
    it asks to resume."""
    a = persistent(broker, version, "dup-id", clean=True)
    a.connect()
    a.subscribe("to/t", 1)
    b = persistent(broker, version, "dup-id")
    assert b.connect().session_present
    rc = a.wait_disconnect()
    if version == V5:
        if BROKER_KIND != "mosquitto":   # mosquitto 2.0.11 just closes the old connection
            assert rc == 0x8E
    else:
        assert rc is None   # 3.1.1 has no DISCONNECT from the server: just closed
    p = Client(broker, version, client_id="to-pub")
    p.connect()
    p.publish("to/t", b"to-b", qos=1)
    m = b.expect_message()
    assert m.payload == b"to-b"
    b.expect_no_message(0.3)
    a.expect_no_message(0.1)
