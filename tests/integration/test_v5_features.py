"""MQTT 5.0 features seen from the wire (SPEC 1): topic aliases both ways, subscription
identifiers, no-local, retain-as-published / retain handling, shared subscriptions,
request/response properties, message expiry, assigned client identifiers, session expiry,
reason strings and server keep alive.

Each test starts its own broker. The clients are byte-level (v5util.Raw) so the test sees exactly
which properties went over the wire. Waits are bounded and event-driven: "nothing else arrived" is
proven with a sentinel message sent after the one that must not arrive.
"""
import time

from v5util import (
    PUBACK, P_ASSIGNED_CLIENT_ID, P_CONTENT_TYPE, P_CORRELATION_DATA, P_MESSAGE_EXPIRY,
    P_PAYLOAD_FORMAT, P_REASON_STRING, P_RECEIVE_MAXIMUM, P_RESPONSE_TOPIC, P_SERVER_KEEP_ALIVE,
    P_SESSION_EXPIRY, P_SUBSCRIPTION_ID, P_TOPIC_ALIAS, P_TOPIC_ALIAS_MAXIMUM, P_USER_PROPERTY,
    Raw, connected, disconnect_bytes, disconnect_reason, heraldd_only, on_mosquitto, parse_reason,
    prop, props_all, publish_bytes,
)

# mosquitto 2.0.11 answers a bad topic alias with 0x81 Malformed Packet; the spec (and heraldd,
# SPEC 1) say 0x94 Topic Alias invalid.
ALIAS_INVALID = (0x94, 0x81) if on_mosquitto() else (0x94,)

NO_LOCAL = 0x04
RAP = 0x08


def rh(n):
    return n << 4


# ---------------------------------------------------------------- topic aliases, client -> broker

def test_topic_alias_client_to_broker_mqtt_3_3_2_12(broker):
    """[MQTT-3.3.2-12]: a PUBLISH with an empty topic and a known alias is delivered on the topic
    the alias was last set to; an alias may be re-mapped."""
    sub = connected(broker, "ta-sub")
    assert sub.subscribe("ta/+") == [1]
    pub = Raw(broker)
    _, _, props = pub.connect("ta-pub")
    assert (prop(props, P_TOPIC_ALIAS_MAXIMUM) or 0) >= 1, "broker must offer topic aliases"

    pub.publish("ta/one", b"a", qos=1, props=[(P_TOPIC_ALIAS, 1)])
    pub.publish("", b"b", qos=1, props=[(P_TOPIC_ALIAS, 1)])
    pub.publish("ta/two", b"c", qos=1, props=[(P_TOPIC_ALIAS, 1)])
    pub.publish("", b"d", qos=0, props=[(P_TOPIC_ALIAS, 1)])
    got = [(m.topic, m.payload) for m in (sub.recv_publish() for _ in range(4))]
    assert got == [("ta/one", b"a"), ("ta/one", b"b"), ("ta/two", b"c"), ("ta/two", b"d")]
    # The subscriber did not offer aliases, so it must not receive one [MQTT-3.3.2-8].
    pub.publish("ta/two", b"e", qos=1)
    m = sub.recv_publish()
    assert m.topic == "ta/two" and prop(m.props, P_TOPIC_ALIAS) is None
    assert broker.alive()


@heraldd_only
def test_connack_announces_configured_limits(make_broker):
    """CONNACK carries the configured receive_maximum and topic_alias_maximum [MQTT-3.2.2.3]."""
    broker = make_broker(config="receive_maximum = 7\ntopic_alias_maximum = 3\n")
    c = Raw(broker)
    _, _, props = c.connect("limits")
    assert prop(props, P_RECEIVE_MAXIMUM) == 7
    assert prop(props, P_TOPIC_ALIAS_MAXIMUM) == 3


def test_topic_alias_zero_is_error_mqtt_3_3_2_8(broker):
    """Topic alias 0 is not allowed [MQTT-3.3.2-8]: DISCONNECT 0x94 and close."""
    c = connected(broker, "ta-zero")
    c.send(publish_bytes("ta/x", b"z", props=[(P_TOPIC_ALIAS, 0)]))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    d = disconnect_reason(seen)
    assert d is not None and d[0] in ALIAS_INVALID, d
    assert broker.alive()


