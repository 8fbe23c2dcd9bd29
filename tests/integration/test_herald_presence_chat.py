# `herald presence` and `herald chat` end to end against a real heraldd (conftest's make_broker).
#
# The broker's presence and stream features (SPEC 4, 5) come later, so these tests publish by
# hand exactly what the broker will publish then: retained `presence/{u}` JSON records and
# messages to `users/{to}/{from}` / `groups/{g}/{from}` (mosquitto_pub). The topic rules of
# SPEC 3 hold already, so each hand-made message is published as the user its topic names (the
# broker runs with allow_anonymous = true, which takes any username without a password) and the
# watchers connect as users (anonymous clients see no presence). The chat runs under
# tmux (send-keys / capture-pane) in a detached session of a fixed size, on a tmux server of its
# own (-S, a socket in the test's tmp dir), killed by name at teardown. Every wait is bounded: panes are polled with a deadline.
#
# The binary: env HERALD (default build/tools/herald). Run with /usr/bin/python3 -m pytest.
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import helpers
from helpers import MosquittoSub, mosquitto_pub

REPO_ROOT = Path(__file__).resolve().parents[2]
HERALD = os.environ.get("HERALD") or str(REPO_ROOT / "build" / "tools" / "herald")
if not os.path.isabs(HERALD):
    HERALD = str((REPO_ROOT / HERALD).resolve()) if not Path(HERALD).exists() else str(Path(HERALD).resolve())

pytestmark = pytest.mark.skipif(not os.access(HERALD, os.X_OK), reason=f"herald binary not found at {HERALD}")
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")

TIMEOUT = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ms():
    return int(time.time() * 1000)


def hhmm(ms):
    return time.strftime("%H:%M", time.localtime(ms / 1000))


def record(user, state, seq, **fields):
    r = {"user": user, "state": state, "status": "available", "text": "", "devices": 1,
         "since": now_ms() - 180_000, "last_seen": 0, "seq": seq}
    r.update(fields)
    return r


def sender_of(topic):
    """The user SPEC 3 lets publish to `topic`: {from} of users/{to}/{from} and groups/{g}/{from},
    {u} of presence/{u}."""
    levels = topic.split("/")
    return levels[1] if levels[0] == "presence" else levels[2]


def publish(broker, topic, payload, retain=False, qos=1, extra=(), password=None):
    if not isinstance(payload, str):
        payload = json.dumps(payload)
    args = ["-u", sender_of(topic)] + (["-P", password] if password else [])
    args += ["-t", topic, "-m", payload, "-q", str(qos)] + (["-r"] if retain else []) + list(extra)
    r = mosquitto_pub(broker, args)
    assert r.returncode == 0, r.stderr


class Background:
    """A herald process with its stdout and stderr read line by line in threads."""

    def __init__(self, args):
        self.proc = subprocess.Popen([HERALD] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.out, self.err = [], []
        self._threads = [threading.Thread(target=self._read, args=(s, l), daemon=True)
                         for s, l in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    def _read(self, stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_line(self, regex, what="stdout"):
        pat = re.compile(regex)
        lines = self.out if what == "stdout" else self.err
        return helpers.wait_until(lambda: next((l for l in list(lines) if pat.search(l)), None),
                                  timeout=TIMEOUT, what=f"{regex!r} on {what}: {lines}")

    def wait_exit(self):
        try:
            rc = self.proc.wait(TIMEOUT)
        finally:
            self.close()
        for t in self._threads:
            t.join(5)
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def background():
    started = []

    def start(args):
        p = Background(args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


class Tmux:
    """One detached tmux session running a command, on a tmux server of its own."""

    def __init__(self, name, socket_path, command, width=120, height=40):
        self.name = name
        self.socket = str(socket_path)  # -S: a server per test, so nothing else is touched
        shell = f"{command}; echo EXIT=$?; sleep 60"
        self._tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), shell)

    def _tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket] + list(args), capture_output=True, text=True,
                              timeout=TIMEOUT, check=check)

    def send(self, *keys):
        self._tmux("send-keys", "-t", self.name, *keys)

    def type_line(self, text):
        # -l: the text literally (a word like "Enter" inside it stays text), then the key.
        self._tmux("send-keys", "-t", self.name, "-l", text)
        self._tmux("send-keys", "-t", self.name, "Enter")

    def capture(self):
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_for(self, regex, timeout=TIMEOUT):
        pat = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.capture()
            m = pat.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"pane never showed {regex!r} within {timeout}s; pane:\n{text}")
            time.sleep(0.05)

    def kill(self):
        self._tmux("kill-session", "-t", self.name, check=False)


