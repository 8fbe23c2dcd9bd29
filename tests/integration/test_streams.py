# Streams and cursors (SPEC 5) end to end: QoS 1/2 messages to users/{to}/... and groups/{g}/...
# are kept in the store and replayed to each device of the reader once, in order, from its
# cursor; broker-set seq / ts user properties; replay while new messages arrive; a device that
# leaves in the middle of a replay resumes after what it acknowledged; PUBACK only once stored
# (kill -9). Real heraldd, paho clients of both versions, raw sockets where acks must be held
# back, mosquitto_sub.
# Run with /usr/bin/python3 -m pytest.
import signal
import subprocess
import time
import uuid

import pytest
from helpers import *
from test_admin import ADMIN_PW, Admin

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto", reason="streams are heraldd's")

ADMIN_ENV = {"HERALD_ADMIN_PASSWORD": ADMIN_PW}


def device(b, user, client_id, version=V5, clean=True, password=None, **kw):
    props = None
    if not clean and version == V5:
        props = {"SessionExpiryInterval": 3600}
    c = Client(b, version, client_id=client_id, username=user, password=password, clean=clean,
               properties=props, **kw)
    c.connect(timeout=30)
    return c


def sender(b, user, version=V5, password=None):
    return device(b, user, f"{user}-send-{uuid.uuid4().hex[:6]}", version, password=password)


def payloads(msgs):
    return [m.payload.decode() for m in msgs]


def user_props(m):
    props = getattr(m, "properties", None)
    return dict(getattr(props, "UserProperty", []) or []) if props is not None else {}


def read_all(c, n, timeout=10):
    got = c.expect_messages(n, timeout=timeout)
    c.expect_no_message(timeout=0.5)
    return got


def visit(b, user, client_id, filt, n, version=V5, **kw):
    """A device connects (clean session), subscribes, reads n messages, checks there is nothing
    more, disconnects. Returns the payloads."""
    c = device(b, user, client_id, version, **kw)
    assert c.subscribe(filt, qos=1)[0] == 1
    got = read_all(c, n) if n else []
    if not n:
        c.expect_no_message(timeout=0.7)
    c.disconnect()
    return payloads(got)


# ---------------------------------------------------------------- users

@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_offline_user_gets_messages_in_order_on_each_known_device_once(make_broker, version):
    b = make_broker()
    # Two known devices of alice: they subscribed once (clean sessions: the cursor is the device's).
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0, version) == []
    assert visit(b, "alice", "alice-laptop", "users/alice/#", 0, version) == []
    bob = sender(b, "bob", version)
    for i in range(20):
        assert bob.publish(f"users/alice/bob", f"m{i}", qos=1 if i % 2 else 2) == 0
    want = [f"m{i}" for i in range(20)]
    assert visit(b, "alice", "alice-phone", "users/alice/#", 20, version) == want
    assert visit(b, "alice", "alice-laptop", "users/alice/#", 20, version) == want
    # Once each: nothing again on either.
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0, version) == []
    assert visit(b, "alice", "alice-laptop", "users/+/#", 0, version) == []


def test_new_device_gets_only_what_no_device_acknowledged(make_broker):
    b = make_broker()
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []
    bob = sender(b, "bob")
    for i in range(3):
        bob.publish("users/alice/bob", f"a{i}", qos=1)
    assert visit(b, "alice", "alice-phone", "users/alice/#", 3) == ["a0", "a1", "a2"]
    for i in range(2):
        bob.publish("users/alice/bob", f"b{i}", qos=1)
    # A laptop never seen: what the phone read is not replayed, what nobody read is.
    assert visit(b, "alice", "alice-laptop", "users/alice/#", 2) == ["b0", "b1"]
    # The phone still gets b0, b1 (its cursor is its own).
    assert visit(b, "alice", "alice-phone", "users/alice/#", 2) == ["b0", "b1"]


