# The broker fixture: starts a real heraldd (or mosquitto, HERALD_TEST_BROKER=mosquitto) on an
# ephemeral loopback port for each test and stops it by PID at teardown.
#
# heraldd gets a TOML config (allow_anonymous, sys_interval = 1, data_dir in tmp, one tcp
# listener on 127.0.0.1 port 0) and its real port is read from its "listening on tcp
# 127.0.0.1:PORT" log line. Teardown fails the test when the broker crashed, did not exit 0 on
# SIGTERM, or printed a sanitizer report: that is how ASan/UBSan findings reach the summary.
import os
import re
import signal
import socket
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

import helpers
from helpers import BROKER_KIND

REPO_ROOT = Path(__file__).resolve().parents[2]
HERALDD = os.environ.get("HERALDD") or str(REPO_ROOT / "build" / "broker" / "heraldd")
if not os.path.isabs(HERALDD):
    HERALDD = str((REPO_ROOT / HERALDD).resolve()) if not Path(HERALDD).exists() \
        else str(Path(HERALDD).resolve())
START_TIMEOUT = float(os.environ.get("HERALD_TEST_START_TIMEOUT", "10"))
TEST_TIMEOUT = int(os.environ.get("HERALD_TEST_TIMEOUT", "120"))

# Cheap password hashes in every heraldd started here (see helpers.FULL_HASH_COST).
os.environ.setdefault("HERALD_TEST_PBKDF2_ITERATIONS", helpers.TEST_HASH_ITERATIONS)

SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                          r"WARNING: ThreadSanitizer")
LISTEN_RE = re.compile(r"listening on tcp 127\.0\.0\.1:(\d+)")
# Every listener's line ("listening on ws 127.0.0.1:PORT", tls, wss, unix ...).
ANY_LISTEN_RE = re.compile(r"listening on (\w+) (\S+)")

