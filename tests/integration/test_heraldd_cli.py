# heraldd as a program: --version, --test-config, config errors with file:line, -p PORT with no
# file, exit statuses on SIGTERM / SIGINT, a port already in use. SPEC 7.
import signal
import socket
import subprocess
import tempfile

import pytest
from helpers import *
from conftest import HERALDD, REPO_ROOT, free_port

pytestmark = heraldd_only   # heraldd's own command line, config format and shutdown


def run_heraldd(*args, timeout=10):
    # In a scratch directory: with no config file heraldd keeps ./data/herald.db there.
    with tempfile.TemporaryDirectory(prefix="heraldd-cli-") as cwd:
        r = subprocess.run([HERALDD, *args], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=cwd)
    return r.returncode, r.stdout + r.stderr


def test_version():
    """`heraldd --version` prints the version and exits 0."""
    rc, out = run_heraldd("--version")
    assert rc == 0
    assert re.search(r"herald\S* \d+\.\d+\.\d+", out), out


def test_test_config_accepts_example_file():
    """SPEC 7: examples/herald.toml documents every key with its default; --test-config accepts it."""
    rc, out = run_heraldd("--test-config", "-c", str(REPO_ROOT / "examples" / "herald.toml"))
    assert rc == 0, out


@pytest.mark.parametrize("text,line", [
    ("allow_anonymous = true\nno_such_key = 1\n", 2),
    ("allow_anonymous = true\nsys_interval = 1\nmax_keepalive = \"abc\"\n", 3),
    ("allow_anonymous = \"yes\"\n", 1),
    ("[[listeners]]\ntype = \"tcp\"\nport = 99999\n", 3),
    ("max_qos = 1\nmax_qos = 2\n", 2),
], ids=["unknown-key", "bad-type", "bool-as-string", "port-out-of-range", "duplicate-key"])
def test_bad_config_exits_1_with_file_and_line(tmp_path, text, line):
    """SPEC 7: a bad config (unknown key, wrong type, out of range, broken TOML) is refused, by
    --test-config and at start alike, with exit status 1 and FILE:LINE in the message."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    for args in (["--test-config", "-c", str(cfg)], ["-c", str(cfg)]):
        rc, out = run_heraldd(*args)
        assert rc == 1, f"{args}: exit {rc}\n{out}"
        assert f"{cfg}:{line}" in out, f"{args}: no {cfg}:{line} in\n{out}"


def test_missing_config_file_exits_1(tmp_path):
    rc, out = run_heraldd("-c", str(tmp_path / "nope.toml"))
    assert rc == 1 and "nope.toml" in out


def test_bad_command_lines_exit_nonzero(tmp_path):
    """--test-config without a file, and -p together with -c, are usage errors."""
    assert run_heraldd("--test-config")[0] != 0
    cfg = tmp_path / "ok.toml"
    cfg.write_text("allow_anonymous = true\n")
    assert run_heraldd("-c", str(cfg), "-p", "1884")[0] != 0
    assert run_heraldd("--no-such-option")[0] != 0


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_port_option_serves_anonymous_on_loopback(make_broker, version):
    """SPEC 2/7: `heraldd -p PORT` with no file serves plain MQTT on 127.0.0.1:PORT to anonymous
    clients, as `mosquitto -p` does."""
    port = free_port()
    b = make_broker(argv=["-p", str(port)])
    assert b.port == port
    s = Client(b, version, client_id="anon-sub")
    s.connect()
    s.subscribe("cli/t", 1)
    p = Client(b, version, client_id="anon-pub")
    p.connect()
    p.publish("cli/t", b"hi", qos=1)
    assert s.expect_message().payload == b"hi"


def test_sigterm_exits_0_and_disconnects_v5_with_0x8b(broker):
    """SIGTERM: heraldd tells 5.0 clients DISCONNECT 0x8B Server shutting down, closes 3.1.1
    clients, and exits 0."""
    c5 = Client(broker, V5, client_id="c5")
    c5.connect()
    c3 = Client(broker, V311, client_id="c3")
    c3.connect()
    assert broker.stop(signal.SIGTERM) == 0
    assert c5.wait_disconnect() == 0x8B
    assert c3.wait_disconnect() is None


def test_sigint_exits_0(broker):
    c = Client(broker, V5, client_id="c")
    c.connect()
    assert broker.stop(signal.SIGINT) == 0
    assert c.wait_disconnect() == 0x8B


def test_port_in_use_exits_1_with_clear_message():
    """A listener that cannot bind (port in use) stops heraldd at start with exit 1 and a message
    naming the address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc, out = run_heraldd("-p", str(port))
    assert rc == 1, out
    assert str(port) in out and re.search(r"(?i)in use", out), out
