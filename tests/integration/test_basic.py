# Basic MQTT behaviour: connect, publish/subscribe at every QoS, wildcards, $SYS, fan-out,
# ordering, unsubscribe, ping, client identifiers. SPEC 1 ("Plain MQTT, complete").
import threading
import time

import pytest
from helpers import *

VERSION_PAIRS = [pytest.param(s, p, id=f"sub{'5' if s == V5 else '311'}-pub{'5' if p == V5 else '311'}")
                 for s in (V311, V5) for p in (V311, V5)]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_connect(broker, version):
    """[MQTT-3.2.2-1..3] a plain clean connect is accepted with session present 0."""
    c = Client(broker, version, client_id=f"c-{version}")
    ca = c.connect()
    assert ca.rc == 0 and not ca.session_present
    c.disconnect()


@pytest.mark.parametrize("cli_version", ["mqttv311", "mqttv5"])
def test_mosquitto_clients_round_trip(broker, cli_version):
    """mosquitto_sub / mosquitto_pub work unchanged against the broker (SPEC 1)."""
    sub = MosquittoSub(broker, ["-V", cli_version, "-t", "rt/topic", "-q", "1"], count=2, timeout=10)
    sub.wait_subscribed()
    for m in ("hello", "world"):
        r = mosquitto_pub(broker, ["-V", cli_version, "-t", "rt/topic", "-m", m, "-q", "1"])
        assert r.returncode == 0, r.stderr
    assert sub.result() == ["hello", "world"]


@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_version,pub_version", VERSION_PAIRS)
def test_publish_subscribe_qos(broker, sub_version, pub_version, pub_qos):
    """[MQTT-3.8.4-6] SUBACK grants the requested QoS; [MQTT-3.3.5-1]/[MQTT-3.8.4-8] a message is
    delivered at min(publish QoS, granted QoS); QoS 1/2 publishes are acknowledged."""
    subs = []
    for q in (0, 1, 2):
        s = Client(broker, sub_version, client_id=f"s{q}")
        s.connect()
        assert s.subscribe("q/test", q) == [q]
        subs.append(s)
    p = Client(broker, pub_version, client_id="pub")
    p.connect()
    assert p.publish("q/test", b"payload-%d" % pub_qos, qos=pub_qos) == 0
    for q, s in enumerate(subs):
        m = s.expect_message()
        assert (m.topic, m.payload, m.qos, m.retain) == \
            ("q/test", b"payload-%d" % pub_qos, min(q, pub_qos), False)
    expect_no_messages(subs, 0.3)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_wildcards(broker, version):
    """[MQTT-4.7.1-2] '#' matches the parent and any number of levels; [MQTT-4.7.1-3] '+'
    matches exactly one level, including an empty one."""
    filters = {"a/+/c": [], "a/#": [], "+/b/+": [], "#": [], "+": [], "a/+": []}
    clients = {}
    for i, f in enumerate(filters):
        c = Client(broker, version, client_id=f"w{i}")
        c.connect()
        assert c.subscribe(f, 0) == [0]
        clients[f] = c
    topics = ["a/b/c", "a", "a/b", "a//c", "x/b/y", "a/b/c/d", "b"]
    p = Client(broker, version, client_id="wpub")
    p.connect()
    for t in topics:
        p.publish(t, t.encode(), qos=1)
    expected = {
        "a/+/c": ["a/b/c", "a//c"],
        "a/#": ["a", "a/b", "a//c", "a/b/c", "a/b/c/d"],
        "+/b/+": ["a/b/c", "x/b/y"],
        "#": topics,
        "+": ["a", "b"],
        "a/+": ["a/b"],
    }
    for f, c in clients.items():
        got = [m.topic for m in c.expect_messages(len(expected[f]))]
        assert sorted(got) == sorted(expected[f]), f"filter {f}"
    expect_no_messages(clients.values(), 0.3)


SYS_TOPICS = ["$SYS/broker/clients/connected", "$SYS/broker/messages/received",
              "$SYS/broker/uptime", "$SYS/broker/version"]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_sys_topics_not_matched_by_wildcards(broker, version):
    """[MQTT-4.7.2-1] filters starting with a wildcard ('#', '+/broker/#') do not match topics
    starting with '$'; an explicit '$SYS/...' subscription receives the statistics (sys_interval=1)."""
    wild = Client(broker, version, client_id="wild")
    wild.connect()
    assert wild.subscribe([("#", 0), ("+/broker/#", 0)]) == [0, 0]
    sysc = Client(broker, version, client_id="sys")
    sysc.connect()
    sysc.subscribe("$SYS/broker/#", 0)
    seen = {}   # topic -> latest payload (retained values may come first, then fresh ones)

    def done():
        return set(SYS_TOPICS) <= set(seen) and int(seen[SYS_TOPICS[0]]) >= 2
    deadline = time.monotonic() + 4
    while not done() and time.monotonic() < deadline:
        try:
            m = sysc.expect_message(max(0.01, deadline - time.monotonic()))
        except AssertionError:
            break
        seen[m.topic] = m.payload
    assert set(SYS_TOPICS) <= set(seen), f"missing $SYS topics: {set(SYS_TOPICS) - set(seen)}"
    assert int(seen["$SYS/broker/clients/connected"]) >= 2, "two clients are connected"
    wild.expect_no_message(0.5)