def test_topic_alias_above_maximum_is_error_mqtt_3_3_2_10(make_broker):
    """An alias above the Topic Alias Maximum the server sent is an error [MQTT-3.3.2-10]."""
    broker = make_broker(config="topic_alias_maximum = 3\n")
    c = Raw(broker)
    _, _, props = c.connect("ta-big")
    maximum = prop(props, P_TOPIC_ALIAS_MAXIMUM) or 0
    c.send(publish_bytes("ta/x", b"z", props=[(P_TOPIC_ALIAS, maximum + 1)]))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    d = disconnect_reason(seen)
    assert d is not None and d[0] in ALIAS_INVALID, d
    assert broker.alive()


def test_topic_alias_unknown_with_empty_topic_is_protocol_error(broker):
    """An empty topic with an alias never set is a Protocol Error (0x82) [MQTT-3.3.4]."""
    c = connected(broker, "ta-unknown")
    c.send(publish_bytes("", b"z", props=[(P_TOPIC_ALIAS, 2)]))
    seen = c.closed_after(5)
    assert seen is not None, "connection must be closed"
    d = disconnect_reason(seen)
    assert d is not None and d[0] == 0x82
    assert broker.alive()


# ---------------------------------------------------------------- topic aliases, broker -> client

@heraldd_only
def test_topic_alias_broker_to_client(broker):
    """SPEC 1, topic aliases both directions: a client with Topic Alias Maximum 5 receiving one
    topic twice gets the topic with an alias, then an empty topic with the same alias
    [MQTT-3.3.2-11: never above the client's maximum]."""
    sub = Raw(broker)
    sub.connect("alias-recv", props=[(P_TOPIC_ALIAS_MAXIMUM, 5)])
    assert sub.subscribe("out/alias/t") == [1]
    pub = connected(broker, "alias-send")
    pub.publish("out/alias/t", b"1", qos=1)
    pub.publish("out/alias/t", b"2", qos=1)
    first, second = sub.recv_publish(), sub.recv_publish()
    alias = prop(first.props, P_TOPIC_ALIAS)
    assert first.topic == "out/alias/t" and first.payload == b"1"
    assert alias is not None and 1 <= alias <= 5
    assert second.topic == "" and prop(second.props, P_TOPIC_ALIAS) == alias
    assert second.payload == b"2"


def test_topic_alias_broker_to_client_never_above_maximum_mqtt_3_3_2_11(broker):
    """With more topics than the client's Topic Alias Maximum (5), every alias the broker uses
    is in 1..5 [MQTT-3.3.2-11], an empty topic only comes with an alias set before on this
    connection, and every message resolves to the topic it was published on."""
    sub = Raw(broker)
    sub.connect("alias-many", props=[(P_TOPIC_ALIAS_MAXIMUM, 5)])
    assert sub.subscribe("am/#") == [1]
    pub = connected(broker, "alias-many-pub")
    sent = ["am/%d" % (i % 8) for i in range(24)]
    for i, t in enumerate(sent):
        pub.publish(t, b"%d" % i, qos=1)
    aliases = {}
    resolved = []
    for _ in sent:
        m = sub.recv_publish()
        a = prop(m.props, P_TOPIC_ALIAS)
        if a is not None:
            assert 1 <= a <= 5, a
        if m.topic:
            if a is not None:
                aliases[a] = m.topic
            resolved.append(m.topic)
        else:
            assert a in aliases, "empty topic with unknown alias %r" % a
            resolved.append(aliases[a])
    assert resolved == sent


def test_no_alias_to_client_without_topic_alias_maximum_mqtt_3_3_2_9(broker):
    """A client that sent no Topic Alias Maximum never receives an alias [MQTT-3.3.2-9]."""
    sub = connected(broker, "noalias")
    assert sub.subscribe("na/t") == [1]
    pub = connected(broker, "noalias-pub")
    for i in range(3):
        pub.publish("na/t", str(i), qos=1)
    for i in range(3):
        m = sub.recv_publish()
        assert m.topic == "na/t" and prop(m.props, P_TOPIC_ALIAS) is None


