# Retained messages: set, replace, delete, wildcard matches, QoS, 5.0 retain handling,
# retain-as-published and message expiry. SPEC 1.
import time

import pytest
from helpers import *


def subscriber(broker, version, client_id, topic, qos=1, options=None):
    s = Client(broker, version, client_id=client_id)
    s.connect()
    s.subscribe(topic, qos, options=options)
    return s


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_set_replace_delete(broker, version):
    """[MQTT-3.3.1-5] a retained message is stored and replaces the previous one;
    [MQTT-3.3.1-6] it is sent to new subscribers with RETAIN 1; [MQTT-3.3.1-10/11] an empty
    retained payload deletes it (and is delivered normally to existing subscribers)."""
    p = Client(broker, version, client_id="rp")
    p.connect()
    p.publish("ret/t", b"v1", qos=1, retain=True)
    s1 = subscriber(broker, version, "r1", "ret/t")
    m = s1.expect_message()
    assert (m.payload, m.retain) == (b"v1", True)

    p.publish("ret/t", b"v2", qos=1, retain=True)
    assert s1.expect_message().payload == b"v2"
    s2 = subscriber(broker, version, "r2", "ret/t")
    m = s2.expect_message()
    assert (m.payload, m.retain) == (b"v2", True)
    s2.expect_no_message(0.3)   # only the latest is kept

    p.publish("ret/t", b"", qos=1, retain=True)
    m = s1.expect_message()
    assert m.payload == b""
    s3 = subscriber(broker, version, "r3", "ret/t")
    s3.expect_no_message(0.5)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_live_delivery_has_retain_clear(broker, version):
    """[MQTT-3.3.1-9] (3.1.1) / 5.0 Retain As Published 0 [MQTT-3.3.1-13]: a retained message
    forwarded to an existing subscription is sent with RETAIN 0."""
    s = subscriber(broker, version, "live", "ret/live")
    p = Client(broker, version, client_id="lp")
    p.connect()
    p.publish("ret/live", b"x", qos=1, retain=True)
    m = s.expect_message()
    assert (m.payload, m.retain) == (b"x", False)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_wildcard_subscriptions(broker, version):
    """[MQTT-3.3.1-6] a new subscription with a wildcard filter receives every matching
    retained message."""
    p = Client(broker, version, client_id="wp")
    p.connect()
    for t in ("rw/a/1", "rw/a/2", "rw/b/1", "other/x"):
        p.publish(t, t.encode(), qos=1, retain=True)
    s = subscriber(broker, version, "ws1", "rw/a/+")
    assert sorted(m.topic for m in s.expect_messages(2)) == ["rw/a/1", "rw/a/2"]
    s.expect_no_message(0.3)
    s2 = subscriber(broker, version, "ws2", "rw/#")
    msgs = s2.expect_messages(3)
    assert sorted(m.topic for m in msgs) == ["rw/a/1", "rw/a/2", "rw/b/1"]
    assert all(m.retain for m in msgs)
    s2.expect_no_message(0.3)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_delivered_at_min_qos(broker, version):
    """[MQTT-3.8.4-6] (3.1.1) / [MQTT-3.8.4-8] (5.0) a retained message is sent at the minimum of its
    QoS and the granted QoS."""
    p = Client(broker, version, client_id="qp")
    p.connect()
    p.publish("rq/2", b"two", qos=2, retain=True)
    p.publish("rq/1", b"one", qos=1, retain=True)
    p.publish("rq/0", b"zero", qos=0, retain=True)
    for sub_qos in (0, 1, 2):
        s = subscriber(broker, version, f"qs{sub_qos}", "rq/+", qos=sub_qos)
        got = {m.topic: m.qos for m in s.expect_messages(3)}
        assert got == {"rq/2": min(2, sub_qos), "rq/1": min(1, sub_qos), "rq/0": 0}, \
            f"granted QoS {sub_qos}"


def test_v5_retain_handling(broker):
    """5.0 [MQTT-3.3.1-9] Retain Handling 0: retained sent at every subscribe; [MQTT-3.3.1-10] 1:
    only when the subscription is new; [MQTT-3.3.1-11] 2: never."""
    p = Client(broker, V5, client_id="rhp")
    p.connect()
    p.publish("rh/t", b"kept", qos=1, retain=True)
    for rh, first, second in ((0, True, True), (1, True, False), (2, False, False)):
        s = Client(broker, V5, client_id=f"rh{rh}")
        s.connect()
        for expected in (first, second):
            s.subscribe("rh/t", 1, options={"retain_handling": rh})
            if expected:
                m = s.expect_message()
                assert (m.payload, m.retain) == (b"kept", True), f"retain handling {rh}"
            else:
                s.expect_no_message(0.4)


def test_v5_retain_as_published(broker):
    """5.0 [MQTT-3.3.1-12] Retain As Published 1: forwarded messages keep their RETAIN flag;
    [MQTT-3.3.1-13] 0: RETAIN is cleared."""
    rap = subscriber(broker, V5, "rap1", "rap/t", options={"retain_as_published": True})
    norap = subscriber(broker, V5, "rap0", "rap/t")
    p = Client(broker, V5, client_id="rapp")
    p.connect()
    p.publish("rap/t", b"r", qos=1, retain=True)
    p.publish("rap/t", b"n", qos=1, retain=False)
    assert [(m.payload, m.retain) for m in rap.expect_messages(2)] == [(b"r", True), (b"n", False)]
    assert [(m.payload, m.retain) for m in norap.expect_messages(2)] == \
        [(b"r", False), (b"n", False)]


def test_v5_retained_message_expiry(broker):
    """5.0 [MQTT-3.3.2-5] a retained message whose Message Expiry Interval has passed is no longer
    sent to new subscribers; [MQTT-3.3.2-6] the interval sent is reduced by the time waited."""
    p = Client(broker, V5, client_id="ep")
    p.connect()
    p.publish("rexp/short", b"short", qos=1, retain=True, properties={"MessageExpiryInterval": 1})
    p.publish("rexp/long", b"long", qos=1, retain=True, properties={"MessageExpiryInterval": 30})
    s = subscriber(broker, V5, "es1", "rexp/+")
    got = {m.topic: m for m in s.expect_messages(2)}
    assert prop(got["rexp/short"].properties, "MessageExpiryInterval") in (0, 1)
    time.sleep(2.1)   # let the short one expire: real time must pass
    s2 = subscriber(broker, V5, "es2", "rexp/+")
    m = s2.expect_message()
    assert m.topic == "rexp/long"
    assert 1 <= prop(m.properties, "MessageExpiryInterval") <= 28
    s2.expect_no_message(0.4)