@pytest.fixture
def tmux(request, tmp_path):
    sessions = []

    def start(command, **kw):
        name = f"herald-test-{os.getpid()}-{request.node.name}-{len(sessions)}"
        name = re.sub(r"[^A-Za-z0-9_-]", "_", name)
        t = Tmux(name, tmp_path / f"tmux-{len(sessions)}.sock", command, **kw)
        sessions.append(t)
        return t

    yield start
    for t in sessions:
        t.kill()


def chat_command(broker, user, *extra):
    args = [HERALD, "chat", "-h", broker.host, "-p", str(broker.port), "-u", user] + list(extra)
    return " ".join(shlex.quote(a) for a in args)


# ---------------------------------------------------------------- herald presence

def test_presence_lines_drop_stale_and_tolerate_bad_json(make_broker, background):
    broker = make_broker()
    publish(broker, "presence/bob", record("bob", "online", 5, status="away", text="In a meeting", devices=2),
            retain=True)
    publish(broker, "presence/carol", "{not json", retain=True)
    p = background(["presence", "-h", broker.host, "-p", str(broker.port), "-u", "watcher", "-C", "3",
                    "-W", str(TIMEOUT)])
    line = p.wait_line(r"^bob\s")
    assert re.search(r'^bob\s+online\s+away\s+"In a meeting"\s+2 devices\s+since 3 min ago$', line), line
    p.wait_line("unreadable presence record", what="stderr")

    publish(broker, "presence/bob", record("bob", "online", 4, status="busy"))          # stale: dropped
    publish(broker, "presence/carol", "still not json")                                 # reported once
    publish(broker, "presence/bob", record("bob", "offline", 6, last_seen=now_ms() - 120_000))
    publish(broker, "presence/dave", record("dave", "online", 1))                       # keeps going
    assert p.wait_exit() == 0
    bob = [l for l in p.out if l.startswith("bob")]
    assert len(bob) == 2 and "busy" not in "".join(bob), p.out
    assert re.search(r"^bob\s+offline\s+.*last seen 2 min ago$", bob[1]), bob
    assert any(l.startswith("dave") and "online" in l for l in p.out), p.out
    assert sum("unreadable presence record" in l for l in p.err) == 1, p.err


def test_presence_json_for_given_users(make_broker, background):
    broker = make_broker()
    bob = record("bob", "online", 3, status="busy", text="coding")
    publish(broker, "presence/bob", bob, retain=True)
    publish(broker, "presence/carol", record("carol", "online", 1), retain=True)   # not asked for
    p = background(["presence", "--json", "-h", broker.host, "-p", str(broker.port), "-u", "watcher", "bob", "dave",
                    "-C", "2", "-W", str(TIMEOUT)])
    p.wait_line("presence/bob")
    dave = record("dave", "offline", 9, last_seen=now_ms())
    publish(broker, "presence/dave", dave)
    assert p.wait_exit() == 0
    events = [json.loads(l) for l in p.out]
    assert [e["topic"] for e in events] == ["presence/bob", "presence/dave"]
    assert events[0] == dict(bob, topic="presence/bob")
    assert list(events[0])[:-1] == list(bob)   # the record as received (field order kept), plus topic
    assert events[1] == dict(dave, topic="presence/dave")


def test_presence_timeout_exit_status(make_broker, background):
    broker = make_broker()
    p = background(["presence", "-h", broker.host, "-p", str(broker.port), "-u", "watcher", "-W", "1"])
    assert p.wait_exit() == 27
    assert p.out == []


def test_presence_refused_connection(background):
    port = free_port()
    p = background(["presence", "-h", "127.0.0.1", "-p", str(port), "-W", "5"])
    assert p.wait_exit() == 1
    assert any("refused" in l.lower() for l in p.err), p.err


@needs_tmux
def test_presence_terminal_view_updates_in_place(make_broker, tmux):
    broker = make_broker()
    publish(broker, "presence/bob", record("bob", "online", 1, devices=2), retain=True)
    t = tmux(f"{shlex.quote(HERALD)} presence -h {broker.host} -p {broker.port} -u watcher", width=100, height=20)
    t.wait_for(r"^USER\s+STATE\s+STATUS")
    t.wait_for(r"^bob\s+online\s+available\s+2 devices\s+since 3 min ago")
    publish(broker, "presence/bob", record("bob", "offline", 2, last_seen=now_ms() - 60_000), retain=True)
    publish(broker, "presence/erin", record("erin", "online", 1, status="away"), retain=True)
    t.wait_for(r"^erin\s+online\s+away")
    pane = t.capture()
    assert len(re.findall(r"^bob\s", pane, re.M)) == 1, pane   # redrawn, not appended
    assert re.search(r"^bob\s+offline\s+.*last seen 1 min ago", pane, re.M), pane
    assert pane.count("USER") == 1, pane
    t.send("C-c")
    t.wait_for(r"EXIT=0")