# ---------------------------------------------------------------- subscription identifiers

def test_subscription_identifiers_mqtt_3_3_4_3(broker):
    """Overlapping subscriptions with ids 1 and 2: one copy carrying both ids [MQTT-3.3.4-3,
    MQTT-3.3.5-1]; a message matching only one carries only that id; a subscription without an
    id adds none."""
    sub = connected(broker, "sid")
    assert sub.subscribe([("sid/#", 1)], props=[(P_SUBSCRIPTION_ID, 1)]) == [1]
    assert sub.subscribe([("sid/+/x", 1)], props=[(P_SUBSCRIPTION_ID, 2)]) == [1]
    assert sub.subscribe([("sid/none/#", 0)]) == [0]
    assert sub.subscribe([("sentinel/sid", 0)]) == [0]
    pub = connected(broker, "sid-pub")
    pub.publish("sid/a/x", b"both", qos=1)
    pub.publish("sid/a/y", b"one", qos=1)
    pub.publish("sentinel/sid", b"", qos=1)
    got = merge_copies(sub.recv_until("sentinel/sid"))
    assert [m.payload for m in got] == [b"both", b"one"], got
    assert sorted(props_all(got[0].props, P_SUBSCRIPTION_ID)) == [1, 2]
    assert props_all(got[1].props, P_SUBSCRIPTION_ID) == [1]
    pub.publish("sid/none/z", b"noid", qos=1)
    pub.publish("sentinel/sid", b"", qos=1)
    got = merge_copies(sub.recv_until("sentinel/sid"))
    assert len(got) == 1, got
    assert props_all(got[0].props, P_SUBSCRIPTION_ID) == [1]


def merge_copies(msgs):
    """mosquitto sends one copy per matching subscription, each with its own id (allowed by
    [MQTT-3.3.4-5]); heraldd sends one copy with all ids (SPEC 1, [MQTT-3.3.5-1]). On mosquitto,
    fold the copies of one payload into one message so the same assertions apply."""
    if not on_mosquitto():
        return msgs
    out = []
    for m in msgs:
        if out and out[-1].payload == m.payload:
            out[-1].props = out[-1].props + [p for p in m.props if p[0] == P_SUBSCRIPTION_ID]
            out[-1].qos = max(out[-1].qos, m.qos)
        else:
            out.append(m)
    return out


# ---------------------------------------------------------------- no-local, retain flags

def test_no_local_mqtt_3_8_3_3(broker):
    """No Local: the subscriber's own messages are not sent back to it [MQTT-3.8.3-3]; others
    still get them, and it still gets others' messages."""
    a = connected(broker, "nl-a")
    assert a.subscribe([("nl/t", 1 | NO_LOCAL), ("nl/sentinel", 0)]) == [1, 0]
    b = connected(broker, "nl-b")
    assert b.subscribe("nl/t") == [1]
    a.publish("nl/t", b"from-a", qos=1)
    m = b.recv_publish()
    assert m.payload == b"from-a"
    b.publish("nl/sentinel", b"", qos=1)
    assert a.recv_until("nl/sentinel") == []
    b.publish("nl/t", b"from-b", qos=1)
    assert a.recv_publish().payload == b"from-b"


def test_retain_as_published_mqtt_3_3_1_12(broker):
    """Retain As Published set: live retained messages keep RETAIN=1 [MQTT-3.3.1-13]; without it
    they are forwarded with RETAIN=0 [MQTT-3.3.1-12]. Retained messages sent on subscribe carry
    RETAIN=1 either way [MQTT-3.3.1-9]."""
    keep = connected(broker, "rap-keep")
    plain = connected(broker, "rap-plain")
    assert keep.subscribe([("rap/t", 1 | RAP)]) == [1]
    assert plain.subscribe([("rap/t", 1)]) == [1]
    pub = connected(broker, "rap-pub")
    pub.publish("rap/t", b"live", qos=1, retain=True)
    mk, mp = keep.recv_publish(), plain.recv_publish()
    assert mk.payload == mp.payload == b"live"
    assert mk.retain is True
    assert mp.retain is False
    late = connected(broker, "rap-late")
    assert late.subscribe([("rap/t", 1)]) == [1]
    m = late.recv_publish()
    assert m.payload == b"live" and m.retain is True
    pub.publish("rap/t", b"", qos=1, retain=True)  # clear it


