# Presence (SPEC 4) end to end: the broker-kept retained presence/{u} record and
# presence/{u}/devices, across devices, with the grace period, takeover, the device limit,
# status updates, invisible, $SYS counts, and seq carried over a restart. Real heraldd, paho
# clients of both protocol versions as devices and as watchers.
# Run with /usr/bin/python3 -m pytest.
import json
import signal
import time

import pytest
from helpers import *

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto", reason="presence is heraldd's")


def presence_config(grace="1s", extra="", top=""):
    """heraldd config: top-level keys in `top`, then a [presence] table."""
    return f'{top}\n[presence]\ngrace = "{grace}"\nvisibility = "all"\n{extra}\n'


def watcher(broker, topic="presence/+", version=V5, name="watcher"):
    """A user watching presence records (it has a username, so it has a presence of its own:
    with a wildcard filter its own retained record comes first and is taken here)."""
    w = Client(broker, version, client_id=name, username=name)
    w.connect()
    w.subscribe(topic, qos=1)
    if "+" in topic or "#" in topic:
        own = w.expect_message()
        assert own.topic == f"presence/{name}", own
    return w


def next_record(w, user, timeout=5):
    """The next presence/{user} record the watcher receives (other topics skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no presence record for {user} within {timeout}s")
        m = w.expect_message(timeout=left)
        if m.topic == f"presence/{user}":
            return json.loads(m.payload)


def device(broker, user, client_id, version=V5, **kw):
    c = Client(broker, version, client_id=client_id, username=user, **kw)
    c.connect()
    return c


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_two_devices_one_drops_user_stays_online(make_broker, version):
    b = make_broker(presence_config(grace="1s"))
    w = watcher(b)
    phone = device(b, "alice", "alice-phone", version)
    rec = next_record(w, "alice")
    assert rec["state"] == "online" and rec["devices"] == 1 and rec["user"] == "alice"
    first_seq = rec["seq"]
    laptop = device(b, "alice", "alice-laptop", version)
    rec = next_record(w, "alice")
    assert (rec["state"], rec["devices"], rec["seq"]) == ("online", 2, first_seq + 1)
    phone.drop()
    rec = next_record(w, "alice")  # one device fewer, at once: not the user's last
    assert (rec["state"], rec["devices"], rec["seq"]) == ("online", 1, first_seq + 2)
    w.expect_no_message(timeout=1.5)  # past the grace: still online, nothing more
    start = time.monotonic()
    laptop.drop()
    rec = next_record(w, "alice", timeout=5)
    waited = time.monotonic() - start
    assert rec["state"] == "offline" and rec["seq"] == first_seq + 3
    assert rec["last_seen"] > 0
    assert waited >= 0.8, f"offline after {waited:.2f}s, before the 1s grace"


def test_reconnect_within_grace_publishes_nothing(make_broker):
    b = make_broker(presence_config(grace="3s"))
    w = watcher(b)
    c = device(b, "bob", "bob-phone")
    assert next_record(w, "bob")["state"] == "online"
    c.drop()
    c = device(b, "bob", "bob-phone")
    w.expect_no_message(timeout=3.5)  # beyond the grace: no record, no device list
    c.disconnect()
    assert next_record(w, "bob", timeout=2)["state"] == "offline"


def test_flapping_ten_times_within_grace_is_silent(make_broker):
    b = make_broker(presence_config(grace="2s"))
    w = watcher(b)
    c = device(b, "carol", "carol-phone")
    next_record(w, "carol")
    for _ in range(10):
        c.drop()
        c = device(b, "carol", "carol-phone")
    w.expect_no_message(timeout=2.5)
    c.close()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_clean_disconnect_goes_offline_at_once(make_broker, version):
    b = make_broker(presence_config(grace="60s"))
    w = watcher(b)
    c = device(b, "dan", "dan-phone", version)
    online = next_record(w, "dan")
    c.disconnect()
    rec = next_record(w, "dan", timeout=3)  # long before the 60 s grace
    assert rec["state"] == "offline" and rec["seq"] == online["seq"] + 1


def test_takeover_is_not_a_presence_change(make_broker):
    b = make_broker(presence_config(grace="60s"))
    w = watcher(b)
    first = device(b, "erin", "erin-phone")
    next_record(w, "erin")
    second = device(b, "erin", "erin-phone")
    assert first.wait_disconnect() == 0x8E
    w.expect_no_message(timeout=1.0)
    second.close()


def test_late_watcher_gets_the_retained_state(make_broker):
    b = make_broker(presence_config())
    c = device(b, "fay", "fay-phone")
    w = watcher(b, "presence/fay")
    m = w.expect_message()
    assert m.retain and json.loads(m.payload)["state"] == "online"
    c.close()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_status_update_is_merged_and_invisible_shows_offline(make_broker, version):
    b = make_broker(presence_config())
    w = watcher(b)
    c = device(b, "gus", "gus-phone", version)
    seq = next_record(w, "gus")["seq"]
    c.publish("presence/gus", json.dumps({"status": "away", "text": "In a meeting"}), qos=1)
    rec = next_record(w, "gus")
    assert (rec["state"], rec["status"], rec["text"], rec["seq"]) == ("online", "away", "In a meeting",
                                                                     seq + 1)
    c.publish("presence/gus", json.dumps({"status": "invisible"}), qos=1)
    rec = next_record(w, "gus")
    assert (rec["state"], rec["devices"], rec["seq"]) == ("offline", 0, seq + 2)
    assert "invisible" not in json.dumps(rec)


def test_bad_status_update_is_refused(make_broker):
    b = make_broker(presence_config())
    w = watcher(b)
    c = device(b, "hal", "hal-phone")
    next_record(w, "hal")
    for bad in [b"not json", b'{"status":"sleeping"}', b'{"mood":"ok"}', b"\xff"]:
        assert c.publish("presence/hal", bad, qos=1) == 0x99  # Payload format invalid
    w.expect_no_message(timeout=0.5)
    c.close()


def test_devices_list(make_broker):
    b = make_broker(presence_config())
    me = device(b, "ivy", "ivy-phone", V5)
    me.subscribe("presence/ivy/devices", qos=1)
    listed = json.loads(me.expect_message().payload)
    assert [d["client_id"] for d in listed["devices"]] == ["ivy-phone"]
    laptop = device(b, "ivy", "ivy-laptop", V311)
    listed = json.loads(me.expect_message().payload)
    assert [(d["client_id"], d["protocol"], d["transport"]) for d in listed["devices"]] == \
        [("ivy-phone", 5, "tcp"), ("ivy-laptop", 4, "tcp")]
    laptop.disconnect()
    listed = json.loads(me.expect_message().payload)
    assert [d["client_id"] for d in listed["devices"]] == ["ivy-phone"]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_device_limit_replace_oldest(make_broker, version):
    b = make_broker(presence_config(extra='max_devices = 1\ndevice_policy = "replace_oldest"'))
    w = watcher(b)
    old = device(b, "jay", "jay-phone", V5)
    next_record(w, "jay")
    new = device(b, "jay", "jay-laptop", version)
    assert old.wait_disconnect() == 0x8E
    reason = prop(old.disconnect_properties, "ReasonString")
    assert reason and "jay-laptop" in reason
    w.expect_no_message(timeout=1.0)  # single login: the user never looked offline
    new.close()


@pytest.mark.parametrize("version, code", [pytest.param(V5, 0x97, id="v5"),
                                           pytest.param(V311, 0x03, id="v311")])
def test_device_limit_reject_new(make_broker, version, code):
    b = make_broker(presence_config(extra='max_devices = 2\ndevice_policy = "reject_new"'))
    a = device(b, "kim", "kim-1")
    c = device(b, "kim", "kim-2")
    third = Client(b, version, client_id="kim-3", username="kim")
    third.connect(expect_rc=code)
    # The same client id again is a takeover, not a third device.
    again = Client(b, version, client_id="kim-2", username="kim")
    again.connect()
    a.close()
    c.close()


def test_anonymous_clients_have_no_presence(make_broker):
    b = make_broker(presence_config())
    w = watcher(b)
    anon = Client(b, V5, client_id="anon")
    anon.connect()
    anon.disconnect()
    w.expect_no_message(timeout=0.5)


def test_users_online_count_in_sys(make_broker):
    b = make_broker(presence_config())
    w = Client(b, V5, client_id="sys-watcher")
    w.connect()
    w.subscribe("$SYS/herald/users/online", qos=0)
    devices = [device(b, f"u{i}", f"u{i}-phone") for i in range(3)]
    devices.append(device(b, "u0", "u0-laptop"))

    def count():
        m = w.expect_message(timeout=5)
        return int(m.payload)

    deadline = time.monotonic() + 5
    while count() != 3:
        assert time.monotonic() < deadline, "users/online never reached 3"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "kill9"])
def test_devices_record_is_not_stored_and_is_fresh_after_a_restart(make_broker, tmp_path, how):
    """The devices record lives in memory only: the store keeps presence/{u} and not
    presence/{u}/devices, and after a restart the user sees only the devices really online."""
    import sqlite3
    data_dir = tmp_path / "devstore"
    data = f'data_dir = "{data_dir}"'
    b1 = make_broker(presence_config(top=data))
    me = device(b1, "ned", "ned-phone")
    me.subscribe("presence/ned/devices", qos=1)
    listed = json.loads(me.expect_message().payload)
    assert [d["client_id"] for d in listed["devices"]] == ["ned-phone"]
    b1.stop(how)
    me.close()
    db = sqlite3.connect(str(data_dir / "herald.db"))
    topics = {row[0] for row in db.execute("SELECT topic FROM retained WHERE topic LIKE 'presence/ned%'")}
    db.close()
    assert "presence/ned" in topics and "presence/ned/devices" not in topics, topics
    b2 = make_broker(presence_config(top=data))
    me = device(b2, "ned", "ned-laptop")
    me.subscribe("presence/ned/devices", qos=1)
    listed = json.loads(me.expect_message().payload)
    assert [d["client_id"] for d in listed["devices"]] == ["ned-laptop"]
    me.close()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "kill9"])
def test_seq_grows_across_a_restart(make_broker, tmp_path, how):
    data = f'data_dir = "{tmp_path / "shared"}"'
    b1 = make_broker(presence_config(top=data))
    c = device(b1, "lee", "lee-phone")
    c.publish("presence/lee", json.dumps({"status": "busy", "text": "coding"}), qos=1)
    w = watcher(b1, "presence/lee")
    before = json.loads(w.expect_message().payload)
    assert before["status"] == "busy"
    w.close()
    b1.stop(how)
    c.close()
    b2 = make_broker(presence_config(top=data))
    w = watcher(b2, "presence/lee")
    after = json.loads(w.expect_message().payload)
    assert after["state"] == "offline" and after["seq"] > before["seq"]
    assert after["status"] == "busy" and after["last_seen"] > 0
    c = device(b2, "lee", "lee-phone")
    rec = next_record(w, "lee")
    assert rec["state"] == "online" and rec["seq"] == after["seq"] + 1
    c.close()


def test_churn_every_departed_user_offline_exactly_once(make_broker):
    """40 users connect; 30 of them drop abruptly (some twice, returning within grace), 10 stay.
    A watcher counts offline records: exactly one for each departed user, none for the others."""
    b = make_broker(presence_config(grace="1s"))
    w = watcher(b)
    users = [f"churn{i}" for i in range(40)]
    conns = {u: device(b, u, f"{u}-dev") for u in users}
    online = {}
    for _ in users:
        rec = next_record_any(w)
        online[rec["user"]] = rec
    assert set(online) == set(users)
    leaving = users[:30]
    for i, u in enumerate(leaving):
        conns[u].drop()
        if i % 3 == 0:  # a flap: back within grace, then gone for good
            conns[u] = device(b, u, f"{u}-dev")
            conns[u].drop()
    offline = {}
    deadline = time.monotonic() + 10
    while len(offline) < len(leaving):
        assert time.monotonic() < deadline, f"only {len(offline)} of {len(leaving)} went offline"
        rec = next_record_any(w, timeout=max(0.1, deadline - time.monotonic()))
        assert rec["state"] == "offline", rec
        assert rec["user"] not in offline, f"{rec['user']} shown offline twice"
        offline[rec["user"]] = rec
        assert rec["seq"] == online[rec["user"]]["seq"] + 1
    assert set(offline) == set(leaving)
    w.expect_no_message(timeout=1.5)  # nobody who stayed is shown offline
    for u in users[30:]:
        conns[u].close()


def next_record_any(w, timeout=5):
    m = w.expect_message(timeout=timeout)
    return json.loads(m.payload)
