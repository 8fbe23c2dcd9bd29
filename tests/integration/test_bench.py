# `herald bench` end to end: small runs of every scenario against a real broker (make_broker)
# whose counters must add up — every QoS 1/2 message delivered once, in order; every churn drop
# seen once as a will, or (heraldd, --presence) as its user's offline record after the grace — a
# JSON report that parses, the offline scenario (every acknowledged message reaches the persistent session it
# was queued for, once; the sessions are gone afterwards), the streams scenario (direct messages to
# users who are away, each device replayed everything once, with the memory and store figures), the
# loopback-only and descriptor-limit
# refusals, and a cross-check with a tool
# others wrote: mosquitto_sub, subscribed beside the bench's own subscriber, must receive
# exactly as many messages as the bench says it published.
#
# The binary: env HERALD (default build/tools/herald). Run with /usr/bin/python3 -m pytest.
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
HERALD = os.environ.get("HERALD") or str(REPO_ROOT / "build" / "tools" / "herald")
if not os.path.isabs(HERALD):
    HERALD = str((REPO_ROOT / HERALD).resolve()) if not Path(HERALD).exists() else str(Path(HERALD).resolve())

pytestmark = pytest.mark.skipif(not os.access(HERALD, os.X_OK), reason=f"herald binary not found at {HERALD}")

TIMEOUT = 30  # a safety net per bench run; each is expected to take a few seconds at most


def bench(broker, *args, check=True, prefix=()):
    """Runs `herald bench ... --json` against the broker; returns (report dict or None, process)."""
    cmd = list(prefix) + [HERALD, "bench", *map(str, args), "-p", str(broker.port), "--json", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    report = None
    lines = p.stdout.strip().splitlines()
    if lines:
        report = json.loads(lines[-1])
    if check:
        assert p.returncode == 0, f"{cmd} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
        assert report is not None and report["error"] is None, p.stderr
    return report, p


def assert_exact(r, subscribers=1):
    """Every message published arrived once at every subscriber, in order."""
    assert r["sent"] > 0
    assert r["expected"] == r["sent"] * subscribers
    assert r["received"] == r["expected"], r
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["reordered"] == 0, r
    assert r["delivered"] == r["published"] * subscribers, r


@pytest.mark.parametrize("qos", [1, 2])
@pytest.mark.parametrize("version", ["311", "5"])
def test_fanin_delivers_every_message_once_in_order(make_broker, qos, version):
    broker = make_broker()
    r, _ = bench(broker, "fanin", "-P", 4, "-n", 2000, "-q", qos, "-V", version)
    assert r["scenario"] == "fanin" and r["publishers"] == 4 and r["subscribers"] == 1
    assert r["published"] == 2000
    assert_exact(r)
    lat = r["latency_us"]
    assert lat["count"] == 2000
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]


@pytest.mark.parametrize("qos", [1, 2])
def test_fanout_delivers_to_every_subscriber(make_broker, qos):
    broker = make_broker()
    r, _ = bench(broker, "fanout", "-S", 10, "-n", 300, "-q", qos)
    assert r["published"] == 300 and r["subscribers"] == 10
    assert_exact(r, subscribers=10)


def test_qos0_closed_loop_is_windowed_and_counted(make_broker):
    # QoS 0 may legally be dropped, but the window keeps the bench from flooding the broker:
    # at this size nothing should be lost; duplicates and reorderings never happen.
    broker = make_broker()
    r, _ = bench(broker, "fanin", "-P", 2, "-n", 20000, "-w", 200)
    assert r["published"] == 20000 and r["window"] == 200
    assert r["duplicates"] == 0 and r["reordered"] == 0
    assert r["received"] + r["lost"] == r["expected"]
    assert r["lost"] == 0


def test_fixed_rate_and_warmup(make_broker):
    broker = make_broker()
    r, _ = bench(broker, "fanin", "-P", 2, "-q", 1, "-r", 2000, "-d", 1, "--warmup", 0.5)
    # 2000/s for 1 s measured after 0.5 s of warmup: the measured part excludes the warmup.
    assert 1700 <= r["published"] <= 2300, r
    assert 2700 <= r["sent"] <= 3300, r
    assert 1600 <= r["publish_rate"] <= 2400
    assert_exact(r)