def test_seq_and_ts_user_properties_are_the_brokers(make_broker):
    b = make_broker()
    a = device(b, "alice", "alice-phone")
    a.subscribe("users/alice/#", qos=1)
    bob = sender(b, "bob")
    before = int(time.time() * 1000)
    bob.publish("users/alice/bob", "hello", qos=1, properties={"UserProperty": [("seq", "999"), ("ts", "1"), ("x", "y")]})
    m = a.expect_message()
    props = user_props(m)
    assert props["seq"] == "1" and props["x"] == "y"
    assert before - 5000 <= int(props["ts"]) <= int(time.time() * 1000) + 5000
    bob.publish("users/alice/bob", "again", qos=1)
    assert user_props(a.expect_message())["seq"] == "2"
    # QoS 0: live only, never stored: a device coming later does not get it.
    bob.publish("users/alice/bob", "typing", qos=0)
    m = a.expect_message()
    assert m.payload == b"typing" and "seq" not in user_props(m) and "ts" in user_props(m)
    a.disconnect()
    bob.publish("users/alice/bob", "typing2", qos=0)
    bob.publish("barrier/bob", "x", qos=1)  # processed after typing2 (one connection, in order)
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []


def test_replay_reaches_mosquitto_sub(make_broker):
    b = make_broker()
    assert visit(b, "alice", "alice-cli", "users/alice/#", 0, V311) == []
    bob = sender(b, "bob")
    for i in range(5):
        bob.publish("users/alice/bob", f"c{i}", qos=1)
    out = subprocess.run(["mosquitto_sub", "-h", b.host, "-p", str(b.port), "-V", "mqttv311", "-i", "alice-cli",
                          "-u", "alice", "-t", "users/alice/#", "-q", "1", "-C", "5", "-W", "10"],
                         capture_output=True, text=True, timeout=20)
    assert out.stdout.split() == [f"c{i}" for i in range(5)], out


def test_persistent_session_resume_replays_without_resubscribing(make_broker):
    b = make_broker()
    a = device(b, "alice", "alice-p", clean=False)
    a.subscribe("users/alice/#", qos=1)
    a.disconnect()
    bob = sender(b, "bob")
    for i in range(5):
        bob.publish("users/alice/bob", f"p{i}", qos=1)
    a = device(b, "alice", "alice-p", clean=False)
    assert a.connack.session_present
    assert payloads(read_all(a, 5)) == [f"p{i}" for i in range(5)]  # once: not queued and replayed
    a.disconnect()


# ---------------------------------------------------------------- groups

def group_world(make_broker, members=("ann", "ben", "cat"), extra=""):
    b = make_broker('allow_anonymous = false\nconnect_timeout = "60s"\n' + extra, env=ADMIN_ENV)
    adm = Admin(b)
    cmds = [{"command": "createUser", "user": u, "password": f"{u}-pw"} for u in members + ("zed",)]
    cmds += [{"command": "createGroup", "group": "devs"}]
    cmds += [{"command": "addGroupMember", "group": "devs", "user": u} for u in members]
    for answer in adm.run(*cmds, timeout=60):
        assert "error" not in answer, answer
    return b, adm


def test_group_message_to_members_with_two_devices_each_once_per_device(make_broker):
    members = ("ann", "ben", "cat")
    b, _ = group_world(make_broker, members)
    for u in members:
        for d in ("phone", "laptop"):
            assert visit(b, u, f"{u}-{d}", "groups/devs/#", 0, password=f"{u}-pw") == []
    ann = sender(b, "ann", password="ann-pw")
    for i in range(6):
        assert ann.publish("groups/devs/ann", f"g{i}", qos=1) == 0
    want = [f"g{i}" for i in range(6)]
    # Members come back at different times, some while others already read.
    for u, d in [("ben", "phone"), ("ann", "laptop"), ("cat", "phone"), ("ben", "laptop"),
                 ("ann", "phone"), ("cat", "laptop")]:
        assert visit(b, u, f"{u}-{d}", "groups/devs/#", 6, password=f"{u}-pw") == want, (u, d)
    for u in members:
        for d in ("phone", "laptop"):
            assert visit(b, u, f"{u}-{d}", "groups/+/#", 0, password=f"{u}-pw") == []


def test_new_group_member_starts_after_joining(make_broker):
    b, adm = group_world(make_broker, ("ann", "ben"))
    ann = sender(b, "ann", password="ann-pw")
    ann.publish("groups/devs/ann", "before", qos=1)
    time.sleep(0.01)  # joined_at and ts are milliseconds: the join is after "before"
    adm.ok({"command": "addGroupMember", "group": "devs", "user": "zed"})
    deadline = time.monotonic() + 10
    while ann.publish("groups/devs/ann", "after", qos=1) != 0:  # membership reaches the broker
        assert time.monotonic() < deadline
    assert visit(b, "zed", "zed-phone", "groups/devs/#", 1, password="zed-pw") == ["after"]