# heraldd config keys that mosquitto.conf spells the same way (or as given here).
MOSQUITTO_KEYS = {
    "allow_anonymous": "allow_anonymous", "max_keepalive": "max_keepalive",
    "max_packet_size": "max_packet_size", "max_queued_messages": "max_queued_messages",
    "max_queued_bytes": "max_queued_bytes", "max_inflight_messages": "max_inflight_messages",
    "max_qos": "max_qos", "retain_available": "retain_available", "sys_interval": "sys_interval",
    "max_connections": "max_connections", "topic_alias_maximum": "max_topic_alias",
}
MOSQUITTO_IGNORED = {"log_level", "log_json", "data_dir"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Broker:
    """One broker process. host/port: where clients connect; log(): what it printed;
    acl_path / passwd_path: the files written from make_broker's acl= / passwd= (or None)."""

    def __init__(self, cmd, config_path, log_path, kind, port=None, listeners=1, env=None):
        self.kind = kind
        self.host = "127.0.0.1"
        self.port = port
        self.config_path = str(config_path)
        self.log_path = str(log_path)
        self.cmd = cmd
        self.stopped_by_test = False
        self.exit_status = None
        self._logf = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=str(config_path.parent))
        self.pid = self.proc.pid
        try:
            self._wait_ready(listeners)
        except BaseException:
            self._kill()
            raise

    def _wait_ready(self, listeners):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            text = self.log()
            if self.kind == "heraldd":
                found = ANY_LISTEN_RE.findall(text)
                ports = [int(p) for p in LISTEN_RE.findall(text)]
                if len(found) >= listeners and ports:
                    self.port = ports[-1]   # ours is the last listener in the config
                    # listen_ports["ws"] = [port, ...] in config order (not for unix)
                    self.listen_ports = {}
                    for kind, where in found:
                        if ":" in where:
                            self.listen_ports.setdefault(kind, []).append(
                                int(where.rsplit(":", 1)[1]))
                    return
            elif re.search(r"mosquitto version \S+ running", text):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with status {self.proc.returncode} during "
                                   f"start ({' '.join(self.cmd)}):\n{text[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} not listening after {START_TIMEOUT}s:\n"
                                   f"{text[-4000:]}")
            time.sleep(0.02)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """The current length of the log: pass it as wait_log(..., since=mark) to see only lines
        printed after this point."""
        return len(self.log())

    def wait_log(self, regex, timeout=5.0, since=0):
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            m = pat.search(self.log(), since)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line matching {regex!r} within {timeout}s; log tail:\n"
                                     f"{self.log()[-3000:]}")
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig and waits for the exit; returns the exit status (negative: killed by a
        signal). Raises AssertionError (after SIGKILL) when it does not exit within timeout."""
        self.stopped_by_test = True
        return self._stop(sig, timeout)

    def _stop(self, sig, timeout):
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise AssertionError(f"{self.kind} pid {self.pid} did not exit within {timeout}s "
                                     f"of signal {sig}")
        self.exit_status = self.proc.returncode
        self._logf.close()
        return self.exit_status

    def _kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._logf.close()

    def sanitizer_report(self):
        m = SANITIZER_RE.search(self.log())
        return self.log()[m.start():][:6000] if m else None


def _heraldd_config(tmp, n, config, acl_path, passwd_path, port):
    try:
        extra_keys = set(tomllib.loads(config).keys()) if config else set()
    except tomllib.TOMLDecodeError:
        extra_keys = set(re.findall(r"^\s*([A-Za-z_]+)\s*=", config, re.M))
    lines = []
    defaults = {"allow_anonymous": "true", "sys_interval": "1",
                "data_dir": '"' + str(tmp / f"data{n}") + '"'}
    if acl_path:
        defaults["acl_file"] = f'"{acl_path}"'
    if passwd_path:
        defaults["password_file"] = f'"{passwd_path}"'
    for k, v in defaults.items():
        if k not in extra_keys:
            lines.append(f"{k} = {v}")
    text = "\n".join(lines) + "\n" + config + "\n"
    text += f'\n[[listeners]]\ntype = "tcp"\naddress = "127.0.0.1"\nport = {port or 0}\n'
    return text, 1 + config.count("[[listeners]]")


def _mosquitto_config(config, acl_path, passwd_path, port, mosquitto_config):
    try:
        extra = tomllib.loads(config) if config else {}
    except tomllib.TOMLDecodeError as e:
        pytest.skip(f"mosquitto harness: cannot parse extra config ({e})")
    opts = {"allow_anonymous": "true", "sys_interval": "1"}
    for k, v in extra.items():
        if k in MOSQUITTO_IGNORED:
            continue
        if k not in MOSQUITTO_KEYS or isinstance(v, (dict, list, str)):
            pytest.skip(f"mosquitto harness cannot express heraldd config {k} = {v!r}")
        opts[MOSQUITTO_KEYS[k]] = _toml_value(v)
    lines = [f"listener {port} 127.0.0.1", "persistence false", "log_dest stderr",
             "log_type all", "connection_messages true"]
    if os.geteuid() == 0:
        lines.append("user root")   # else mosquitto drops to user mosquitto and cannot read tmp
    if acl_path:
        lines.append(f"acl_file {acl_path}")
    if passwd_path:
        lines.append(f"password_file {passwd_path}")
    lines += [f"{k} {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n" + mosquitto_config + "\n"


@pytest.fixture
def make_broker(tmp_path):
    """make(config="", acl=None, passwd=None, *, port=None, args=(), argv=None,
    mosquitto_config="", env=None) -> Broker. config: extra heraldd TOML (top level); acl / passwd: file
    texts; port: a fixed port (e.g. to restart on the same one); args: extra heraldd arguments;
    argv: heraldd's whole argument list instead of ["-c", generated config] (e.g. ["-p", "1884"]:
    then the port is read from the log as usual); mosquitto_config: extra mosquitto.conf lines
    (HERALD_TEST_BROKER=mosquitto only); env: extra environment variables for the broker
    (e.g. {"HERALD_ADMIN_PASSWORD": "..."})."""
    started = []

    def make(config: str = "", acl: str | None = None, passwd: str | None = None, *,
             port: int | None = None, args=(), argv=None, mosquitto_config: str = "",
             env: dict | None = None) -> Broker:
        n = len(started)
        acl_path = passwd_path = None
        if acl is not None:
            acl_path = tmp_path / f"acl{n}.conf"
            acl_path.write_text(acl)
        if passwd is not None:
            passwd_path = tmp_path / f"passwd{n}"
            passwd_path.write_text(passwd)
        log_path = tmp_path / f"broker{n}.log"
        if BROKER_KIND == "mosquitto":
            port = port or free_port()
            cfg = tmp_path / f"mosquitto{n}.conf"
            cfg.write_text(_mosquitto_config(config, acl_path, passwd_path, port, mosquitto_config))
            b = Broker(["mosquitto", "-c", str(cfg)] + list(args), cfg, log_path, "mosquitto",
                       port=port)
        else:
            if not os.access(HERALDD, os.X_OK):
                pytest.fail(f"heraldd binary not found at {HERALDD} (set HERALDD=...)")
            cfg = tmp_path / f"herald{n}.toml"
            text, listeners = _heraldd_config(tmp_path, n, config, acl_path, passwd_path, port)
            cfg.write_text(text)
            if argv is not None:
                cmd, listeners = [HERALDD] + list(argv), 1
            else:
                cmd = [HERALDD, "-c", str(cfg)] + list(args)
            full_env = {**os.environ, **env} if env else None
            b = Broker(cmd, cfg, log_path, "heraldd", listeners=listeners, env=full_env)
        b.acl_path = str(acl_path) if acl_path else None
        b.passwd_path = str(passwd_path) if passwd_path else None
        started.append(b)
        return b

    yield make

    helpers.close_all_clients()
    problems = []
    for b in started:
        died = not b.alive() and not b.stopped_by_test
        try:
            status = b._stop(signal.SIGTERM, 10)
        except AssertionError as e:
            problems.append(str(e))
            status = None
        if died:
            problems.append(f"{b.kind} (pid {b.pid}) exited during the test with status {status}")
        elif status not in (0, None) and not b.stopped_by_test:
            problems.append(f"{b.kind} (pid {b.pid}) exited with status {status} on SIGTERM")
        rep = b.sanitizer_report()
        if rep:
            problems.append(f"sanitizer report from {b.kind} (pid {b.pid}):\n{rep}")
        print(f"--- {b.kind} log ({b.log_path}), tail ---\n{b.log()[-3000:]}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def broker(make_broker):
    """A running broker with the default test config (anonymous allowed)."""
    return make_broker()


class _TestTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A safety net: no test body may run longer than HERALD_TEST_TIMEOUT seconds."""
    def on_alarm(_sig, _frame):
        raise _TestTimeout(f"test body exceeded {TEST_TIMEOUT}s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
