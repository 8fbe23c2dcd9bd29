# Retained messages and persistent sessions live in heraldd's SQLite file ({data_dir}/herald.db):
# they come back after a graceful restart (SIGTERM) and after a kill -9, when the second heraldd
# opens the same data_dir; expired and clean sessions leave nothing there. (The crash under load
# and a bad database: test_store_crash.py.) Run with /usr/bin/python3 -m pytest.
import signal
import sqlite3
import struct
import time

import pytest
from helpers import *

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="the harness runs mosquitto without persistence")


def shared_data(tmp_path):
    """Extra config that makes every broker of the test use one data_dir."""
    return f'data_dir = "{tmp_path / "shared-data"}"\n'


def expect_retained(broker, version, topic, payload):
    s = Client(broker, version, client_id="after-restart")
    s.connect()
    s.subscribe(topic, qos=1)
    m = s.expect_message()
    assert (m.topic, m.payload, m.retain) == (topic, payload, True)
    s.close()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_survives_graceful_restart(make_broker, tmp_path, version):
    b1 = make_broker(shared_data(tmp_path))
    assert (tmp_path / "shared-data" / "herald.db").exists()
    p = Client(b1, version, client_id="pub")
    p.connect()
    p.publish("store/kept", b"v1", qos=1, retain=True)
    p.publish("store/gone", b"x", qos=1, retain=True)
    p.publish("store/gone", b"", qos=1, retain=True)   # deleted: must not come back
    p.close()
    assert b1.stop(signal.SIGTERM) == 0

    b2 = make_broker(shared_data(tmp_path))
    expect_retained(b2, version, "store/kept", b"v1")
    s = Client(b2, version, client_id="gone")
    s.connect()
    s.subscribe("store/gone", qos=1)
    s.expect_no_message(0.5)


def wait_committed(tmp_path, topic, timeout=5.0):
    db = tmp_path / "shared-data" / "herald.db"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                if con.execute("SELECT 1 FROM retained WHERE topic = ?", (topic,)).fetchone():
                    return
        except sqlite3.Error:
            pass
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    raise AssertionError(f"retained {topic} not committed to {db} within {timeout}s")


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_survives_kill_9(make_broker, tmp_path, version):
    b1 = make_broker(shared_data(tmp_path))
    p = Client(b1, version, client_id="pub")
    p.connect()
    p.publish("store/crash", b"acked", qos=1, retain=True)   # returns once PUBACK arrived
    p.close()
    # The PUBACK came after the retained write's commit: a reader of the file sees it already.
    wait_committed(tmp_path, "store/crash", timeout=0)
    b1.stop(signal.SIGKILL)

    b2 = make_broker(shared_data(tmp_path))
    expect_retained(b2, version, "store/crash", b"acked")


# ---------------------------------------------------------------- persistent sessions

def db_path(tmp_path):
    return tmp_path / "shared-data" / "herald.db"


def db_rows(tmp_path, sql, args=()):
    with sqlite3.connect(f"file:{db_path(tmp_path)}?mode=ro", uri=True, timeout=5) as con:
        return con.execute(sql, args).fetchall()


def persistent(broker, version, client_id, expiry=3600):
    """A client whose session outlives its connection: 5.0 Session Expiry Interval, 3.1.1
    clean session 0."""
    props = {"SessionExpiryInterval": expiry} if version == V5 else None
    return Client(broker, version, client_id=client_id, clean=False, properties=props)


STOPS = [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGKILL, id="kill9")]