# ---------------------------------------------------------------- replay and live

@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_replay_while_new_messages_arrive_no_gap_no_duplicate(make_broker, version):
    b = make_broker("[streams]\nmax_pending = 0\n")
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0, version) == []
    bob = sender(b, "bob")
    N, M = 1500, 500
    for i in range(N):
        bob.publish("users/alice/bob", str(i), qos=1, wait=False)
    wait_until(lambda: len(bob._acks) >= N, timeout=60, what="PUBACKs")
    a = device(b, "alice", "alice-phone", version)
    a._c.subscribe("users/alice/#", qos=1)  # no wait: the burst below races the replay
    for i in range(N, N + M):
        bob.publish("users/alice/bob", str(i), qos=1, wait=False)
    got = [int(m.payload) for m in a.expect_messages(N + M, timeout=60)]
    a.expect_no_message(timeout=1.0)
    assert got == list(range(N + M))


def test_disconnect_mid_replay_resumes_after_last_acknowledged(make_broker):
    b = make_broker()
    assert visit(b, "alice", "alice-raw", "users/alice/#", 0) == []
    bob = sender(b, "bob")
    for i in range(10):
        bob.publish("users/alice/bob", f"r{i}", qos=1)
    r = RawClient(b)
    r.connect(client_id="alice-raw", username="alice", props=p_u16(0x21, 5))  # receive maximum 5
    r.send(subscribe_packet([("users/alice/#", 1)]))
    r.expect_packet(SUBACK)
    got = [parse_publish(*r.expect_packet(PUBLISH)) for _ in range(5)]
    assert [g["payload"] for g in got] == [f"r{i}".encode() for i in range(5)]
    with pytest.raises(TimeoutError):  # the window is full: nothing more until an ack
        r.recv_packet(timeout=0.5)
    for g in got[:3]:
        r.send(ack_packet(PUBACK, g["packet_id"]))
    for _ in range(3):
        r.expect_packet(PUBLISH)
    r.send(disconnect_packet())
    r.close()
    # r0..r2 acknowledged: the device resumes at r3.
    assert visit(b, "alice", "alice-raw", "users/alice/#", 7) == [f"r{i}" for i in range(3, 10)]


# ---------------------------------------------------------------- limits and retention

@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_conversation_cap_reject_new(make_broker, version):
    b = make_broker('[streams]\nmax_per_conversation = 3\npolicy = "reject_new"\n')
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []
    bob = sender(b, "bob", version)
    codes = [bob.publish("users/alice/bob", f"m{i}", qos=1) for i in range(5)]
    assert codes == [0, 0, 0] + ([0x97, 0x97] if version == V5 else [0, 0])
    carol = sender(b, "carol", version)
    assert carol.publish("users/alice/carol", "c0", qos=1) == 0  # another conversation
    assert sorted(visit(b, "alice", "alice-phone", "users/alice/#", 4)) == ["c0", "m0", "m1", "m2"]
    # Read (and deleted once every device passed it): the conversation has room again.
    wait_until(lambda: bob.publish("users/alice/bob", "again", qos=1) == 0, timeout=10, interval=0.2,
               what="room in the conversation")


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_conversation_cap_drop_oldest(make_broker, version):
    b = make_broker('[streams]\nmax_per_conversation = 3\npolicy = "drop_oldest"\n')
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []
    bob = sender(b, "bob", version)
    assert [bob.publish("users/alice/bob", f"m{i}", qos=1) for i in range(5)] == [0] * 5
    assert visit(b, "alice", "alice-phone", "users/alice/#", 3) == ["m2", "m3", "m4"]
    s = device(b, "watch", "sys-watch")
    s.subscribe("$SYS/herald/streams/dropped", qos=0)
    assert s.expect_message(timeout=5).payload == b"2"


