# The topic rules of SPEC 3 end to end: users/{to}/{from}, groups/{g}/{from}, presence/{u} and
# presence/{u}/devices, checked at publish (5.0 PUBACK 0x87, 3.1.1 dropped), at subscribe
# (SUBACK 0x80 / 0x87) and at each delivery, so that wildcard subscriptions (`users/+/#`, `#`)
# deliver only what the subscriber may read, live and retained. heraldd runs with
# allow_anonymous = true (conftest's default), which takes any username without a password, and
# with presence.visibility = "all": every user with a username is online while connected and
# has a retained presence/{u} record (SPEC 4) that every other user may read, so `#` and
# `presence/+` subscribers get those records too (a user's own presence/{u}/devices as well).
# The broker here has no identity store, so nobody is a member of any group: the positive group
# cases are in tests/unit/topic_rules_broker_test.cpp (fake Identity).
import json
import re

import pytest
from helpers import *

pytestmark = heraldd_only   # mosquitto has no such rules

OK = (0, 0x10)   # 5.0 PUBACK: Success, or No matching subscribers


@pytest.fixture
def broker(make_broker):
    """heraldd with presence visible to every user, so what a subscriber gets is known exactly."""
    return make_broker('[presence]\ngrace = "1s"\nvisibility = "all"\n')


def user(broker, version, name, client_id=None, **kw):
    c = Client(broker, version, client_id=client_id or f"{name}-{version}", username=name, **kw)
    c.connect()
    return c


def refused_pub(version):
    return 0x87 if version == V5 else 0   # 3.1.1 is acked as if accepted, and dropped


def refused_sub(version):
    return 0x87 if version == V5 else 0x80


def topics(messages):
    return [(m.topic, m.payload) for m in messages]


def is_presence(topic):
    return topic.startswith("presence/")


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_publish_as_another_user_refused(broker, version):
    """SPEC 3: only user {from} may publish to users/{to}/{from}; alice publishing as bob gets
    PUBACK 0x87 (5.0) or is dropped (3.1.1) and nobody receives it, not even a `#` watcher."""
    carol = user(broker, version, "carol")
    assert carol.subscribe("users/carol/#", 1) == [1]
    alice = user(broker, version, "alice")
    assert alice.publish("users/carol/bob", b"forged", qos=1) == refused_pub(version)
    assert alice.publish("users/carol/bob", b"forged qos2", qos=2) == refused_pub(version)
    alice.publish("users/carol/bob", b"forged qos0", qos=0)
    assert alice.publish("users/carol", b"too short", qos=1) == refused_pub(version)
    # The genuine message that follows is the first one carol gets.
    assert alice.publish("users/carol/alice", b"hello", qos=1) in OK
    assert topics([carol.expect_message()]) == [("users/carol/alice", b"hello")]
    carol.expect_no_message(0.3)
    # Logged at info once per connection (later refusals at debug), with the reason.
    line = rf"Refused PUBLISH of alice-{version} \(user alice\) to users/carol/bob: sender level"
    broker.wait_log(line)
    assert len(re.findall(line, broker.log())) == 1


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_subscribe_to_another_inbox_refused(broker, version):
    """SPEC 3: a filter naming another user's inbox is refused in the SUBACK; the others in the
    same SUBSCRIBE are granted."""
    bob = user(broker, version, "bob")
    codes = bob.subscribe([("users/alice/#", 1), ("users/bob/#", 1), ("users/alice/bob", 1)])
    assert codes == [refused_sub(version), 1, refused_sub(version)]
    alice = user(broker, version, "alice")
    assert alice.publish("users/bob/alice", b"for bob", qos=1) in OK
    assert alice.publish("users/alice/alice", b"alice's own", qos=1) in OK
    assert topics([bob.expect_message()]) == [("users/bob/alice", b"for bob")]
    bob.expect_no_message(0.3)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_wildcards_deliver_only_own_inbox_live_and_retained(broker, version):
    """SPEC 3: `users/+/#` and `#` are accepted, and each delivery is checked: bob receives
    users/bob/... only, never users/alice/..., retained (sent at SUBSCRIBE) and live."""
    alice = user(broker, version, "alice")
    carol = user(broker, version, "carol")
    assert alice.publish("users/alice/alice", b"note to self", qos=1, retain=True) in OK
    assert carol.publish("users/alice/carol", b"for alice", qos=1, retain=True) in OK
    assert alice.publish("users/bob/alice", b"kept for bob", qos=1, retain=True) in OK
    bob_inbox = user(broker, version, "bob", client_id=f"bob-inbox-{version}")
    bob_all = user(broker, version, "bob", client_id=f"bob-all-{version}")
    assert bob_inbox.subscribe("users/+/#", 1) == [1]
    assert bob_all.subscribe("#", 1) == [1]
    m = bob_inbox.expect_message()
    assert (m.topic, m.payload, m.retain) == ("users/bob/alice", b"kept for bob", True)
    # `#` also matches the retained presence records: everyone's presence/{u} (visibility
    # "all"), and bob's own device list, never alice's or carol's.
    got = bob_all.expect_messages(5)
    assert [(m.topic, m.payload, m.retain) for m in got if not is_presence(m.topic)] == \
        [("users/bob/alice", b"kept for bob", True)]
    presence = {m.topic: json.loads(m.payload) for m in got if is_presence(m.topic)}
    assert sorted(presence) == ["presence/alice", "presence/bob", "presence/bob/devices", "presence/carol"]
    assert all(m.retain for m in got)
    assert [d["client_id"] for d in presence["presence/bob/devices"]["devices"]] == \
        [f"bob-inbox-{version}", f"bob-all-{version}"]

    assert carol.publish("users/alice/carol", b"live for alice", qos=1) in OK
    assert alice.publish("users/carol/alice", b"live for carol", qos=1) in OK
    assert carol.publish("users/bob/carol", b"live for bob", qos=1) in OK
    for c in (bob_inbox, bob_all):
        assert topics([c.expect_message()]) == [("users/bob/carol", b"live for bob")]
        c.expect_no_message(0.3)


