# Wills (3.1.1 and 5.0, with 5.0 will delay) and keepalive enforcement. SPEC 1.
import time

import pytest
from helpers import *


def watcher(broker, version=V5, topic="will/#"):
    w = Client(broker, version, client_id=f"watch-{version}")
    w.connect()
    w.subscribe(topic, 1)
    return w


def will_client(broker, version, client_id="dying", will_topic="will/x", payload=b"gone",
                retain=False, will_props=None, connect_props=None, clean=True):
    c = Client(broker, version, client_id=client_id, clean=clean, properties=connect_props,
               will=dict(topic=will_topic, payload=payload, qos=1, retain=retain,
                         properties=will_props))
    c.connect()
    return c


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_will_published_on_abrupt_drop(broker, version):
    """[MQTT-3.1.2-8] the will is published when the network connection closes without a
    DISCONNECT."""
    w = watcher(broker, version)
    c = will_client(broker, version)
    c.drop()
    m = w.expect_message(3)
    assert (m.topic, m.payload, m.retain) == ("will/x", b"gone", False)
    w.expect_no_message(0.3)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_no_will_on_clean_disconnect(broker, version):
    """[MQTT-3.1.2-10] / [MQTT-3.14.4-3] a normal DISCONNECT deletes the will without
    publishing it."""
    w = watcher(broker, version)
    c = will_client(broker, version)
    c.disconnect()
    w.expect_no_message(1.0)


def test_v5_will_published_on_disconnect_with_will_message(broker):
    """5.0 [MQTT-3.14.2-1] DISCONNECT with reason 0x04 (Disconnect with Will Message): the will
    is published."""
    w = watcher(broker)
    c = will_client(broker, V5)
    c.disconnect(reason=0x04)
    m = w.expect_message(3)
    assert (m.topic, m.payload) == ("will/x", b"gone")


def test_v5_will_delay_interval(broker):
    """5.0 [MQTT-3.1.3-9] with Will Delay Interval 2 s the will is published ~2 s after the drop,
    not before."""
    w = watcher(broker)
    c = will_client(broker, V5, will_props={"WillDelayInterval": 2},
                    connect_props={"SessionExpiryInterval": 60})
    t0 = time.monotonic()
    c.drop()
    w.expect_no_message(1.0)
    m = w.expect_message(4)
    elapsed = time.monotonic() - t0
    assert m.payload == b"gone"
    assert 1.5 <= elapsed <= 4.0, f"will after {elapsed:.2f}s, expected ~2s"


def test_v5_will_delay_cancelled_by_reconnect(broker):
    """5.0 [MQTT-3.1.3-9] a reconnect of the same client id within the will delay cancels the will."""
    w = watcher(broker)
    c = will_client(broker, V5, will_props={"WillDelayInterval": 2},
                    connect_props={"SessionExpiryInterval": 60})
    c.drop()
    c2 = Client(broker, V5, client_id="dying", clean=False,
                properties={"SessionExpiryInterval": 60})
    assert c2.connect().session_present
    w.expect_no_message(3.0)


def test_v5_will_published_at_session_end_before_delay(broker):
    """5.0 [MQTT-3.1.3-9] the will is published at the earlier of will delay and session end:
    session expiry 1 s, will delay 10 s -> the will comes after ~1 s."""
    w = watcher(broker)
    c = will_client(broker, V5, will_props={"WillDelayInterval": 10},
                    connect_props={"SessionExpiryInterval": 1})
    t0 = time.monotonic()
    c.drop()
    m = w.expect_message(5)
    elapsed = time.monotonic() - t0
    assert m.payload == b"gone"
    assert elapsed <= 4.0, f"will after {elapsed:.2f}s, expected ~1s (session end)"


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_will_retain(broker, version):
    """[MQTT-3.1.2-17] a will with Will Retain 1 is published as a retained message: a later
    subscriber receives it with the retain flag."""
    c = will_client(broker, version, will_topic="will/retained", payload=b"last words",
                    retain=True)
    w = watcher(broker, version, "will/retained")
    c.drop()
    m = w.expect_message(3)
    assert m.payload == b"last words"
    late = Client(broker, version, client_id="late")
    late.connect()
    late.subscribe("will/retained", 1)
    m = late.expect_message(3)
    assert (m.payload, m.retain) == (b"last words", True)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_keepalive_expiry_closes_and_publishes_will(broker, version):
    """[MQTT-3.1.2-24] a client silent for 1.5 x keepalive is disconnected, and its will is
    published [MQTT-3.1.2-8]. keepalive 1 s: closed after ~1.5 s (plus the broker's tick)."""
    w = watcher(broker, version)
    r = RawClient(broker)
    t0 = time.monotonic()
    r.connect(version=version, client_id="silent", keepalive=1,
              will=dict(topic="will/silent", payload=b"timed out", qos=1))
    # mosquitto 2.0.11 checks keepalives only every few seconds: a looser bound for it.
    limit = 8.0 if BROKER_KIND == "mosquitto" else 3.0
    assert r.expect_closed(timeout=limit + 1), "broker did not close a silent client"
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed <= limit, f"closed after {elapsed:.2f}s, expected ~1.5s"
    m = w.expect_message(3)
    assert (m.topic, m.payload) == ("will/silent", b"timed out")


def test_keepalive_respected_while_pinging(broker):
    """[MQTT-3.1.2-24] a client that sends PINGREQ within the keepalive stays connected."""
    r = RawClient(broker)
    r.connect(version=V5, client_id="pinging", keepalive=1)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        r.send(pingreq_packet())
        assert r.recv_packet(2)[0] == PINGRESP
        time.sleep(0.5)
    assert not r.expect_closed(timeout=0.2)


def test_v5_max_keepalive_server_keep_alive(make_broker):
    """5.0 [MQTT-3.2.2-21] with max_keepalive = 10, a client asking 60 gets Server Keep Alive 10
    in CONNACK and must use it."""
    b = make_broker("max_keepalive = 10\n")
    c = Client(b, V5, client_id="ka", keepalive=60)
    ca = c.connect()
    assert prop(ca.properties, "ServerKeepAlive") == 10
    # A client within the limit gets no Server Keep Alive override (or the same value).
    c2 = Client(b, V5, client_id="ka2", keepalive=5)
    ca2 = c2.connect()
    assert prop(ca2.properties, "ServerKeepAlive", 5) == 5
