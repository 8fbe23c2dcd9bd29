# The topic rules of SPEC 3 end to end: users/{to}/{from}, groups/{g}/{from}, presence/{u} and
# presence/{u}/devices, checked at publish (5.0 PUBACK 0x87, 3.1.1 dropped), at subscribe
# (SUBACK 0x80 / 0x87) and at each delivery, so that wildcard subscriptions (`users/+/#`, `#`)
# deliver only what the subscriber may read, live and retained. heraldd runs with
# allow_anonymous = true (conftest's default), which takes any username without a password.
# The broker here has no identity store, so nobody is a member of any group: the positive group
# cases are in tests/unit/topic_rules_broker_test.cpp (fake Identity).
import re

import pytest
from helpers import *

pytestmark = heraldd_only   # mosquitto has no such rules

OK = (0, 0x10)   # 5.0 PUBACK: Success, or No matching subscribers


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
    for c in (bob_inbox, bob_all):
        m = c.expect_message()
        assert (m.topic, m.payload, m.retain) == ("users/bob/alice", b"kept for bob", True)

    assert carol.publish("users/alice/carol", b"live for alice", qos=1) in OK
    assert alice.publish("users/carol/alice", b"live for carol", qos=1) in OK
    assert carol.publish("users/bob/carol", b"live for bob", qos=1) in OK
    for c in (bob_inbox, bob_all):
        assert topics([c.expect_message()]) == [("users/bob/carol", b"live for bob")]
        c.expect_no_message(0.3)


def test_wildcards_mosquitto_sub(broker):
    """The same with mosquitto_sub as bob on `users/+/#` and `#`: the retained message for bob
    (once per filter, as MQTT sends retained messages per subscription), then the live one for
    bob once (overlapping subscriptions give one delivery); nothing of alice's inbox."""
    alice = user(broker, V5, "alice")
    assert alice.publish("users/alice/alice", b"secret", qos=1, retain=True) in OK
    assert alice.publish("users/bob/alice", b"retained-for-bob", qos=1, retain=True) in OK
    sub = MosquittoSub(broker, ["-u", "bob", "-t", "users/+/#", "-t", "#", "-v", "-q", "1"], 3, 10)
    sub.wait_subscribed()
    assert alice.publish("users/alice/bob", b"forged", qos=1) == 0x87
    assert alice.publish("users/alice/alice", b"secret-live", qos=1) in OK
    assert alice.publish("users/bob/alice", b"live-for-bob", qos=1) in OK
    assert sub.result() == ["users/bob/alice retained-for-bob"] * 2 + ["users/bob/alice live-for-bob"]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_presence_rules(broker, version):
    """SPEC 3/4: presence/{u} may be published by {u} only; presence/{u}/devices by no client,
    and only {u} may subscribe to it."""
    alice = user(broker, version, "alice")
    bob = user(broker, version, "bob")
    assert alice.subscribe([("presence/+", 1), ("presence/bob/devices", 1)]) == \
        [1, refused_sub(version)]
    assert bob.subscribe("presence/bob/devices", 1) == [1]
    assert bob.publish("presence/bob/devices", b"[]", qos=1) == refused_pub(version)
    assert alice.publish("presence/bob/devices", b"[]", qos=1) == refused_pub(version)
    assert alice.publish("presence/bob", b'{"status":"busy"}', qos=1) == refused_pub(version)
    assert bob.publish("presence/bob", b'{"status":"away"}', qos=1) in OK
    assert topics([alice.expect_message()]) == [("presence/bob", b'{"status":"away"}')]
    alice.expect_no_message(0.3)
    bob.expect_no_message(0.1)


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
    alice = user(broker, version, "alice")
    assert alice.publish("users/bob/alice", b"private", qos=1) in OK
    assert alice.publish("presence/alice", b"{}", qos=1) in OK
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