def test_wildcards_mosquitto_sub(broker):
    """The same with mosquitto_sub as bob on `users/+/#` and `#`: the retained message for bob
    (once per filter, as MQTT sends retained messages per subscription), then the live one for
    bob once (overlapping subscriptions give one delivery); nothing of alice's inbox. `#` also
    brings the retained presence records bob may read: alice's, his own and his device list."""
    alice = user(broker, V5, "alice")
    assert alice.publish("users/alice/alice", b"secret", qos=1, retain=True) in OK
    assert alice.publish("users/bob/alice", b"retained-for-bob", qos=1, retain=True) in OK
    sub = MosquittoSub(broker, ["-u", "bob", "-t", "users/+/#", "-t", "#", "-v", "-q", "1"], 6, 10)
    sub.wait_subscribed()
    assert alice.publish("users/alice/bob", b"forged", qos=1) == 0x87
    assert alice.publish("users/alice/alice", b"secret-live", qos=1) in OK
    assert alice.publish("users/bob/alice", b"live-for-bob", qos=1) in OK
    lines = sub.result()
    assert [l for l in lines if not is_presence(l)] == \
        ["users/bob/alice retained-for-bob"] * 2 + ["users/bob/alice live-for-bob"], lines
    assert sorted(l.split(" ", 1)[0] for l in lines if is_presence(l)) == \
        ["presence/alice", "presence/bob", "presence/bob/devices"], lines


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_presence_rules(broker, version):
    """SPEC 3/4: presence/{u} is written by the broker; {u} may publish there only a status
    update, which the broker merges into the record (a whole record is refused, 5.0 PUBACK
    0x99), and nobody else may publish there at all; presence/{u}/devices is published by no
    client, and only {u} may subscribe to it."""
    alice = user(broker, version, "alice")
    bob = user(broker, version, "bob")
    assert alice.subscribe([("presence/+", 1), ("presence/bob/devices", 1)]) == \
        [1, refused_sub(version)]
    # Retained at SUBSCRIBE: alice's own record and bob's, nothing of bob's devices.
    records = {m.topic: json.loads(m.payload) for m in alice.expect_messages(2)}
    assert sorted(records) == ["presence/alice", "presence/bob"]
    bob_before = records["presence/bob"]
    assert (bob_before["user"], bob_before["state"], bob_before["status"]) == ("bob", "online", "available")
    assert bob.subscribe("presence/bob/devices", 1) == [1]
    listed = json.loads(bob.expect_message().payload)
    assert [d["client_id"] for d in listed["devices"]] == [f"bob-{version}"]

    assert bob.publish("presence/bob/devices", b"[]", qos=1) == refused_pub(version)
    assert alice.publish("presence/bob/devices", b"[]", qos=1) == refused_pub(version)
    assert alice.publish("presence/bob", b'{"status":"busy"}', qos=1) == refused_pub(version)
    forged = json.dumps(dict(bob_before, state="offline", seq=bob_before["seq"] + 10))
    assert bob.publish("presence/bob", forged, qos=1) == (0x99 if version == V5 else 0)
    assert bob.publish("presence/bob", b'{"status":"away"}', qos=1) in OK
    m = alice.expect_message()
    merged = json.loads(m.payload)
    assert m.topic == "presence/bob"
    assert merged == dict(bob_before, status="away", seq=bob_before["seq"] + 1)
    alice.expect_no_message(0.3)
    bob.expect_no_message(0.1)   # his device list is unchanged: the "[]" above went nowhere


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_anonymous_refused_in_ruled_namespaces(broker, version):
    """SPEC 3: anonymous clients may neither publish to nor read users/, groups/, presence/; a
    `#` subscription is granted but delivers only plain topics."""
    anon = Client(broker, version, client_id=f"anon-{version}")
    anon.connect()
    bob = user(broker, version, "bob")
    assert bob.subscribe("users/bob/#", 1) == [1]
    assert anon.publish("users/bob/anon", b"x", qos=1) == refused_pub(version)
    assert anon.publish("presence/anon", b"x", qos=1) == refused_pub(version)
    assert anon.subscribe([("users/+/#", 1), ("presence/+", 1), ("groups/#", 1), ("#", 1)]) == \
        [refused_sub(version)] * 3 + [1]
    alice = user(broker, version, "alice")   # her presence/alice record is not for anon either
    assert alice.publish("users/bob/alice", b"private", qos=1) in OK
    assert alice.publish("presence/alice", b'{"status":"away"}', qos=1) in OK
    assert alice.publish("plain/news", b"public", qos=1) in OK
    assert topics([anon.expect_message()]) == [("plain/news", b"public")]
    anon.expect_no_message(0.3)
    assert topics([bob.expect_message()]) == [("users/bob/alice", b"private")]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_groups_refused_without_membership(broker, version):
    """SPEC 3: without group membership (this broker has no identity store) groups/{g}/...
    may be neither published nor subscribed; `groups/+/#` is granted and delivers nothing."""
    alice = user(broker, version, "alice")
    bob = user(broker, version, "bob")
    assert alice.subscribe([("groups/devs/#", 1), ("groups/+/#", 1)]) == [refused_sub(version), 1]
    assert bob.publish("groups/devs/bob", b"hi devs", qos=1) == refused_pub(version)
    assert bob.publish("groups/devs/alice", b"as alice", qos=1) == refused_pub(version)
    assert alice.subscribe("plain/#", 1) == [1]
    assert bob.publish("plain/after", b"marker", qos=1) in OK
    assert topics([alice.expect_message()]) == [("plain/after", b"marker")]
    alice.expect_no_message(0.2)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_will_to_another_users_inbox_not_published(broker, version):
    """SPEC 3: a will is a publish too: alice's will to users/carol/bob is dropped, her will to
    users/carol/alice is delivered."""
    carol = user(broker, version, "carol")
    assert carol.subscribe("users/carol/#", 1) == [1]
    forged = user(broker, version, "alice", client_id=f"alice-forged-{version}",
                  will={"topic": "users/carol/bob", "payload": b"forged will", "qos": 1})
    genuine = user(broker, version, "alice", client_id=f"alice-genuine-{version}",
                   will={"topic": "users/carol/alice", "payload": b"alice gone", "qos": 1})
    forged.drop()
    genuine.drop()
    assert topics([carol.expect_message()]) == [("users/carol/alice", b"alice gone")]
    carol.expect_no_message(0.3)
