# The `herald pub` / `herald sub` command-line tool, end to end: herald pub -> mosquitto_sub and
# mosquitto_pub -> herald sub, both protocol versions, every flag, exit statuses and error texts.
#
# Runs against a mosquitto 2.0 started here (the reference broker: what works with it must work
# with herald) and against heraldd through conftest's make_broker when that binary is built.
# A tiny scripted broker (FakeBroker) covers what a real broker will not do on request:
# inbound topic aliases, 3.1.1 CONNACK refusals, a Receive Maximum of 1.
#
# The binary: env HERALD (default build/tools/herald). Run with /usr/bin/python3 -m pytest.
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from private_mosquitto import Mosquitto, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
HERALD = os.environ.get("HERALD") or str(REPO_ROOT / "build" / "tools" / "herald")
if not os.path.isabs(HERALD):
    HERALD = str((REPO_ROOT / HERALD).resolve()) if not Path(HERALD).exists() else str(Path(HERALD).resolve())
HERALDD = os.environ.get("HERALDD") or str(REPO_ROOT / "build" / "broker" / "heraldd")
BROKER_KIND = os.environ.get("HERALD_TEST_BROKER", "heraldd")

pytestmark = pytest.mark.skipif(not os.access(HERALD, os.X_OK), reason=f"herald binary not found at {HERALD}")

VERSIONS = [pytest.param("311", id="v311"), pytest.param("5", id="v5")]
TIMEOUT = 10


@pytest.fixture(params=["mosquitto", "heraldd"])
def brokers(request, tmp_path):
    """make(anonymous=True) -> a broker with .host/.port/.kind (and .unix_path for mosquitto)."""
    kind = request.param
    started = []
    if kind == "heraldd":
        if BROKER_KIND == "mosquitto":
            pytest.skip("HERALD_TEST_BROKER=mosquitto: the mosquitto parameter covers it")
        if not os.access(HERALDD, os.X_OK):
            pytest.skip(f"heraldd not built at {HERALDD}")
        make_broker = request.getfixturevalue("make_broker")

    def make(anonymous=True):
        if kind == "mosquitto":
            b = Mosquitto(tmp_path, anonymous)
            started.append(b)
        else:
            b = make_broker("" if anonymous else "allow_anonymous = false")
            b.unix_path = None
        b.kind = kind
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def broker(brokers):
    return brokers()


def herald(*args, input=None, timeout=TIMEOUT, check=False):
    """Runs herald to completion; returns CompletedProcess with bytes stdout/stderr."""
    p = subprocess.run([HERALD, *args], input=input, capture_output=True, timeout=timeout)
    if check:
        assert p.returncode == 0, f"herald {args} -> {p.returncode}: {p.stderr.decode(errors='replace')}"
    return p


def conn(b, version="5"):
    return ["-h", b.host, "-p", str(b.port), "-V", version]


class Background:
    """A subscriber process started now, returned once it has its SUBACK (seen in its -d trace:
    on stderr for herald, mixed into stdout for mosquitto_sub, whose trace lines are then
    filtered out of what wait() returns)."""

    def __init__(self, argv, trace_on_stdout=False):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._ready = threading.Event()
        self._trace_on_stdout = trace_on_stdout
        self._err = bytearray()
        self._out = bytearray()
        self._threads = [threading.Thread(target=self._read_err, daemon=True)]
        if trace_on_stdout:
            self._threads.append(threading.Thread(target=self._read_out, daemon=True))
        for t in self._threads:
            t.start()
        if not self._ready.wait(TIMEOUT):
            self.kill()  # never leave a process behind a failed test
            raise AssertionError(f"{argv} not subscribed: {bytes(self._err)!r}")

    def _read_err(self):
        for line in self.proc.stderr:
            self._err += line
            if b"received SUBACK" in line:
                self._ready.set()
        self._ready.set()

    def _read_out(self):
        for line in self.proc.stdout:
            if re.match(rb"Client \S+ (sending|received) |Subscribed \(mid", line):
                if b"received SUBACK" in line:
                    self._ready.set()
                continue
            self._out += line
        self._ready.set()

    def wait(self, timeout=TIMEOUT):
        try:
            out = b"" if self._trace_on_stdout else self.proc.stdout.read()
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for t in self._threads:
            t.join(timeout)
        if self._trace_on_stdout:
            out = bytes(self._out)
        return self.proc.returncode, out, bytes(self._err)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def herald_sub(b, *args, version="5"):
    return Background([HERALD, "sub", *conn(b, version), "-d", *args])