def test_retain_handling_mqtt_3_3_1_10(broker):
    """Retain Handling 2: no retained messages on subscribe; 1: only if the subscription is new;
    0: always [MQTT-3.3.1-10, -11]."""
    pub = connected(broker, "rh-pub")
    pub.publish("rh/t", b"kept", qos=1, retain=True)
    c = connected(broker, "rh-sub")
    assert c.subscribe([("rh/t", 1 | rh(2)), ("rh/sentinel", 0)]) == [1, 0]
    pub.publish("rh/sentinel", b"", qos=1)
    assert c.recv_until("rh/sentinel") == []
    c2 = connected(broker, "rh-sub1")
    assert c2.subscribe([("rh/t", 1 | rh(1)), ("rh/sentinel", 0)]) == [1, 0]
    assert c2.recv_publish().payload == b"kept"
    assert c2.subscribe([("rh/t", 1 | rh(1))]) == [1]  # existing subscription: nothing
    pub.publish("rh/sentinel", b"", qos=1)
    assert c2.recv_until("rh/sentinel") == []
    assert c2.subscribe([("rh/t", 1 | rh(0))]) == [1]  # 0: sent again
    assert c2.recv_publish().payload == b"kept"
    pub.publish("rh/t", b"", qos=1, retain=True)


# ---------------------------------------------------------------- shared subscriptions

def test_shared_subscription_each_message_once_per_group_mqtt_4_8_2(broker):
    """$share/g/t with two members: 10 messages, each delivered to exactly one member, both
    members get some [MQTT-4.8.2]; a non-shared subscriber alongside gets all 10."""
    m1 = connected(broker, "sh-1")
    m2 = connected(broker, "sh-2")
    plain = connected(broker, "sh-plain")
    assert m1.subscribe([("$share/g/sh/t", 1), ("sh/sentinel", 0)]) == [1, 0]
    assert m2.subscribe([("$share/g/sh/t", 1), ("sh/sentinel", 0)]) == [1, 0]
    assert plain.subscribe([("sh/t", 1)]) == [1]
    pub = connected(broker, "sh-pub")
    for i in range(10):
        pub.publish("sh/t", b"%d" % i, qos=1)
    pub.publish("sh/sentinel", b"", qos=1)
    got1 = [m.payload for m in m1.recv_until("sh/sentinel")]
    got2 = [m.payload for m in m2.recv_until("sh/sentinel")]
    assert sorted(got1 + got2, key=int) == [b"%d" % i for i in range(10)], (got1, got2)
    assert got1 and got2, "both members should get a share: %r %r" % (got1, got2)
    assert [plain.recv_publish().payload for _ in range(10)] == [b"%d" % i for i in range(10)]


def test_shared_subscription_member_leaves(broker):
    """When one member of a share group disconnects, the remaining member gets everything."""
    m1 = connected(broker, "shl-1")
    m2 = connected(broker, "shl-2")
    assert m1.subscribe([("$share/g2/shl/t", 1)]) == [1]
    assert m2.subscribe([("$share/g2/shl/t", 1)]) == [1]
    m2.disconnect()  # returns once the broker has closed it: m2 is out of the group
    pub = connected(broker, "shl-pub")
    for i in range(5):
        pub.publish("shl/t", b"%d" % i, qos=1)
    assert [m1.recv_publish().payload for _ in range(5)] == [b"%d" % i for i in range(5)]


# ---------------------------------------------------------------- request / response