@heraldd_only   # mosquitto 2 delivers one copy per matching subscription
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_overlapping_subscriptions_deliver_once_at_highest_qos(broker, version):
    """[MQTT-3.3.5-1] overlapping subscriptions of one client: one delivery at the highest
    granted QoS of the matching subscriptions (SPEC 1)."""
    s = Client(broker, version, client_id="ovl")
    s.connect()
    assert s.subscribe("ov/#", 0) == [0]
    assert s.subscribe("ov/+", 2) == [2]
    assert s.subscribe("ov/x", 1) == [1]
    p = Client(broker, version, client_id="ovl-pub")
    p.connect()
    p.publish("ov/x", b"1", qos=2)
    m = s.expect_message()
    assert (m.topic, m.qos) == ("ov/x", 2)
    s.expect_no_message(0.5)
    p.publish("ov/x/y", b"2", qos=2)   # only ov/# (QoS 0) matches
    m = s.expect_message()
    assert (m.topic, m.qos) == ("ov/x/y", 0)
    s.expect_no_message(0.3)


def test_fan_out_many_subscribers_in_order(broker):
    """20 subscribers (both versions) each receive all 100 messages, in publish order [MQTT-4.6.0-5]."""
    subs = []
    for i in range(20):
        s = Client(broker, V5 if i % 2 else V311, client_id=f"fan{i}")
        s.connect()
        s.subscribe("fan/out", 1)
        subs.append(s)
    p = Client(broker, V5, client_id="fanpub")
    p.connect()
    for i in range(100):
        p.publish("fan/out", b"%d" % i, qos=1, wait=False)
    for s in subs:
        msgs = s.expect_messages(100, timeout=15)
        assert [int(m.payload) for m in msgs] == list(range(100))
        assert all(m.qos == 1 for m in msgs)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_per_publisher_order_kept(broker, qos):
    """[MQTT-4.6.0-5] messages of one publisher on one topic reach a subscriber in the order sent,
    while another publisher interleaves its own."""
    s = Client(broker, V5, client_id="ord-sub")
    s.connect()
    s.subscribe("ord/#", qos)
    pubs = []
    for name, v in (("A", V311), ("B", V5)):
        p = Client(broker, v, client_id=f"ord-{name}")
        p.connect()
        pubs.append((name, p))

    def run(name, p):
        for i in range(100):
            p.publish(f"ord/{name}", b"%d" % i, qos=qos, wait=False)
    threads = [threading.Thread(target=run, args=np) for np in pubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    msgs = s.expect_messages(200, timeout=15)
    for name, _ in pubs:
        seq = [int(m.payload) for m in msgs if m.topic == f"ord/{name}"]
        assert seq == list(range(100)), f"publisher {name}"


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_unsubscribe_stops_delivery(broker, version):
    """[MQTT-3.10.4-1..6] after UNSUBACK the client receives nothing more on that filter; other
    subscriptions stay. 5.0 UNSUBACK reason 0x00, then 0x11 for a filter not subscribed."""
    s = Client(broker, version, client_id="uns")
    s.connect()
    s.subscribe("u/1", 1)
    s.subscribe("u/2", 1)
    p = Client(broker, version, client_id="uns-pub")
    p.connect()
    p.publish("u/1", b"a", qos=1)
    assert s.expect_message().payload == b"a"
    codes = s.unsubscribe("u/1")
    if version == V5:
        assert codes == [0]
        assert s.unsubscribe("u/never") == [0x11]
    p.publish("u/1", b"b", qos=1)
    p.publish("u/2", b"c", qos=1)
    m = s.expect_message()
    assert (m.topic, m.payload) == ("u/2", b"c")
    s.expect_no_message(0.5)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_pingreq_pingresp(broker, version):
    """[MQTT-3.12.4-1] the server answers PINGREQ with PINGRESP."""
    r = RawClient(broker)
    r.connect(version=version, client_id="pinger")
    for _ in range(3):
        r.send(pingreq_packet())
        assert r.recv_packet() == (PINGRESP, 0, b"")


def test_v5_assigned_client_identifier(broker):
    """[MQTT-3.2.2-16] a 5.0 client with an empty client id gets an Assigned Client Identifier."""
    a = Client(broker, V5, client_id="")
    a.connect()
    b = Client(broker, V5, client_id="")
    b.connect()
    assert a.assigned_client_id and b.assigned_client_id
    assert a.assigned_client_id != b.assigned_client_id
    # The assigned id is a working identity: messages reach it.
    a.subscribe("assigned/t", 1)
    b.publish("assigned/t", b"x", qos=1)
    assert a.expect_message().payload == b"x"


def test_v311_empty_client_id_with_clean_session_accepted(broker):
    """[MQTT-3.1.3-6] 3.1.1: an empty client id with CleanSession=1 is accepted."""
    r = RawClient(broker)
    sp, rc, _ = r.connect(version=V311, client_id="", clean=True)
    assert (sp, rc) == (False, 0)


def test_v311_empty_client_id_persistent_refused(broker):
    """[MQTT-3.1.3-8] 3.1.1: an empty client id with CleanSession=0 gets CONNACK 0x02
    (identifier rejected) and the connection is closed."""
    r = RawClient(broker)
    r.connect(expect_rc=2, version=V311, client_id="", clean=False)
    assert r.expect_closed()