def mosquitto_sub(b, *args, version="5"):
    v = "mqttv5" if version == "5" else "mqttv311"
    # stdbuf: mosquitto_sub prints its trace with stdio, block-buffered on a pipe.
    return Background(["stdbuf", "-oL", "mosquitto_sub", "-h", b.host, "-p", str(b.port), "-V", v, "-d", *args],
                      trace_on_stdout=True)


def mosquitto_pub(b, *args, version="5"):
    v = "mqttv5" if version == "5" else "mqttv311"
    subprocess.run(["mosquitto_pub", "-h", b.host, "-p", str(b.port), "-V", v, *args], check=True, timeout=TIMEOUT)


# --- herald pub -> mosquitto_sub --------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_pub_to_mosquitto_sub(broker, version, qos):
    sub = mosquitto_sub(broker, "-t", "cli/pub", "-q", "2", "-C", "1", "-F", "%t|%p|%q", version=version)
    herald("pub", *conn(broker, version), "-t", "cli/pub", "-m", "hello world", "-q", str(qos), check=True)
    rc, out, _ = sub.wait()
    assert rc == 0
    assert out == f"cli/pub|hello world|{qos}\n".encode()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_pub_version_names(broker, version):
    sub = mosquitto_sub(broker, "-t", "cli/names", "-C", "1")
    p = herald("pub", "-h", broker.host, "-p", str(broker.port), "-V", version, "-t", "cli/names", "-m", "x", "-d")
    assert p.returncode == 0, p.stderr
    assert (b"CONNECT (v4" if version == "mqttv311" else b"CONNECT (v5") in p.stderr
    assert sub.wait()[1] == b"x\n"


def test_pub_retain(broker):
    herald("pub", *conn(broker), "-t", "cli/retained", "-m", "kept", "-r", "-q", "1", check=True)
    p = herald("sub", *conn(broker), "-t", "cli/retained", "-C", "1", "-F", "%p %r", "-W", "5")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"kept 1\n"
    herald("pub", *conn(broker), "-t", "cli/retained", "-n", "-r", check=True)  # clears it


def test_pub_null_message(broker):
    sub = herald_sub(broker, "-t", "cli/null", "-C", "1", "-F", "len=%l")
    herald("pub", *conn(broker), "-t", "cli/null", "-n", check=True)
    assert sub.wait()[1] == b"len=0\n"


def test_pub_file(broker, tmp_path):
    data = bytes(range(256)) * 4
    f = tmp_path / "payload.bin"
    f.write_bytes(data)
    sub = herald_sub(broker, "-t", "cli/file", "-C", "1", "-N")
    herald("pub", *conn(broker), "-t", "cli/file", "-f", str(f), check=True)
    assert sub.wait()[1] == data


def test_pub_missing_file(broker, tmp_path):
    p = herald("pub", *conn(broker), "-t", "cli/file", "-f", str(tmp_path / "nope"))
    assert p.returncode != 0 and b"unable to open file" in p.stderr


def test_pub_stdin_whole(broker):
    sub = herald_sub(broker, "-t", "cli/stdin", "-C", "1", "-N")
    herald("pub", *conn(broker), "-t", "cli/stdin", "-s", input=b"line one\nline two\n", check=True)
    assert sub.wait()[1] == b"line one\nline two\n"


@pytest.mark.parametrize("qos", [0, 2])
def test_pub_stdin_lines(broker, qos):
    sub = herald_sub(broker, "-t", "cli/lines", "-C", "3", "-q", "2")
    herald("pub", *conn(broker), "-t", "cli/lines", "-l", "-q", str(qos), input=b"a\nbb\n\nccc", check=True)
    assert sub.wait()[1] == b"a\nbb\nccc\n"