@pytest.mark.parametrize("sig", STOPS)
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_persistent_session_survives_restart(make_broker, tmp_path, version, sig):
    b1 = make_broker(shared_data(tmp_path))
    s = persistent(b1, version, "ps-sub")
    assert not s.connect().session_present
    assert s.subscribe([("ps/one", 1), ("ps/two", 2)]) == [1, 2]
    s.disconnect()
    p = Client(b1, version, client_id="ps-pub")
    p.connect()
    # Each publish returns once its PUBACK / PUBCOMP arrived: after the commit of the queue rows.
    for i in range(5):
        assert p.publish("ps/one", f"one-{i}".encode(), qos=1) == 0
    for i in range(3):
        assert p.publish("ps/two", f"two-{i}".encode(), qos=2) == 0
    p.disconnect()
    b1.stop(sig)

    b2 = make_broker(shared_data(tmp_path))
    assert "restored 1 persistent sessions with 8 messages" in b2.log()
    s2 = persistent(b2, version, "ps-sub")
    assert s2.connect().session_present
    got = s2.expect_messages(8)
    assert [(m.topic, m.payload, m.qos) for m in got] == \
        [("ps/one", f"one-{i}".encode(), 1) for i in range(5)] + \
        [("ps/two", f"two-{i}".encode(), 2) for i in range(3)]
    s2.expect_no_message(0.3)
    # The subscriptions came back too.
    p2 = Client(b2, version, client_id="ps-pub")
    p2.connect()
    assert p2.publish("ps/two", b"after", qos=1) == 0
    m = s2.expect_message()
    assert (m.topic, m.payload, m.qos) == ("ps/two", b"after", 1)
    # Delivered and acknowledged: gone from the store.
    s2.disconnect()
    p2.disconnect()
    b2.stop(signal.SIGTERM)
    assert db_rows(tmp_path, "SELECT count(*) FROM session_messages") == [(0,)]
    assert db_rows(tmp_path, "SELECT count(*) FROM stored_messages") == [(0,)]
    assert db_rows(tmp_path, "SELECT filter FROM session_subscriptions WHERE client_id = 'ps-sub' "
                             "ORDER BY filter") == [("ps/one",), ("ps/two",)]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_inflight_message_resent_with_dup_after_kill_9(make_broker, tmp_path, version):
    """A message sent but not acknowledged when heraldd died is resent with DUP=1 and its
    packet id when the session resumes; a QoS 2 message past PUBREC gets its PUBREL again."""
    b1 = make_broker(shared_data(tmp_path))
    props = p_u32(0x11, 3600) if version == V5 else b""
    r = RawClient(b1)
    r.connect(client_id="raw-sub", version=version, clean=False, props=props)
    r.send(subscribe_packet([("inf/a", 1), ("inf/b", 2)], packet_id=1, version=version))
    r.expect_packet(SUBACK)
    p = Client(b1, version, client_id="inf-pub")
    p.connect()
    assert p.publish("inf/a", b"q1", qos=1) == 0
    assert p.publish("inf/b", b"q2", qos=2) == 0
    f1, body1 = r.expect_packet(PUBLISH)
    pub1 = parse_publish(f1, body1, version)
    f2, body2 = r.expect_packet(PUBLISH)
    pub2 = parse_publish(f2, body2, version)
    assert (pub1["payload"], pub2["payload"]) == (b"q1", b"q2")
    r.send(ack_packet(PUBREC, pub2["packet_id"], version=version))   # q2 -> awaiting PUBCOMP
    r.expect_packet(PUBREL)
    # Both state changes must be committed before the kill: wait for the row of q2 to say so.
    wait_until(lambda: db_rows(tmp_path, "SELECT state FROM session_messages WHERE client_id = "
                                         "'raw-sub' ORDER BY seq") ==
               [("inflight_publish",), ("inflight_pubrel",)], what="inflight rows committed")
    b1.stop(signal.SIGKILL)
    r.close()

    b2 = make_broker(shared_data(tmp_path))
    r2 = RawClient(b2)
    sp, _, _ = r2.connect(client_id="raw-sub", version=version, clean=False, props=props)
    assert sp
    f, body = r2.expect_packet(PUBLISH)
    again = parse_publish(f, body, version)
    assert (again["payload"], again["dup"], again["packet_id"], again["qos"]) == \
        (b"q1", True, pub1["packet_id"], 1)
    _, rel = r2.expect_packet(PUBREL)
    assert struct.unpack("!H", rel[:2])[0] == pub2["packet_id"]
    r2.send(ack_packet(PUBACK, pub1["packet_id"], version=version))
    r2.send(ack_packet(PUBCOMP, pub2["packet_id"], version=version))
    wait_until(lambda: db_rows(tmp_path, "SELECT count(*) FROM session_messages") == [(0,)],
               what="acknowledged rows erased")


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_session_expiry_removes_it_from_the_store(make_broker, tmp_path, version):
    # max_session_expiry caps both: 5.0's requested hour and 3.1.1's "never".
    cfg = shared_data(tmp_path) + "max_session_expiry = 2\n"
    b1 = make_broker(cfg)
    s = persistent(b1, version, "exp-sub")
    s.connect()
    s.subscribe("exp/t", qos=1)
    s.disconnect()
    p = Client(b1, version, client_id="exp-pub")
    p.connect()
    assert p.publish("exp/t", b"waiting", qos=1) == 0
    assert db_rows(tmp_path, "SELECT count(*) FROM session_messages WHERE client_id = 'exp-sub'") \
        == [(1,)]
    b1.wait_log(r"Session of exp-sub expired", timeout=5)
    assert p.publish("exp/t", b"nobody", qos=1) == (0x10 if version == V5 else 0)
    b1.stop(signal.SIGTERM)

    for table in ("sessions", "session_subscriptions", "session_messages"):
        assert db_rows(tmp_path, f"SELECT count(*) FROM {table} WHERE client_id = 'exp-sub'") \
            == [(0,)], table
    assert db_rows(tmp_path, "SELECT count(*) FROM stored_messages") == [(0,)]
    b2 = make_broker(cfg)
    s2 = persistent(b2, version, "exp-sub")
    assert not s2.connect().session_present
    s2.expect_no_message(0.3)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_session_expired_while_the_broker_was_down(make_broker, tmp_path, version):
    cfg = shared_data(tmp_path) + "max_session_expiry = 2\n"
    b1 = make_broker(cfg)
    s = persistent(b1, version, "down-sub")
    s.connect()
    s.subscribe("down/t", qos=1)
    s.disconnect()
    p = Client(b1, version, client_id="down-pub")
    p.connect()
    assert p.publish("down/t", b"waiting", qos=1) == 0
    p.disconnect()
    b1.stop(signal.SIGKILL)
    time.sleep(2.2)   # the session's whole expiry interval passes while no broker runs
    b2 = make_broker(cfg)
    for table in ("sessions", "session_subscriptions", "session_messages"):
        assert db_rows(tmp_path, f"SELECT count(*) FROM {table} WHERE client_id = 'down-sub'") \
            == [(0,)], table
    assert db_rows(tmp_path, "SELECT count(*) FROM stored_messages") == [(0,)]
    s2 = persistent(b2, version, "down-sub")
    assert not s2.connect().session_present


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_clean_session_leaves_nothing_in_the_store(make_broker, tmp_path, version):
    b1 = make_broker(shared_data(tmp_path))
    s = Client(b1, version, client_id="clean-sub", clean=True)
    s.connect()
    s.subscribe("clean/t", qos=2)
    p = Client(b1, version, client_id="clean-pub")
    p.connect()
    assert p.publish("clean/t", b"x", qos=1) == 0
    assert p.publish("clean/t", b"y", qos=2) == 0
    assert [m.payload for m in s.expect_messages(2)] == [b"x", b"y"]
    s.disconnect()
    p.disconnect()
    b1.stop(signal.SIGTERM)
    for table in ("sessions", "session_subscriptions", "session_messages"):
        assert db_rows(tmp_path, f"SELECT count(*) FROM {table}") == [(0,)], table


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_clean_start_deletes_the_stored_session(make_broker, tmp_path, version):
    b1 = make_broker(shared_data(tmp_path))
    s = persistent(b1, version, "cs-sub")
    s.connect()
    s.subscribe("cs/t", qos=1)
    s.disconnect()
    p = Client(b1, version, client_id="cs-pub")
    p.connect()
    assert p.publish("cs/t", b"old", qos=1) == 0
    props = {"SessionExpiryInterval": 3600} if version == V5 else None
    fresh = Client(b1, version, client_id="cs-sub", clean=True, properties=props)
    assert not fresh.connect().session_present
    fresh.disconnect()
    b1.stop(signal.SIGTERM)
    assert db_rows(tmp_path, "SELECT count(*) FROM session_messages") == [(0,)]
    assert db_rows(tmp_path, "SELECT count(*) FROM session_subscriptions") == [(0,)]
    # 5.0 clean start with an expiry: a new, empty persistent session; 3.1.1 clean: none.
    assert db_rows(tmp_path, "SELECT count(*) FROM sessions") == [(1 if version == V5 else 0,)]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_message_for_many_offline_sessions_is_stored_once(make_broker, tmp_path, version):
    """One body row for a message queued to several offline sessions; each gets it after a
    restart, and the body goes with the last acknowledgement."""
    b1 = make_broker(shared_data(tmp_path))
    ids = [f"many-{i}" for i in range(3)]
    for cid in ids:
        s = persistent(b1, version, cid)
        s.connect()
        s.subscribe("many/t", qos=1)
        s.disconnect()
    p = Client(b1, version, client_id="many-pub")
    p.connect()
    assert p.publish("many/t", b"once", qos=1) == 0
    assert db_rows(tmp_path, "SELECT count(*) FROM session_messages") == [(3,)]
    assert db_rows(tmp_path, "SELECT topic, payload, refs FROM stored_messages") == [("many/t", b"once", 3)]
    p.disconnect()
    b1.stop(signal.SIGKILL)

    b2 = make_broker(shared_data(tmp_path))
    for n, cid in enumerate(ids):
        s = persistent(b2, version, cid)
        assert s.connect().session_present
        m = s.expect_message()
        assert (m.topic, m.payload, m.qos) == ("many/t", b"once", 1)
        left = len(ids) - n - 1
        wait_until(lambda: db_rows(tmp_path, "SELECT count(*) FROM session_messages") == [(left,)],
                   what="acknowledged row erased")
        s.disconnect()
    assert db_rows(tmp_path, "SELECT count(*) FROM stored_messages") == [(0,)]


