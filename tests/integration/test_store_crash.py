# What was acknowledged is not lost: heraldd killed with SIGKILL in the middle of a stream of
# QoS 1 publishes to offline persistent sessions delivers, after a restart, every message whose
# PUBACK the publisher received. And bad input for the store: a corrupt or read-only database
# file stops heraldd at start with a clear error line; a full disk withholds the acks of what
# could not be written while the broker goes on serving everyone else.
# Run with /usr/bin/python3 -m pytest.
import os
import shutil
import signal
import subprocess
import time

import pytest
from helpers import *
from conftest import HERALDD

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="the harness runs mosquitto without persistence")

N = 5000
SUBSCRIBERS = 2


def data_config(data_dir, extra=""):
    return f'data_dir = "{data_dir}"\n' + extra


def persistent(broker, version, client_id, expiry=3600):
    props = {"SessionExpiryInterval": expiry} if version == V5 else None
    return Client(broker, version, client_id=client_id, clean=False, properties=props)


def acks_of(client):
    with client._cond:
        return dict(client._acks)


def drain(client, quiet=1.0, limit=60.0):
    """Every message until none came for `quiet` seconds (at most `limit` seconds in all)."""
    out = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            out.append(client.messages.get(timeout=quiet))
        except Exception:
            return out
    raise AssertionError(f"client {client.client_id!r} still receiving after {limit}s "
                         f"({len(out)} messages)")


@pytest.mark.parametrize("kill_after", [1, 2000, 4000])
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_kill_9_in_a_stream_loses_nothing_acknowledged(make_broker, tmp_path, version, kill_after):
    cfg = data_config(tmp_path / "shared-data", "max_queued_messages = 0\nmax_queued_bytes = 0\n")
    b1 = make_broker(cfg)
    names = [f"crash-sub-{i}" for i in range(SUBSCRIBERS)]
    for name in names:
        s = persistent(b1, version, name)
        s.connect()
        s.subscribe("crash/stream", qos=1)
        s.disconnect()
    p = Client(b1, version, client_id="crash-pub")
    p._c.max_inflight_messages_set(200)
    p.connect()
    index_of_mid = {}
    for i in range(N):
        info = p._c.publish("crash/stream", str(i).encode(), qos=1)
        index_of_mid[info.mid] = i
    wait_until(lambda: len(acks_of(p)) >= kill_after, timeout=60, interval=0.002,
               what=f"{kill_after} PUBACKs")
    b1.stop(signal.SIGKILL)
    p.wait_disconnect()   # every PUBACK heraldd sent before it died has been read by now
    acked = {index_of_mid[mid] for mid, rc in acks_of(p).items() if rc == 0}
    assert len(acked) >= kill_after

    b2 = make_broker(cfg)
    for name in names:
        s = persistent(b2, version, name)
        assert s.connect().session_present
        got = [int(m.payload) for m in drain(s)]
        counts = {}
        for i in got:
            counts[i] = counts.get(i, 0) + 1
        missing = sorted(acked - counts.keys())
        doubled = sorted(i for i in acked if counts.get(i, 0) > 1)
        assert not missing and not doubled, (
            f"{name}: {len(acked)} acknowledged, {len(got)} delivered ({len(counts)} distinct); "
            f"{len(missing)} acknowledged ones missing (first {missing[:10]}), "
            f"{len(doubled)} acknowledged ones twice (first {doubled[:10]})")
        # In order: a persistent session's queue is replayed by its seq.
        assert got == sorted(got), f"{name}: delivered out of order"
        s.disconnect()
    print(f"kill after >= {kill_after} acks: {len(acked)} acknowledged of {N}; "
          f"{len(got)} delivered to the last subscriber")


# ---------------------------------------------------------------- bad database files

def write_config(tmp_path, data_dir):
    cfg = tmp_path / "herald.toml"
    cfg.write_text(f'allow_anonymous = true\ndata_dir = "{data_dir}"\n'
                   '[[listeners]]\ntype = "tcp"\naddress = "127.0.0.1"\nport = 0\n')
    return cfg


def run_heraldd(cfg, timeout=10):
    r = subprocess.run([HERALDD, "-c", str(cfg)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, cwd=str(cfg.parent))
    return r.returncode, r.stdout + r.stderr


def test_corrupt_database_file_is_a_clear_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "herald.db").write_bytes(b"this is not a database, " * 400)
    rc, out = run_heraldd(write_config(tmp_path, data))
    assert rc == 1, out
    assert "cannot open" in out and "herald.db" in out, out
    assert "Sanitizer" not in out and "runtime error" not in out, out


def test_truncated_database_file_is_a_clear_error(make_broker, tmp_path):
    data = tmp_path / "data"
    b = make_broker(data_config(data))
    b.stop(signal.SIGTERM)
    db = data / "herald.db"
    raw = db.read_bytes()
    db.write_bytes(raw[:len(raw) // 2])   # a half-written copy, say
    rc, out = run_heraldd(write_config(tmp_path, data))
    assert rc == 1, out
    assert "herald.db" in out, out


def _mount(args):
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs at tmp_path/"fs" (root only), unmounted afterwards. Ask for it before
    make_broker, so that the brokers are stopped before it goes."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = _mount(["-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)])
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_read_only_database_is_a_clear_error(small_tmpfs, make_broker, tmp_path):
    data = small_tmpfs / "data"
    b = make_broker(data_config(data))
    b.stop(signal.SIGTERM)
    r = _mount(["-o", "remount,ro", str(small_tmpfs)])
    assert r.returncode == 0, r.stderr
    rc, out = run_heraldd(write_config(tmp_path, data))
    assert rc == 1, out
    assert "cannot open" in out and "herald.db" in out, out


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_full_disk_withholds_acks_and_serves_others(small_tmpfs, make_broker, version):
    b = make_broker(data_config(small_tmpfs / "data", "max_queued_bytes = 0\nmax_queued_messages = 0\n"))
    s = persistent(b, version, "full-sub")
    s.connect()
    s.subscribe("full/t", qos=1)
    s.disconnect()
    p = Client(b, version, client_id="full-pub")
    p.connect()
    blob = os.urandom(100_000)   # incompressible: 2 MiB fill up after ~20 of them
    refused = None
    for i in range(60):
        try:
            rc = p.publish("full/t", blob, qos=1, timeout=3)
        except AssertionError:   # no PUBACK at all: the 3.1.1 way of saying no
            refused = "none"
            break
        if rc != 0:
            refused = rc
            break
    assert refused == (0x80 if version == V5 else "none"), \
        f"publish {i}: {refused!r} (expected the ack withheld once the disk is full)"
    b.wait_log(r"store write failed: .*(full|disk)", timeout=5)
    # Everyone else is still served: a clean session's QoS 1 needs no commit.
    a = Client(b, version, client_id="full-other-sub")
    a.connect()
    a.subscribe("other/t", qos=1)
    q = Client(b, version, client_id="full-other-pub")
    q.connect()
    assert q.publish("other/t", b"still here", qos=1) == 0
    assert a.expect_message().payload == b"still here"
    assert b.alive()