def test_pub_stdin_lines_from_pipe(broker):
    """-l on a pipe publishes each line as it arrives, not only at EOF."""
    sub = herald_sub(broker, "-t", "cli/pipe", "-v")
    pub = subprocess.Popen([HERALD, "pub", *conn(broker), "-t", "cli/pipe", "-l", "-q", "1"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pub.stdin.write(b"first\n")
        pub.stdin.flush()
        assert sub.proc.stdout.readline() == b"cli/pipe first\n"
        pub.stdin.write(b"second\n")
        pub.stdin.close()
        assert sub.proc.stdout.readline() == b"cli/pipe second\n"
        assert pub.wait(TIMEOUT) == 0
    finally:
        pub.kill()
        sub.kill()


def test_pub_user_property(broker):
    sub = mosquitto_sub(broker, "-t", "cli/props", "-C", "1", "-F", "%P|%C|%E")
    herald("pub", *conn(broker), "-t", "cli/props", "-m", "x", "-D", "publish", "user-property", "k", "v",
           "-D", "publish", "content-type", "text/plain", "-D", "publish", "message-expiry-interval", "100",
           check=True)
    out = sub.wait()[1].decode()
    p, c, e = out.strip().split("|")
    assert p == "k:v" and c == "text/plain" and 0 < int(e) <= 100


def test_property_errors(broker):
    p = herald("pub", *conn(broker), "-t", "a", "-m", "x", "-D", "publish", "no-such-thing", "1")
    assert p.returncode != 0 and b"invalid property 'no-such-thing'" in p.stderr
    p = herald("pub", *conn(broker, "311"), "-t", "a", "-m", "x", "-D", "publish", "user-property", "k", "v")
    assert p.returncode != 0 and b"MQTT 5.0" in p.stderr
    p = herald("pub", *conn(broker), "-t", "a", "-m", "x", "-D", "publish")
    assert p.returncode != 0


def test_pub_message_sources_exclusive(broker):
    p = herald("pub", *conn(broker), "-t", "a")
    assert p.returncode != 0 and b"a message is needed" in p.stderr
    p = herald("pub", *conn(broker), "-t", "a", "-m", "x", "-n")
    assert p.returncode != 0 and b"only one of" in p.stderr


# --- mosquitto_pub -> herald sub --------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_to_sub(broker, version, qos):
    sub = herald_sub(broker, "-t", "cli/sub/#", "-q", "2", "-v", "-C", "2", version=version)
    mosquitto_pub(broker, "-t", "cli/sub/a", "-m", "one", "-q", str(qos), version=version)
    mosquitto_pub(broker, "-t", "cli/sub/b", "-m", "two words", "-q", str(qos), version=version)
    rc, out, err = sub.wait()
    assert rc == 0, err
    assert out == b"cli/sub/a one\ncli/sub/b two words\n"
    if qos == 2:
        assert b"sending PUBREC" in err and b"sending PUBCOMP" in err
    if qos == 1:
        assert b"sending PUBACK" in err


def test_sub_multiple_topics(broker):
    sub = herald_sub(broker, "-t", "cli/m1", "-t", "cli/m2", "-v", "-C", "2")
    mosquitto_pub(broker, "-t", "cli/m2", "-m", "b")
    mosquitto_pub(broker, "-t", "cli/m1", "-m", "a")
    assert sub.wait()[1] == b"cli/m2 b\ncli/m1 a\n"


def test_sub_count_exits(broker):
    sub = herald_sub(broker, "-t", "cli/count", "-C", "3")
    for i in range(5):
        mosquitto_pub(broker, "-t", "cli/count", "-m", str(i))
    rc, out, err = sub.wait()
    assert rc == 0
    assert out == b"0\n1\n2\n"
    assert b"sending DISCONNECT" in err


def test_sub_timeout_exit_27(broker):
    t0 = time.monotonic()
    p = herald("sub", *conn(broker), "-t", "cli/quiet", "-W", "1")
    assert p.returncode == 27
    assert b"Timed out" in p.stderr
    assert 0.9 < time.monotonic() - t0 < 5


def test_sub_count_before_timeout(broker):
    sub = herald_sub(broker, "-t", "cli/cw", "-C", "1", "-W", "5")
    mosquitto_pub(broker, "-t", "cli/cw", "-m", "in time")
    rc, out, _ = sub.wait()
    assert rc == 0 and out == b"in time\n"


def test_sub_format(broker):
    sub = herald_sub(broker, "-t", "cli/fmt", "-C", "1", "-q", "1",
                     "-F", r"t=%t p=%p q=%q r=%r l=%l %% x=%x\tI=%I U=%U")
    mosquitto_pub(broker, "-t", "cli/fmt", "-m", "hi", "-q", "1")
    out = sub.wait()[1].decode()
    assert re.fullmatch(r"t=cli/fmt p=hi q=1 r=0 l=2 % x=6869\tI=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "
                        r"U=\d+\.\d{9}\n", out), out
    u = float(out.split("U=")[1])
    assert abs(u - time.time()) < 60


def test_sub_format_newline_escape(broker):
    sub = herald_sub(broker, "-t", "cli/fmtn", "-C", "1", "-N", "-F", r"%t\n%p\n")
    mosquitto_pub(broker, "-t", "cli/fmtn", "-m", "body")
    assert sub.wait()[1] == b"cli/fmtn\nbody\n"


def test_sub_no_newline(broker):
    sub = herald_sub(broker, "-t", "cli/nn", "-C", "2", "-N", "-v")
    mosquitto_pub(broker, "-t", "cli/nn", "-m", "a")
    mosquitto_pub(broker, "-t", "cli/nn", "-m", "b")
    assert sub.wait()[1] == b"cli/nn acli/nn b"


@pytest.mark.parametrize("version", VERSIONS)
def test_sub_json(broker, version, tmp_path):
    sub = herald_sub(broker, "-t", "cli/json/#", "-C", "3", "--json", "-q", "1", version=version)
    mosquitto_pub(broker, "-t", "cli/json/text", "-m", "héllo \"q\"", "-q", "1", "-r", version=version)
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\x00\xfe")
    mosquitto_pub(broker, "-t", "cli/json/bin", "-f", str(binary), version=version)
    extra = ["-D", "publish", "user-property", "who", "me", "-D", "publish", "content-type", "x/y"] \
        if version == "5" else []
    mosquitto_pub(broker, "-t", "cli/json/props", "-m", "p", *extra, version=version)
    rc, out, _ = sub.wait()
    assert rc == 0
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert lines[0]["topic"] == "cli/json/text" and lines[0]["payload"] == "héllo \"q\""
    assert lines[0]["qos"] == 1 and lines[0]["retain"] is False  # live, not a retained copy
    assert "payload" not in lines[1] and lines[1]["payload_base64"] == "/wD+"
    assert lines[2]["qos"] == 0 and isinstance(lines[2]["properties"], dict)
    if version == "5":
        assert lines[2]["properties"]["user-property"] == [["who", "me"]]
        assert lines[2]["properties"]["content-type"] == "x/y"
    mosquitto_pub(broker, "-t", "cli/json/text", "-n", "-r", version=version)


def test_sub_no_retained(broker):
    mosquitto_pub(broker, "-t", "cli/stale", "-m", "old", "-r")
    sub = herald_sub(broker, "-t", "cli/stale", "-C", "1", "-R")
    mosquitto_pub(broker, "-t", "cli/stale", "-m", "new")
    assert sub.wait()[1] == b"new\n"
    mosquitto_pub(broker, "-t", "cli/stale", "-n", "-r")


# --- connection options -----------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_persistent_session_with_client_id(broker, version):
    """-c -i keeps the session: a QoS 1 message sent while the subscriber is away arrives later."""
    cid = f"herald-cli-persist-{version}"
    expiry = ["-x", "60"] if version == "5" else []
    p = herald("sub", *conn(broker, version), "-t", "cli/persist", "-q", "1", "-c", "-i", cid, *expiry, "-W", "1")
    assert p.returncode == 27
    herald("pub", *conn(broker, version), "-t", "cli/persist", "-m", "while away", "-q", "1", check=True)
    p = herald("sub", *conn(broker, version), "-t", "cli/persist", "-q", "1", "-c", "-i", cid, *expiry,
               "-C", "1", "-W", "5")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"while away\n"
    # Clean up the session on the broker.
    herald("sub", *conn(broker, version), "-t", "cli/persist", "-i", cid, "-W", "1")


def test_clean_session_needs_client_id(broker):
    p = herald("sub", *conn(broker), "-t", "a", "-c")
    assert p.returncode != 0 and b"needs a client id" in p.stderr


def test_keepalive_pings(broker):
    p = herald("sub", *conn(broker), "-t", "cli/ka", "-k", "1", "-W", "3", "-d")
    assert p.returncode == 27
    assert b"k1" in p.stderr
    assert p.stderr.count(b"sending PINGREQ") >= 2
    assert p.stderr.count(b"received PINGRESP") >= 2
    assert b"Timed out" in p.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_will(broker, version):
    watcher = herald_sub(broker, "-t", "cli/will", "-C", "1", "-F", "%p %q", "-q", "1")
    victim = herald_sub(broker, "-t", "cli/nothing", "--will-topic", "cli/will", "--will-payload", "gone",
                        "--will-qos", "1", "--will-retain", version=version)
    victim.proc.send_signal(signal.SIGKILL)
    victim.wait()
    rc, out, _ = watcher.wait()
    assert rc == 0 and out == b"gone 1\n"
    # --will-retain: a late subscriber still sees it.
    p = herald("sub", *conn(broker), "-t", "cli/will", "-C", "1", "-F", "%p %r", "-W", "5")
    assert p.stdout == b"gone 1\n"
    herald("pub", *conn(broker), "-t", "cli/will", "-n", "-r", check=True)


def test_will_properties(broker):
    watcher = mosquitto_sub(broker, "-t", "cli/willprops", "-C", "1", "-F", "%p|%C|%P")
    victim = herald_sub(broker, "-t", "cli/nothing", "--will-topic", "cli/willprops", "--will-payload", "bye",
                        "-D", "will", "content-type", "text/x", "-D", "will", "user-property", "a", "b")
    victim.proc.send_signal(signal.SIGKILL)
    victim.wait()
    rc, out, _ = watcher.wait()
    assert rc == 0 and out == b"bye|text/x|a:b\n"


def test_clean_disconnect_sends_no_will(broker):
    watcher = herald_sub(broker, "-t", "cli/nowill")
    p = herald("pub", *conn(broker), "-t", "cli/x", "-m", "x", "--will-topic", "cli/nowill", "--will-payload", "bad")
    assert p.returncode == 0
    p = herald("pub", *conn(broker), "-t", "cli/nowill", "-m", "good")
    assert watcher.proc.stdout.readline() == b"good\n"
    watcher.kill()


def test_connect_property_session_expiry(broker):
    p = herald("sub", *conn(broker), "-t", "cli/p", "-D", "connect", "session-expiry-interval", "30",
               "-D", "connect", "receive-maximum", "5", "-W", "1", "-i", "herald-cli-props")
    assert p.returncode == 27, p.stderr


@pytest.mark.parametrize("cmd", ["pub", "sub"])
def test_url(broker, cmd):
    url = f"mqtt://someone:secret@{broker.host}:{broker.port}/cli/url"
    if cmd == "pub":
        sub = herald_sub(broker, "-t", "cli/url", "-C", "1")
        herald("pub", "--url", url, "-m", "via url", check=True)
        assert sub.wait()[1] == b"via url\n"
    else:
        sub = Background([HERALD, "sub", "-L", url, "-C", "1", "-d"])
        mosquitto_pub(broker, "-t", "cli/url", "-m", "via url")
        assert sub.wait()[1] == b"via url\n"


def test_url_errors():
    p = herald("pub", "--url", "http://x/y", "-m", "x")
    assert p.returncode != 0 and b"unsupported URL" in p.stderr
    p = herald("pub", "--url", "mqtt://localhost:99999/t", "-m", "x")
    assert p.returncode != 0 and b"invalid port" in p.stderr


def _heraldd_on_unix_socket(tmp_path):
    """conftest's make_broker waits for tcp listeners only: start a unix-only heraldd here."""
    sock = tmp_path / "herald.sock"
    cfg = tmp_path / "unix.toml"
    cfg.write_text(f'allow_anonymous = true\ndata_dir = "{tmp_path / "data"}"\n'
                   f'[[listeners]]\ntype = "unix"\naddress = "{sock}"\n')
    log = open(tmp_path / "heraldd-unix.log", "wb")
    proc = subprocess.Popen([HERALDD, "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while not sock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc, log, str(sock)


def test_unix_socket(broker, tmp_path):
    proc = None
    if not getattr(broker, "unix_path", None):
        proc, log, broker.unix_path = _heraldd_on_unix_socket(tmp_path)
    try:
        _unix_socket_round_trip(broker)
    finally:
        if proc is not None:
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(10) == 0
            log.close()


def _unix_socket_round_trip(broker):
    sub = Background([HERALD, "sub", "--unix", broker.unix_path, "-t", "cli/unix", "-C", "1", "-d"])
    herald("pub", "--unix", broker.unix_path, "-t", "cli/unix", "-m", "over unix", check=True)
    assert sub.wait()[1] == b"over unix\n"


def test_debug_trace(broker):
    p = herald("pub", *conn(broker), "-t", "cli/d", "-m", "x", "-q", "1", "-d", "-i", "tracer")
    assert p.returncode == 0
    for line in [b"Client tracer sending CONNECT", b"Client tracer received CONNACK (0)",
                 b"Client tracer sending PUBLISH (d0, q1, r0, m1, 'cli/d', ... (1 bytes))",
                 b"Client tracer received PUBACK", b"Client tracer sending DISCONNECT"]:
        assert line in p.stderr, p.stderr


def test_bind_address(broker):
    sub = herald_sub(broker, "-t", "cli/bind", "-C", "1")
    herald("pub", *conn(broker), "--bind-address", "127.0.0.2", "-t", "cli/bind", "-m", "x", check=True)
    assert sub.wait()[1] == b"x\n"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["pub", "sub"])
def test_connection_refused(cmd):
    p = herald(cmd, "-p", str(free_port()), "-h", "127.0.0.1", "-t", "a", "-m" if cmd == "pub" else "-v",
               *(["x"] if cmd == "pub" else []))
    assert p.returncode != 0
    assert p.stderr.strip() == b"Error: Connection refused"


def test_unknown_host():
    p = herald("sub", "-h", "no-such-host.invalid", "-t", "a")
    assert p.returncode != 0
    assert b"unknown host 'no-such-host.invalid'" in p.stderr


@pytest.mark.parametrize("cmd,topic", [("pub", "a/#/b"), ("pub", "a/+"), ("sub", "a/#/b"), ("sub", "a+/b")])
def test_invalid_topic(cmd, topic):
    args = ["-m", "x"] if cmd == "pub" else []
    p = herald(cmd, "-p", str(free_port()), "-t", topic, *args)
    assert p.returncode != 0
    assert p.stderr.strip() == f"Error: invalid topic '{topic}'".encode()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("cmd", ["pub", "sub"])
def test_not_authorized(brokers, version, cmd):
    b = brokers(anonymous=False)
    args = ["-m", "x"] if cmd == "pub" else []
    p = herald(cmd, *conn(b, version), "-t", "a", *args)
    assert p.returncode != 0
    assert p.stderr.strip() == b"Connection error: Not authorized", p.stderr


def test_unix_socket_missing(tmp_path):
    p = herald("sub", "--unix", str(tmp_path / "none.sock"), "-t", "a")
    assert p.returncode != 0 and b"No such file or directory" in p.stderr


def test_bad_version():
    p = herald("sub", "-V", "4", "-t", "a")
    assert p.returncode != 0 and b"unknown protocol version" in p.stderr


# --- a scripted broker for what real brokers will not do on request ---------------------------


def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


def _str(s):
    s = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(s)) + s


class FakeBroker:
    """Accepts one connection and runs `script(conn, read_packet)` on it in a thread."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.host, self.port = self.sock.getsockname()
        self.seen = []
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _read_packet(self, c):
        def read(n):
            data = b""
            while len(data) < n:
                chunk = c.recv(n - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            return data
        first = read(1)[0]
        mult, length = 1, 0
        while True:
            b = read(1)[0]
            length += (b & 127) * mult
            mult *= 128
            if not b & 128:
                break
        body = read(length)
        self.seen.append((first, body))
        return first, body

    def _run(self, script):
        c, _ = self.sock.accept()
        c.settimeout(TIMEOUT)
        try:
            script(c, lambda: self._read_packet(c))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            time.sleep(0.2)
            c.close()
            self.sock.close()


@pytest.mark.parametrize("code,words", [(4, "Bad user name or password"), (5, "Not authorized"),
                                        (3, "Server unavailable"), (2, "Client identifier not valid")])
def test_v311_connack_codes_in_words(code, words):
    def script(c, read):
        read()
        c.sendall(_packet(0x20, bytes([0, code])))
    fake = FakeBroker(script)
    p = herald("sub", "-h", "127.0.0.1", "-p", str(fake.port), "-V", "311", "-t", "a")
    assert p.returncode != 0
    assert p.stderr.decode().strip().lower() == f"connection error: {words}".lower()


def test_inbound_topic_alias_and_qos2():
    def script(c, read):
        read()                                      # CONNECT
        c.sendall(_packet(0x20, b"\x00\x00\x00"))   # CONNACK, no properties
        first, body = read()                        # SUBSCRIBE
        pid = body[:2]
        c.sendall(_packet(0x90, pid + b"\x00\x02"))  # SUBACK granted 2
        alias = b"\x03\x23\x00\x01"                   # properties: topic alias 1
        c.sendall(_packet(0x30, _str("alias/topic") + alias + b"first"))
        c.sendall(_packet(0x30, _str("") + alias + b"second"))
        c.sendall(_packet(0x34, _str("q2/topic") + b"\x00\x07\x00" + b"exactly once"))
        first, body = read()
        assert first == 0x50 and body[:2] == b"\x00\x07"   # PUBREC
        c.sendall(_packet(0x62, b"\x00\x07"))              # PUBREL
        first, body = read()
        assert first == 0x70 and body[:2] == b"\x00\x07"   # PUBCOMP
        read()                                             # DISCONNECT after -C 3
    fake = FakeBroker(script)
    p = herald("sub", "-h", "127.0.0.1", "-p", str(fake.port), "-t", "#", "-q", "2", "-v", "-C", "3")
    fake.thread.join(TIMEOUT)
    assert fake.error is None, fake.error
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"alias/topic first\nalias/topic second\nq2/topic exactly once\n"


def test_receive_maximum_honoured():
    """With the server's Receive Maximum at 1, a second QoS 1 PUBLISH waits for the first PUBACK."""
    def script(c, read):
        read()
        c.sendall(_packet(0x20, b"\x00\x00\x03\x21\x00\x01"))  # CONNACK, receive maximum 1
        first, body = read()
        assert first & 0xF0 == 0x30 and body.endswith(b"one")
        c.settimeout(0.5)
        try:
            read()
            raise AssertionError("second PUBLISH before PUBACK")
        except socket.timeout:
            pass
        c.settimeout(TIMEOUT)
        pid = body[len("rm/t") + 2:len("rm/t") + 4]
        c.sendall(_packet(0x40, pid))
        first, body = read()
        assert first & 0xF0 == 0x30 and body.endswith(b"two")
        c.sendall(_packet(0x40, body[len("rm/t") + 2:len("rm/t") + 4]))
        first, _ = read()
        assert first == 0xE0
    fake = FakeBroker(script)
    p = herald("pub", "-h", "127.0.0.1", "-p", str(fake.port), "-t", "rm/t", "-q", "1", "-l", input=b"one\ntwo\n")
    fake.thread.join(TIMEOUT)
    assert fake.error is None, fake.error
    assert p.returncode == 0, p.stderr


def test_server_disconnect_reported():
    def script(c, read):
        read()
        c.sendall(_packet(0x20, b"\x00\x00\x00"))
        read()
        c.sendall(_packet(0xE0, b"\x8e\x00"))  # DISCONNECT 0x8E session taken over
    fake = FakeBroker(script)
    p = herald("sub", "-h", "127.0.0.1", "-p", str(fake.port), "-t", "a")
    assert p.returncode != 0
    assert b"Session taken over" in p.stderr


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto not installed")
def test_herald_binary_help():
    p = herald("--help")
    assert p.returncode == 0 and b"pub" in p.stdout and b"sub" in p.stdout
    p = herald("pub", "--help")
    assert p.returncode == 0 and b"-D,--property" in p.stdout