def test_ttl_and_message_expiry(make_broker):
    b = make_broker('[streams]\nttl = "2s"\n')
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []
    bob = sender(b, "bob")
    bob.publish("users/alice/bob", "short", qos=1, properties={"MessageExpiryInterval": 1})
    bob.publish("users/alice/bob", "ttl", qos=1)
    time.sleep(1.5)  # past the message expiry, not the ttl
    c = device(b, "alice", "alice-phone")
    c.subscribe("users/alice/#", qos=1)
    m = c.expect_message()
    assert m.payload == b"ttl"
    assert 0 < prop(m.properties, "MessageExpiryInterval") <= 1  # what remains of the 2 s ttl
    c.expect_no_message(timeout=0.5)
    c.disconnect()
    bob.publish("users/alice/bob", "late", qos=1, properties={"MessageExpiryInterval": 60})
    time.sleep(2.5)  # past the ttl
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []


def test_remaining_message_expiry_is_sent_on_replay(make_broker):
    b = make_broker('[streams]\nttl = 0\n')
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []
    bob = sender(b, "bob")
    bob.publish("users/alice/bob", "e", qos=1, properties={"MessageExpiryInterval": 60})
    bob.publish("users/alice/bob", "forever", qos=1)
    c = device(b, "alice", "alice-phone")
    c.subscribe("users/alice/#", qos=1)
    first, second = c.expect_messages(2)
    assert first.payload == b"e" and 50 <= prop(first.properties, "MessageExpiryInterval") <= 60
    assert second.payload == b"forever" and prop(second.properties, "MessageExpiryInterval") is None


def test_entries_every_device_passed_are_deleted(make_broker):
    b = make_broker()
    for d in ("phone", "laptop"):
        assert visit(b, "alice", f"alice-{d}", "users/alice/#", 0) == []
    bob = sender(b, "bob")
    for i in range(4):
        bob.publish("users/alice/bob", f"m{i}", qos=1)
    s = device(b, "watch", "sys-watch")
    s.subscribe("$SYS/herald/streams/pending", qos=0)

    def pending_is(value):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if s.expect_message(timeout=5).payload == str(value).encode():
                return
        raise AssertionError(f"$SYS/herald/streams/pending never {value}")

    pending_is(4)
    assert len(visit(b, "alice", "alice-phone", "users/alice/#", 4)) == 4
    pending_is(4)  # the laptop has not read them
    assert len(visit(b, "alice", "alice-laptop", "users/alice/#", 4)) == 4
    pending_is(0)


def test_device_not_seen_within_device_expiry_holds_nothing_back(make_broker):
    b = make_broker('[streams]\ndevice_expiry = "1s"\n')
    for d in ("phone", "old-laptop"):
        assert visit(b, "alice", f"alice-{d}", "users/alice/#", 0) == []
    bob = sender(b, "bob")
    s = device(b, "watch", "sys-watch")
    s.subscribe("$SYS/herald/streams/pending", qos=0)
    time.sleep(1.2)  # the old laptop is past its device expiry
    for i in range(3):
        bob.publish("users/alice/bob", f"m{i}", qos=1)
    assert len(visit(b, "alice", "alice-phone", "users/alice/#", 3)) == 3
    deadline = time.monotonic() + 10
    while s.expect_message(timeout=5).payload != b"0":  # deleted: only the phone counted
        assert time.monotonic() < deadline, "entries not deleted"


# ---------------------------------------------------------------- durability

def acks_of(client):
    with client._cond:
        return dict(client._acks)


@pytest.mark.parametrize("kill_after", [1, 300, 800])
def test_kill_9_every_acknowledged_stream_message_is_delivered_once(make_broker, tmp_path, kill_after):
    cfg = f'data_dir = "{tmp_path / "data"}"\n'
    b1 = make_broker(cfg)
    users = ["u0", "u1"]
    for u in users:
        for d in ("a", "b"):
            assert visit(b1, u, f"{u}-{d}", "users/+/#", 0) == []
    p = Client(b1, V5, client_id="crash-pub", username="pub")
    p._c.max_inflight_messages_set(100)
    p.connect()
    N = 1000
    sent = {}
    for i in range(N):
        u = users[i % 2]
        info = p._c.publish(f"users/{u}/pub", str(i).encode(), qos=1)
        sent[info.mid] = (u, i)
    wait_until(lambda: len(acks_of(p)) >= kill_after, timeout=60, interval=0.002, what="PUBACKs")
    b1.stop(signal.SIGKILL)
    p.wait_disconnect()
    acked = {sent[mid] for mid, rc in acks_of(p).items() if rc == 0}
    assert len(acked) >= kill_after
    b2 = make_broker(cfg)
    for u in users:
        want = sorted(i for (uu, i) in acked if uu == u)
        for d in ("a", "b"):
            c = device(b2, u, f"{u}-{d}")
            c.subscribe("users/+/#", qos=1)
            got = []
            while True:
                try:
                    got.append(int(c.messages.get(timeout=1.5).payload))
                except Exception:
                    break
            c.disconnect()
            assert len(got) == len(set(got)), "a message delivered twice"
            assert got == sorted(got), "out of order"
            assert set(want) <= set(got), f"{u}-{d}: acknowledged messages lost"
            assert set(got) <= set(range(N))