def test_request_response_properties_pass_through_mqtt_3_3_2_17(broker):
    """Response Topic, Correlation Data, User Properties (order kept, duplicates kept), Content
    Type and Payload Format Indicator reach the subscriber unchanged [MQTT-3.3.2-15..20]."""
    sub = connected(broker, "rr-sub")
    assert sub.subscribe("rr/req") == [1]
    pub = connected(broker, "rr-pub")
    corr = bytes(range(256))  # binary, not UTF-8
    sent = [
        (P_PAYLOAD_FORMAT, 1),
        (P_CONTENT_TYPE, "application/json; charset=utf-8"),
        (P_RESPONSE_TOPIC, "rr/resp/\u00e9t\u00e9"),
        (P_CORRELATION_DATA, corr),
        (P_USER_PROPERTY, ("k", "v1")),
        (P_USER_PROPERTY, ("z", "first")),
        (P_USER_PROPERTY, ("k", "v2")),
        (P_USER_PROPERTY, ("emoji \U0001F600", "")),
    ]
    pub.publish("rr/req", b'{"q":1}', qos=1, props=sent)
    m = sub.recv_publish()
    assert m.payload == b'{"q":1}'
    assert prop(m.props, P_PAYLOAD_FORMAT) == 1
    assert prop(m.props, P_CONTENT_TYPE) == "application/json; charset=utf-8"
    assert prop(m.props, P_RESPONSE_TOPIC) == "rr/resp/\u00e9t\u00e9"
    assert prop(m.props, P_CORRELATION_DATA) == corr
    assert props_all(m.props, P_USER_PROPERTY) == [
        ("k", "v1"), ("z", "first"), ("k", "v2"), ("emoji \U0001F600", "")]
    # The responder answers on the response topic with the correlation data.
    assert pub.subscribe(prop(m.props, P_RESPONSE_TOPIC)) == [1]
    sub.publish(prop(m.props, P_RESPONSE_TOPIC), b"answer", qos=1,
                props=[(P_CORRELATION_DATA, prop(m.props, P_CORRELATION_DATA))])
    r = pub.recv_publish()
    assert r.payload == b"answer" and prop(r.props, P_CORRELATION_DATA) == corr


# ---------------------------------------------------------------- message expiry

def test_message_expiry_offline_session_mqtt_3_3_2_5(broker):
    """A message queued for an offline persistent session whose expiry (1 s) has passed is not
    delivered [MQTT-3.3.2-5]; a delivered one carries the remaining interval, at most the
    original [MQTT-3.3.2-6]."""
    c = Raw(broker)
    c.connect("exp-sub", clean=True, props=[(P_SESSION_EXPIRY, 300)])
    assert c.subscribe("exp/t") == [1]
    c.disconnect()
    pub = connected(broker, "exp-pub")
    pub.publish("exp/t", b"short", qos=1, props=[(P_MESSAGE_EXPIRY, 1)])
    pub.publish("exp/t", b"long", qos=1, props=[(P_MESSAGE_EXPIRY, 100)])
    pub.publish("exp/t", b"forever", qos=1)
    time.sleep(2.2)  # the event under test is time passing
    c = Raw(broker)
    sp, _, _ = c.connect("exp-sub", clean=False, props=[(P_SESSION_EXPIRY, 300)])
    assert sp is True
    m = c.recv_publish()
    assert m.payload == b"long", "the expired message must not be delivered"
    remaining = prop(m.props, P_MESSAGE_EXPIRY)
    assert remaining is not None and 90 <= remaining <= 98, remaining
    m = c.recv_publish()
    assert m.payload == b"forever" and prop(m.props, P_MESSAGE_EXPIRY) is None


def test_message_expiry_live_delivery_keeps_interval(broker):
    """Live delivery forwards the Message Expiry Interval, never larger than sent."""
    sub = connected(broker, "expl-sub")
    assert sub.subscribe("expl/t") == [1]
    pub = connected(broker, "expl-pub")
    pub.publish("expl/t", b"x", qos=1, props=[(P_MESSAGE_EXPIRY, 60)])
    m = sub.recv_publish()
    v = prop(m.props, P_MESSAGE_EXPIRY)
    assert v is not None and 58 <= v <= 60