# ---------------------------------------------------------------- herald chat

def start_chat(tmux, broker, user="alice", *extra):
    """Starts a chat; returns once its subscriptions are in place (bob's retained presence,
    published here first, has arrived)."""
    publish(broker, "presence/bob", record("bob", "online", 1), retain=True)
    t = tmux(chat_command(broker, user, *extra))
    t.wait_for(rf"\* connected as {user}")
    t.wait_for(r"\* bob is online")
    return t


@needs_tmux
def test_chat_direct_messages(make_broker, tmux):
    broker = make_broker()
    t = start_chat(tmux, broker)
    t.wait_for(r"^alice>\s*$")  # capture-pane drops trailing spaces
    inbox = MosquittoSub(broker, ["-u", "bob", "-t", "users/bob/#", "-v", "-q", "1"], 1, TIMEOUT)
    inbox.wait_subscribed()
    t.type_line("/to bob")
    t.wait_for(r"^alice -> bob>\s*$")
    t.type_line("hello")
    assert inbox.result() == ["users/bob/alice hello"]
    t.wait_for(r"^\[\d\d:\d\d\] me -> bob: hello$")

    publish(broker, "users/alice/bob", "hi alice")
    t.wait_for(r"^\[\d\d:\d\d\] bob: hi alice$")   # live: not marked (offline)
    # The half-typed line survives an incoming message.
    t.send("-l", "half typed")
    t.wait_for(r"^alice -> bob> half typed")
    publish(broker, "users/alice/bob", "another")
    t.wait_for(r"^\[\d\d:\d\d\] bob: another$")
    t.wait_for(r"^alice -> bob> half typed")
    t.send("C-u")
    t.type_line("/quit")
    t.wait_for(r"^EXIT=0$")


@needs_tmux
def test_chat_status_presence_who_quit(make_broker, tmux):
    broker = make_broker()
    t = start_chat(tmux, broker)

    # The retained record of alice (online), then the one the broker merged her status into.
    status = MosquittoSub(broker, ["-u", "watcher", "-t", "presence/alice", "-q", "1"], 2, TIMEOUT)
    status.wait_subscribed()
    t.type_line("/status away In a meeting")
    records = [json.loads(l) for l in status.result()]
    assert [(r["state"], r["status"], r["text"]) for r in records] == \
        [("online", "available", ""), ("online", "away", "In a meeting")]
    assert records[1]["seq"] == records[0]["seq"] + 1
    t.type_line("/status sleeping")
    t.wait_for(r"usage: /status available\|away\|busy\|invisible")


    # Presence changes: stale ignored, offline with last seen, unreadable once.
    left = now_ms() - 60_000
    publish(broker, "presence/bob", record("bob", "offline", 0), retain=True)     # stale (seq 0 < 1)
    publish(broker, "presence/bob", record("bob", "offline", 2, last_seen=left), retain=True)
    t.wait_for(rf"^\* bob went offline \(last seen {hhmm(left)}\)$")
    assert t.capture().count("went offline") == 1
    publish(broker, "presence/zed", "garbage")
    publish(broker, "presence/zed", "more garbage")
    publish(broker, "presence/erin", record("erin", "online", 4, status="busy", text="deploying"))
    t.wait_for(r"^\* erin is online \(busy: deploying\)$")
    assert t.capture().count("unreadable presence record for zed") == 1

    t.type_line("/who")
    t.wait_for(r"^\* who:$")
    t.wait_for(r"^\*\s+bob\s+offline\s+.*last seen 1 min ago$")
    t.wait_for(r'^\*\s+erin\s+online\s+busy\s+"deploying"')
    t.type_line("/help")
    t.wait_for(r"/group GROUP")
    t.type_line("/nonsense")
    t.wait_for(r"unknown command /nonsense")
    t.type_line("/quit")
    t.wait_for(r"^EXIT=0$")


ADMIN_PW = "admin-pw-for-chat-tests"
CONTROL = "$CONTROL/herald/v1"