def test_chat_pairs_deliver_to_inboxes(make_broker):
    broker = make_broker()
    r, _ = bench(broker, "chat", "-U", 50, "-r", 4000, "-n", 2000, "-q", 1)
    assert r["users"] == 50 and r["sent"] == 2000
    assert_exact(r)


def test_conns_reports_rate_and_broker_memory(make_broker):
    broker = make_broker()
    r, _ = bench(broker, "conns", "-c", 300, "--pid", broker.pid)
    assert r["connections"] == 300
    assert r["connects_per_s"] > 0
    assert r["rss_before_kb"] > 0 and r["rss_after_kb"] >= r["rss_before_kb"]
    assert r["bytes_per_connection"] is not None


@pytest.mark.skipif(not shutil.which("prlimit"), reason="prlimit not installed")
def test_conns_stops_clearly_at_the_descriptor_limit(make_broker):
    broker = make_broker()
    r, p = bench(broker, "conns", "-c", 1000, prefix=["prlimit", "--nofile=200:200"])
    assert "this process may hold at most 200 file descriptors" in p.stderr
    assert 100 < r["connections"] < 200
    assert any(n.startswith(f"stopping at {r['connections']} connections") for n in r["notes"])


@pytest.mark.parametrize("qos", [0, 1])
def test_churn_counts_every_will(make_broker, qos):
    broker = make_broker()
    r, _ = bench(broker, "churn", "-n", 300, "-c", 20, "-q", qos)
    assert r["connections"] == 300 and r["mode"] == "will"
    assert r["wills_expected"] == 300
    assert r["wills_seen"] == 300 and r["wills_lost"] == 0 and r["wills_duplicate"] == 0
    assert r["events_seen"] == 300 and r["events_lost"] == 0 and r["events_duplicate"] == 0
    # Every will timed from its drop; no grace given: the latency minus the grace is the latency.
    lat, minus = r["latency_us"], r["latency_minus_grace_us"]
    assert lat["count"] == 300 and 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert r["grace_s"] is None and minus["p50"] == lat["p50"] and minus["p99"] == lat["p99"]
    assert r["connects_per_s"] > 0 and r["drops_per_s"] == r["connects_per_s"]


GRACE_S = 1


@helpers.heraldd_only
def test_presence_churn_shows_every_dropped_user_offline_once(make_broker):
    # Every cycle is a user of its own that drops its only device: the broker must show it
    # offline exactly once, one grace after the drop (not before; the bench is told the grace).
    broker = make_broker(f'[presence]\ngrace = "{GRACE_S}s"\nvisibility = "all"\n')
    r, _ = bench(broker, "churn", "--presence", "--grace", GRACE_S, "-n", 200, "-c", 20)
    assert r["mode"] == "presence" and r["connections"] == 200, r
    assert r["events_expected"] == 200 and r["events_seen"] == 200, r
    assert r["events_lost"] == 0 and r["events_duplicate"] == 0, r
    assert r["online_seen"] == 200, r  # each user's first device came online once
    assert r["grace_s"] == GRACE_S
    lat, minus = r["latency_us"], r["latency_minus_grace_us"]
    assert lat["count"] == 200
    assert lat["p50"] >= GRACE_S * 1e6 - 50_000, lat  # offline after the grace, not at the drop
    assert minus["min"] >= -50_000, minus             # none noticeably before the grace ended
    assert 0 <= minus["p50"] <= minus["p99"] <= minus["max"], minus
    assert minus["p99"] < 2_000_000, minus            # and not long after it either
    assert r["connects_per_s"] > 0