def test_retained_message_expires(broker):
    """A retained message with an expiry is not sent to subscribers after it expired."""
    pub = connected(broker, "expr-pub")
    pub.publish("expr/t", b"gone", qos=1, retain=True, props=[(P_MESSAGE_EXPIRY, 1)])
    time.sleep(2.2)  # the event under test is time passing
    sub = connected(broker, "expr-sub")
    assert sub.subscribe([("expr/t", 1), ("expr/sentinel", 0)]) == [1, 0]
    pub.publish("expr/sentinel", b"", qos=1)
    assert sub.recv_until("expr/sentinel") == []


# ---------------------------------------------------------------- client ids, sessions

def test_assigned_client_identifier_mqtt_3_2_2_16(broker):
    """An empty client id in 5.0 gets an Assigned Client Identifier in CONNACK [MQTT-3.1.3-7,
    MQTT-3.2.2-16]; two such clients get different ids and both stay connected."""
    a, b = Raw(broker), Raw(broker)
    _, _, pa = a.connect("")
    _, _, pb = b.connect("")
    ida, idb = prop(pa, P_ASSIGNED_CLIENT_ID), prop(pb, P_ASSIGNED_CLIENT_ID)
    assert ida and idb and ida != idb
    a.ping()
    b.ping()


def test_empty_client_id_v311_mqtt_3_1_3_8(broker):
    """3.1.1: empty client id with clean session is accepted; without clean session refused
    with return code 2 [MQTT-3.1.3-8]."""
    a = Raw(broker, version=4)
    a.connect("", clean=True)
    a.ping()
    b = Raw(broker, version=4)
    b.connect("", clean=False, expect_rc=2)
    assert b.closed_after(5) is not None


def test_session_expiry_mqtt_3_1_2_23(broker):
    """Session Expiry Interval 2 s: the session survives a reconnect within it (session present,
    the subscription still delivers) and is gone after it [MQTT-3.1.2-23]."""
    c = Raw(broker)
    sp, _, _ = c.connect("sx", clean=True, props=[(P_SESSION_EXPIRY, 2)])
    assert sp is False
    assert c.subscribe("sx/t") == [1]
    c.disconnect()
    pub = connected(broker, "sx-pub")
    pub.publish("sx/t", b"while-away", qos=1)
    c = Raw(broker)
    sp, _, _ = c.connect("sx", clean=False, props=[(P_SESSION_EXPIRY, 2)])
    assert sp is True
    assert c.recv_publish().payload == b"while-away"
    c.disconnect()
    time.sleep(3.0)  # the event under test is time passing
    c = Raw(broker)
    sp, _, _ = c.connect("sx", clean=False, props=[(P_SESSION_EXPIRY, 2)])
    assert sp is False, "session must have expired"


def test_session_expiry_zero_ends_session_mqtt_3_1_2_11(broker):
    """Without Session Expiry Interval (0) the session ends with the connection."""
    c = Raw(broker)
    c.connect("sx0", clean=False)
    assert c.subscribe("sx0/t") == [1]
    c.disconnect()
    c = Raw(broker)
    sp, _, _ = c.connect("sx0", clean=False)
    assert sp is False


def test_disconnect_may_set_session_expiry_mqtt_3_14_2_2(broker):
    """A DISCONNECT may raise a non-zero Session Expiry Interval; the session then survives."""
    c = Raw(broker)
    c.connect("sxd", clean=True, props=[(P_SESSION_EXPIRY, 1)])
    assert c.subscribe("sxd/t") == [1]
    c.send(disconnect_bytes(0, props=[(P_SESSION_EXPIRY, 300)]))
    c.close()
    time.sleep(1.5)  # longer than the original 1 s expiry
    c = Raw(broker)
    sp, _, _ = c.connect("sxd", clean=False, props=[(P_SESSION_EXPIRY, 300)])
    assert sp is True