def make_group(broker, group, users):
    """Creates `users` ({name: password}) and `group` with them as members through the admin API
    (SPEC 7). False when the broker does not answer there (admin API or identity not wired)."""
    admin = helpers.Client(broker, client_id="chat-test-admin", username="admin", password=ADMIN_PW)
    try:
        if admin.connect(expect_rc=None).rc != 0 or admin.subscribe(CONTROL + "/response", 1) != [1]:
            return False
        cmds = [{"command": "createUser", "user": u, "password": pw} for u, pw in users.items()]
        cmds.append({"command": "createGroup", "group": group})
        cmds += [{"command": "addGroupMember", "group": group, "user": u} for u in users]
        if admin.publish(CONTROL, json.dumps({"commands": cmds}), qos=1) != 0:
            return False
        answers = json.loads(admin.expect_message(5).payload)["responses"]
    except AssertionError:
        return False
    finally:
        admin.close()
    assert all("error" not in a for a in answers), answers
    return True


@needs_tmux
def test_chat_group(make_broker, tmux, monkeypatch):
    """/group joins groups/{g}/# and talks there. The topic rules of SPEC 3 let only members of
    the group publish and read, and membership lives in the identity store: skipped while this
    heraldd cannot create a group (no admin API / identity wired)."""
    monkeypatch.setenv("HERALD_ADMIN_PASSWORD", ADMIN_PW)
    broker = make_broker()
    if not make_group(broker, "devs", {"alice": "alice-pw", "carol": "carol-pw"}):
        pytest.skip("heraldd cannot create groups yet (admin API / identity store not wired)")
    t = tmux(chat_command(broker, "alice", "-P", "alice-pw"))
    t.wait_for(r"\* connected as alice")
    group = MosquittoSub(broker, ["-u", "carol", "-P", "carol-pw", "-t", "groups/devs/#", "-v", "-q", "1"],
                         1, TIMEOUT)
    group.wait_subscribed()
    t.type_line("/group devs")
    t.wait_for(r"\* joined #devs")
    t.wait_for(r"^alice -> #devs>\s*$")
    t.type_line("hi devs")
    assert group.result() == ["groups/devs/alice hi devs"]
    t.wait_for(r"^\[\d\d:\d\d\] me -> #devs: hi devs$")
    publish(broker, "groups/devs/carol", "hi alice", password="carol-pw")
    t.wait_for(r"^\[\d\d:\d\d\] #devs carol: hi alice$")
    t.type_line("/quit")
    t.wait_for(r"^EXIT=0$")


@needs_tmux
def test_chat_offline_messages_marked(make_broker, tmux):
    broker = make_broker()
    t = start_chat(tmux, broker)   # creates alice's persistent session (herald-chat-alice)
    t.type_line("/quit")
    t.wait_for(r"^EXIT=0$")
    t.kill()

    sent = now_ms()
    old = sent - 3 * 3600 * 1000
    publish(broker, "users/alice/bob", "while you were away")
    publish(broker, "users/alice/bob", "an old one", extra=["-V", "5", "-D", "publish", "user-property", "ts", str(old)])
    t = start_chat(tmux, broker)
    t.wait_for(r"^\[\d\d:\d\d\] bob: while you were away \(offline\)$")
    m = t.wait_for(r"^\[(\d\d:\d\d)\] bob: an old one \(offline\)$")
    # The time is the broker's `ts`: the one given here, or (once heraldd sets `ts` itself,
    # SPEC 3) the moment it stored the message.
    assert m.group(1) in {hhmm(old), hhmm(sent), hhmm(now_ms())}, m.group(0)
    publish(broker, "users/alice/bob", "live now")
    t.wait_for(r"^\[\d\d:\d\d\] bob: live now$")
    t.type_line("/quit")
    t.wait_for(r"^EXIT=0$")


def test_chat_from_a_pipe(make_broker, background):
    broker = make_broker()
    inbox = MosquittoSub(broker, ["-u", "bob", "-t", "users/bob/#", "-v", "-q", "1"], 2, TIMEOUT)
    inbox.wait_subscribed()
    script = "/to bob\nfirst line\nsecond line\n"
    r = subprocess.run([HERALD, "chat", "-h", broker.host, "-p", str(broker.port), "-u", "alice"], input=script,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert inbox.result() == ["users/bob/alice first line", "users/bob/alice second line"]
    assert "\x1b" not in r.stdout   # no escape sequences when stdout is not a terminal
    assert re.search(r"^\[\d\d:\d\d\] me -> bob: second line$", r.stdout, re.M), r.stdout


def test_chat_needs_a_user():
    r = subprocess.run([HERALD, "chat", "-p", "1"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert "needs a user" in r.stderr
    r = subprocess.run([HERALD, "chat", "-p", "1", "-u", "a/b"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert "invalid user id" in r.stderr