@helpers.heraldd_only
def test_presence_churn_text_report(make_broker):
    broker = make_broker(f'[presence]\ngrace = "{GRACE_S}s"\nvisibility = "all"\n')
    p = subprocess.run([HERALD, "bench", "churn", "--presence", "--grace", str(GRACE_S), "-n", "40", "-c", "10",
                        "-p", str(broker.port)], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert "offline records  expected 40, seen 40, duplicates 0 (online records 40)" in p.stdout, p.stdout
    assert "drop->event (ms)" in p.stdout and "minus grace 1s" in p.stdout, p.stdout


def test_refuses_a_target_off_loopback():
    p = subprocess.run([HERALD, "bench", "fanin", "-h", "192.0.2.1", "-p", "1883"], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 1
    assert "loopback only" in p.stderr


def test_text_report_and_progress(make_broker):
    broker = make_broker()
    p = subprocess.run([HERALD, "bench", "fanin", "-P", "2", "-q", "1", "-d", "1.5", "-p", str(broker.port)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert "latency (ms)" in p.stdout and "p99.9" in p.stdout and "lost 0, duplicates 0, reordered 0" in p.stdout
    assert "fanin " in p.stderr and "delivered" in p.stderr  # at least one progress line


@pytest.mark.skipif(not shutil.which("mosquitto_sub") or not shutil.which("stdbuf"),
                    reason="mosquitto_sub or stdbuf not installed")
def test_cross_check_with_mosquitto_sub(make_broker, tmp_path):
    broker = make_broker()
    topic = f"xcheck/{os.getpid()}/fanin"
    n = 4 * 500
    out_path = tmp_path / "mosquitto_sub.out"
    # -F %t prints only the topic: one line per message whatever bytes the payload holds.
    # -d makes it say when its SUBACK has arrived, so the bench starts only after that; stdbuf
    # line-buffers it; a file (not a pipe nobody reads meanwhile) never blocks it.
    with open(out_path, "w") as out:
        sub = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
                                "-t", topic, "-q", "1", "-C", str(n), "-W", "20", "-F", "%t", "-d"],
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 5
        while "SUBACK" not in out_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "SUBACK" in out_path.read_text(), out_path.read_text()
        # At a fixed rate that mosquitto_sub (printing a debug line per packet) keeps up with:
        # the window bounds only the bench's own subscriber, and a broker may legally drop
        # messages once a slow consumer's queue is full.
        r, _ = bench(broker, "fanin", "-P", 4, "-n", n, "-q", 1, "-t", topic, "-r", 5000)
        sub.wait(timeout=15)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    received_by_mosquitto_sub = sum(1 for x in out_path.read_text().splitlines() if x == topic)
    assert sub.returncode == 0
    assert r["published"] == n
    assert received_by_mosquitto_sub == r["published"] == r["received"]


# ---- offline: QoS 1 messages queued for persistent sessions whose users are away ----

def assert_offline_exact(r, n, subscribers):
    """Every publish acknowledged; every acknowledged message delivered once, in order, to a
    session the broker kept."""
    assert r["scenario"] == "offline" and r["subscribers"] == subscribers
    assert r["published"] == r["acked"] == r["sent"] == n, r
    assert r["sessions_kept"] == subscribers, r
    assert r["expected"] == r["acked"] and r["received"] == r["acked"] and r["delivered"] == r["acked"], r
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["reordered"] == 0, r
    lat = r["ack_latency_us"]
    assert lat["count"] == n
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert r["ack_rate"] > 0 and r["drain_rate"] > 0 and r["seconds"] > 0 and r["drain_seconds"] > 0


@pytest.mark.parametrize("version", ["311", "5"])
def test_offline_sessions_get_every_acknowledged_message(make_broker, version):
    broker = make_broker()
    prefix = f"offline-test/{os.getpid()}/{version}"
    r, _ = bench(broker, "offline", "-P", 4, "-S", 20, "-n", 2000, "-V", version, "-t", prefix)
    assert r["qos"] == 1 and r["publishers"] == 4  # QoS 1 is the scenario's default
    assert_offline_exact(r, 2000, 20)
    # The bench removed its sessions at the end: nobody is subscribed to the inboxes any more
    # (a 5.0 PUBACK says No matching subscribers, 0x10).
    probe = helpers.Client(broker, version=helpers.V5)
    probe.connect()
    assert probe.publish(f"{prefix}/0", b"x", qos=1) == 0x10
    probe.disconnect()


def test_offline_qos2_and_broker_statistics(make_broker):
    broker = make_broker()
    r, _ = bench(broker, "offline", "-P", 2, "-S", 10, "-n", 500, "-q", 2, "--sys", "$SYS/broker/version")
    assert r["qos"] == 2
    assert_offline_exact(r, 500, 10)
    assert list(r["sys"]) == ["$SYS/broker/version"] and r["sys"]["$SYS/broker/version"], r["sys"]


def test_offline_text_report_and_qos0_refused(make_broker):
    broker = make_broker()
    p = subprocess.run([HERALD, "bench", "offline", "-P", "2", "-S", "5", "-n", "200", "-p", str(broker.port)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert "acknowledged     200 of 200" in p.stdout and "PUBACK (ms)" in p.stdout, p.stdout
    assert "5 of 5 sessions kept" in p.stdout and "lost 0, duplicates 0, reordered 0" in p.stdout, p.stdout
    p = subprocess.run([HERALD, "bench", "offline", "-q", "0", "-p", str(broker.port)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 1 and "needs QoS 1 or 2" in p.stderr


# ---- streams: QoS 1 direct messages to users who are away (SPEC 5), replayed per device ----

def assert_streams_exact(r, n, users, publishers):
    """Every publish appended and acknowledged; every device came back and got its share, once,
    in order."""
    assert r["scenario"] == "streams" and r["users"] == users and r["publishers"] == publishers, r
    assert r["published"] == r["acked"] == r["sent"] == n, r
    assert r["expected"] == r["received"] == r["delivered"] == n, r
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["reordered"] == 0, r
    assert r["devices_back"] == users and r["per_device"] == n // users, r
    assert r["ack_latency_us"]["count"] == n
    assert r["append_rate"] > 0 and r["replay_rate"] > 0 and r["seconds"] > 0
    rep = r["replay_ms"]
    assert 0 < rep["p50"] <= rep["max"], rep


@helpers.heraldd_only
@pytest.mark.parametrize("version", ["311", "5"])
def test_streams_replay_on_subscribe_with_memory_and_store(make_broker, tmp_path, version):
    # Clean sessions on the way back: only heraldd's streams (the device's cursor) can replay.
    broker = make_broker()
    data = tmp_path / "data0"  # make_broker's data_dir of its first broker
    r, _ = bench(broker, "streams", "-P", 3, "-U", 4, "-n", 2000, "-V", version, "--resubscribe",
                 "--pid", broker.pid, "--data-dir", data)
    assert r["qos"] == 1 and r["resubscribe"] is True
    assert_streams_exact(r, 2000, 4, 3)
    sub = r["replay_from_subscribe_ms"]
    assert 0 < sub["p50"] <= sub["max"] <= r["replay_ms"]["max"], r
    assert r["rss_before_kb"] > 0 and r["rss_after_kb"] > 0 and r["rss_drained_kb"] > 0, r
    st = r["store"]
    assert st["db_after"] > 0 and st["db_after"] + st["wal_after"] > st["db_before"] + st["wal_before"], st
    assert r["bytes_per_message"] > 0 and r["store_growth_bytes_per_message"] > 0, r


@pytest.mark.parametrize("version", ["311", "5"])
def test_streams_devices_resuming_their_sessions(make_broker, version):
    # Persistent sessions: heraldd replays the streams on CONNECT, mosquitto drains its queues.
    broker = make_broker()
    r, _ = bench(broker, "streams", "-P", 2, "-U", 3, "-n", 900, "-V", version)
    assert r["resubscribe"] is False and r["replay_from_subscribe_ms"] is None
    assert_streams_exact(r, 900, 3, 2)
    assert r["sessions_kept"] == 3, r
    assert r["rss_before_kb"] is None and r["store"] is None and r["bytes_per_message"] is None


@helpers.heraldd_only
def test_streams_text_report_and_quota(make_broker):
    broker = make_broker('[streams]\nmax_pending = 100\n')
    p = subprocess.run([HERALD, "bench", "streams", "-P", "2", "-U", "2", "-n", "100", "--resubscribe",
                        "-p", str(broker.port)], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert "appended         100 of 100 acknowledged" in p.stdout, p.stdout
    assert "2 device(s) back one at a time, 50 msg each" in p.stdout and "from SUBSCRIBE" in p.stdout, p.stdout
    assert "lost 0, duplicates 0, reordered 0" in p.stdout, p.stdout
    # More waiting for one user than its stream may hold: 5.0 PUBACK Quota exceeded, said plainly.
    r, p = bench(broker, "streams", "-P", 1, "-U", 1, "-n", 150, check=False)
    assert p.returncode == 1 and "Quota exceeded" in p.stderr, p.stderr
    p = subprocess.run([HERALD, "bench", "streams", "-q", "0", "-p", str(broker.port)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 1 and "needs QoS 1 or 2" in p.stderr