def test_session_takeover_mqtt_3_1_4_3(broker):
    """A second connection with the same client id takes over: the old one gets DISCONNECT 0x8E
    (5.0) and is closed [MQTT-3.1.4-3]."""
    old = connected(broker, "takeover")
    new = connected(broker, "takeover")
    seen = old.closed_after(5)
    assert seen is not None
    d = disconnect_reason(seen)
    if not on_mosquitto():  # mosquitto 2.0.11 just closes the old connection
        assert d is not None and d[0] == 0x8E
    new.ping()


# ---------------------------------------------------------------- reason strings, keep alive

@heraldd_only
def test_error_disconnect_carries_reason_string(broker):
    """SPEC 6: error DISCONNECTs carry a reason string a person can act on."""
    c = connected(broker, "rs")
    c.send(publish_bytes("ta/x", b"z", props=[(P_TOPIC_ALIAS, 0)]))
    seen = c.closed_after(5)
    d = disconnect_reason(seen)
    assert d is not None and d[0] == 0x94
    assert prop(d[1], P_REASON_STRING), "reason string missing: %r" % (d[1],)
    c = connected(broker, "rs2")
    c.send(publish_bytes("a/+/wild", b"z"))
    seen = c.closed_after(5)
    d = disconnect_reason(seen)
    assert d is not None and d[0] in (0x81, 0x82, 0x90)
    assert prop(d[1], P_REASON_STRING)


def test_server_keep_alive_mqtt_3_2_2_21(make_broker):
    """max_keepalive = 10: a client asking 60 s gets Server Keep Alive 10 in CONNACK and must use
    it [MQTT-3.2.2-21]; a client asking 5 s gets no override (or 5)."""
    broker = make_broker(config="max_keepalive = 10\n")
    c = Raw(broker)
    _, _, props = c.connect("ska", keepalive=60)
    assert prop(props, P_SERVER_KEEP_ALIVE) == 10
    c2 = Raw(broker)
    _, _, props = c2.connect("ska2", keepalive=5)
    assert prop(props, P_SERVER_KEEP_ALIVE) in (None, 5)
    # Keep alive 0 (none) is above any maximum: the server sets one [MQTT-3.2.2-21].
    c3 = Raw(broker)
    _, _, props = c3.connect("ska3", keepalive=0)
    assert prop(props, P_SERVER_KEEP_ALIVE) == 10


def test_keepalive_enforced_mqtt_3_1_2_24(broker):
    """A client silent for 1.5 x its keep alive (2 s) is disconnected [MQTT-3.1.2-24], not before
    the keep alive; in 5.0 with DISCONNECT 0x8D if anything is sent first."""
    c = Raw(broker)
    c.connect("ka", keepalive=2)
    start = time.monotonic()
    limit = 10 if on_mosquitto() else 4.5  # mosquitto checks keep alives only every few seconds
    seen = c.closed_after(limit + 1)
    elapsed = time.monotonic() - start
    assert seen is not None, "silent client must be disconnected"
    assert 2.0 <= elapsed <= limit, elapsed
    d = disconnect_reason(seen)
    assert d is None or d[0] == 0x8D
    assert broker.alive()


def test_request_problem_information_zero_mqtt_3_1_2_29(make_broker):
    """A client that sent Request Problem Information 0 gets no Reason String or User Property
    on a PUBACK [MQTT-3.1.2-29]; a refused publish is still answered 0x87 (SPEC 3)."""
    broker = make_broker(acl="topic readwrite open/#\n")
    quiet_client = Raw(broker)
    quiet_client.connect("rpi0", props=[(0x17, 0)])
    quiet_client.send(publish_bytes("closed/t", b"x", qos=1, pid=11))
    _, b = quiet_client.expect(PUBACK)
    pid, rc, props = parse_reason(b, has_pid=True)
    assert (pid, rc) == (11, 0x87)
    assert prop(props, P_REASON_STRING) is None and not props_all(props, P_USER_PROPERTY)
    assert quiet_client.publish("open/t", b"ok", qos=1) in (0, 0x10)  # 0x10: no subscribers
    talkative = connected(broker, "rpi1")
    talkative.send(publish_bytes("closed/t", b"x", qos=1, pid=12))
    _, b = talkative.expect(PUBACK)
    assert parse_reason(b, has_pid=True)[:2] == (12, 0x87)
