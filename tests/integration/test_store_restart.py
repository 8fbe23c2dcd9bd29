# Retained messages live in heraldd's SQLite file ({data_dir}/herald.db): they come back after
# a graceful restart (SIGTERM) and after a kill -9, when the second heraldd opens the same
# data_dir. Run with /usr/bin/python3 -m pytest.
import signal
import sqlite3
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
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                if con.execute("SELECT 1 FROM retained WHERE topic = ?", (topic,)).fetchone():
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    raise AssertionError(f"retained {topic} not committed to {db} within {timeout}s")


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_retained_survives_kill_9(make_broker, tmp_path, version):
    b1 = make_broker(shared_data(tmp_path))
    p = Client(b1, version, client_id="pub")
    p.connect()
    p.publish("store/crash", b"acked", qos=1, retain=True)   # returns once PUBACK arrived
    p.close()
    # PUBACK does not wait for the retained write's commit yet (that comes with acknowledgement
    # after commit, SPEC 5): wait, bounded, until a reader of the WAL file sees the row.
    wait_committed(tmp_path, "store/crash")
    b1.stop(signal.SIGKILL)

    b2 = make_broker(shared_data(tmp_path))
    expect_retained(b2, version, "store/crash", b"acked")