def test_writer_batch_figures_in_sys(make_broker, tmp_path):
    """$SYS/herald/store/{batches,ops,max_batch,failed_batches,ops_per_batch}: the SQLite
    writer's counters, retained, refreshed each $SYS round (sys_interval = 1 s here)."""
    b = make_broker(shared_data(tmp_path))
    p = Client(b, V5, client_id="pub")
    p.connect()
    for i in range(20):
        p.publish(f"store/fig/{i}", b"v", qos=1, retain=True)
    s = Client(b, V5, client_id="sys-reader")
    s.connect()
    s.subscribe("$SYS/herald/store/#", qos=0)
    names = {"batches", "ops", "max_batch", "failed_batches", "ops_per_batch"}
    seen = {}
    deadline = time.monotonic() + 5
    while not (names <= set(seen) and seen["ops"] >= 20):
        assert time.monotonic() < deadline, f"store figures seen: {seen}"
        m = s.expect_message(max(0.05, deadline - time.monotonic()))
        seen[m.topic.rsplit("/", 1)[1]] = int(m.payload)
    # The values may come from two $SYS rounds (retained ones first), so no exact relations.
    assert seen["batches"] >= 1 and seen["failed_batches"] == 0
    assert seen["max_batch"] >= 1 and seen["ops_per_batch"] >= 1


def test_a_second_heraldd_on_the_same_data_dir_is_refused(make_broker, tmp_path):
    """One broker per data_dir (storage/data_lock.h): a second one exits at once, naming the
    first's pid, and the first keeps serving; once the first is gone the data_dir is free."""
    import subprocess
    from conftest import HERALDD
    b1 = make_broker(shared_data(tmp_path))
    cfg = tmp_path / "second.toml"
    cfg.write_text(shared_data(tmp_path) + '[[listeners]]\ntype = "tcp"\naddress = "127.0.0.1"\nport = 0\n')
    r = subprocess.run([HERALDD, "-c", str(cfg)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert f"is in use by another heraldd (pid {b1.pid})" in r.stderr, r.stderr
    c = Client(b1, V5, client_id="still-served")
    c.connect()
    c.close()
    b1.stop(signal.SIGKILL)
    b2 = make_broker(shared_data(tmp_path))   # the kernel dropped the lock with the process
    c = Client(b2, V5, client_id="served-by-the-second")
    c.connect()
    c.close()