@pytest.mark.parametrize("kill_after", [1, 400])
def test_kill_9_group_stream_every_acknowledged_message_once_per_device(make_broker, tmp_path, kill_after):
    cfg = (f'data_dir = "{tmp_path / "gdata"}"\nallow_anonymous = false\nconnect_timeout = "60s"\n'
           '[streams]\nmax_pending = 0\n')
    b1 = make_broker(cfg, env=ADMIN_ENV)
    adm = Admin(b1)
    cmds = [{"command": "createUser", "user": u, "password": f"{u}-pw"} for u in ("ann", "ben")]
    cmds += [{"command": "createGroup", "group": "devs"}]
    cmds += [{"command": "addGroupMember", "group": "devs", "user": u} for u in ("ann", "ben")]
    for answer in adm.run(*cmds, timeout=60):
        assert "error" not in answer, answer
    for u in ("ann", "ben"):
        for d in ("a", "b"):
            assert visit(b1, u, f"{u}-{d}", "groups/devs/#", 0, password=f"{u}-pw") == []
    p = Client(b1, V5, client_id="ann-pub", username="ann", password="ann-pw")
    p._c.max_inflight_messages_set(100)
    p.connect(timeout=30)
    N = 800
    index_of_mid = {}
    for i in range(N):
        index_of_mid[p._c.publish("groups/devs/ann", str(i).encode(), qos=1).mid] = i
    wait_until(lambda: len(acks_of(p)) >= kill_after, timeout=60, interval=0.002, what="PUBACKs")
    b1.stop(signal.SIGKILL)
    p.wait_disconnect()
    acked = {index_of_mid[mid] for mid, rc in acks_of(p).items() if rc == 0}
    assert len(acked) >= kill_after
    b2 = make_broker(cfg, env=ADMIN_ENV)
    for u in ("ann", "ben"):
        for d in ("a", "b"):
            c = device(b2, u, f"{u}-{d}", password=f"{u}-pw")
            c.subscribe("groups/devs/#", qos=1)
            got = []
            while True:
                try:
                    got.append(int(c.messages.get(timeout=1.5).payload))
                except Exception:
                    break
            c.disconnect()
            assert len(got) == len(set(got)), f"{u}-{d}: a message delivered twice"
            assert got == sorted(got), f"{u}-{d}: out of order"
            assert acked <= set(got), f"{u}-{d}: acknowledged messages lost"


# ---------------------------------------------------------------- admin

def test_get_stream_stats_and_herald_pending(make_broker):
    from test_admin import herald
    b = make_broker(env=ADMIN_ENV)
    adm = Admin(b)
    assert visit(b, "alice", "alice-phone", "users/alice/#", 0) == []
    bob, carol = sender(b, "bob"), sender(b, "carol")
    for i in range(2):
        bob.publish("users/alice/bob", f"b{i}", qos=1)
    carol.publish("users/alice/carol", "c0!", qos=1)
    d = adm.ok({"command": "getStreamStats", "user": "alice"})
    assert d["user"] == "alice" and d["pending"] == 3 and d["bytes"] == 2 + 2 + 3
    assert [(c["from"], c["pending"]) for c in d["conversations"]] == [("bob", 2), ("carol", 1)]
    assert d["devices"] == [{"clientId": "alice-phone", "cursor": 0}]
    out = herald(b, "pending", "alice")
    assert out.returncode == 0, out
    assert "alice: 3 waiting" in out.stdout and "from bob" in out.stdout and "alice-phone" in out.stdout
    assert "user" in adm.error({"command": "getStreamStats", "user": "bad/name"})
