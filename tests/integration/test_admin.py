# The admin API of SPEC 7 (`$CONTROL/herald/v1`) end to end: a real heraldd with its SQLite
# file, driven by a paho client and by the `herald` admin commands; the first admin created at
# start (HERALD_ADMIN_PASSWORD, or a generated password printed once); non-admins refused.
#
# The admin password reaches heraldd through make_broker(env=...). Run with
# /usr/bin/python3 -m pytest.
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import helpers
from helpers import BROKER_KIND, V5, VERSION_PARAMS

REPO_ROOT = Path(__file__).resolve().parents[2]
HERALD = os.environ.get("HERALD") or str(REPO_ROOT / "build" / "tools" / "herald")
if not os.path.isabs(HERALD):
    HERALD = str((REPO_ROOT / HERALD).resolve())

CONTROL = "$CONTROL/herald/v1"
RESPONSE = "$CONTROL/herald/v1/response"
ADMIN_PW = "admin-pw-for-tests"
NOT_AUTHORIZED = "not authorized: the admin role is needed"


pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="$CONTROL/herald/v1 is heraldd's admin API (mosquitto has its own)")


# ---------------------------------------------------------------- helpers

@pytest.fixture
def admin_broker(make_broker):
    return make_broker("allow_anonymous = true\n", env={"HERALD_ADMIN_PASSWORD": ADMIN_PW})


class Admin:
    """A paho client as the admin: sends commands, returns the matching answers."""

    def __init__(self, broker, version=V5, username="admin", password=ADMIN_PW):
        self.c = helpers.Client(broker, version=version, username=username, password=password)
        self.c.connect()
        codes = self.c.subscribe(RESPONSE, qos=1)
        assert codes == [1], f"admin's subscription to {RESPONSE} refused: {codes}"

    def raw(self, payload, timeout=5):
        """Publishes `payload` and returns the next response object."""
        rc = self.c.publish(CONTROL, payload, qos=1)
        assert rc == 0, f"PUBACK {rc:#x} for an admin request"
        return json.loads(self.c.expect_message(timeout).payload)

    def run(self, *commands, timeout=5):
        """Sends the commands in one request; returns their answers (matched by correlationData)."""
        tag = uuid.uuid4().hex
        cmds = [dict(c, correlationData=f"{tag}-{i}") for i, c in enumerate(commands)]
        rc = self.c.publish(CONTROL, json.dumps({"commands": cmds}), qos=1)
        assert rc == 0, f"PUBACK {rc:#x} for an admin request"
        deadline = time.monotonic() + timeout
        while True:
            m = self.c.expect_message(max(0.1, deadline - time.monotonic()))
            answers = json.loads(m.payload).get("responses", [])
            if answers and answers[0].get("correlationData") == f"{tag}-0":
                assert [a["command"] for a in answers] == [c["command"] for c in commands]
                return answers

    def ok(self, command):
        [a] = self.run(command)
        assert "error" not in a, a
        return a["data"]

    def error(self, command):
        [a] = self.run(command)
        assert "data" not in a, a
        return a["error"]


def herald(broker, *args, user="admin", password=ADMIN_PW, stdin=None, timeout=15):
    cmd = [HERALD, *args, "-p", str(broker.port), "-h", "127.0.0.1", "-W", "5"]
    if user is not None:
        cmd += ["-u", user, "-P", password]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- paho

@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_admin_commands_from_paho(admin_broker, version):
    a = Admin(admin_broker, version)
    assert a.ok({"command": "createUser", "user": "bob", "password": "bob-pw"}) == {"user": "bob", "role": "user"}
    assert a.ok({"command": "createUser", "user": "ann", "password": "ann-pw", "role": "user"})["user"] == "ann"
    assert a.error({"command": "createUser", "user": "bob", "password": "x"}) == "user 'bob' already exists"
    users = a.ok({"command": "listUsers"})
    assert users == {"users": [{"user": "admin", "role": "admin"}, {"user": "ann", "role": "user"},
                               {"user": "bob", "role": "user"}], "cursor": None}
    page = a.ok({"command": "listUsers", "limit": 2})
    assert page["cursor"] is not None and len(page["users"]) == 2
    a.ok({"command": "addContact", "user": "bob", "contact": "ann"})
    assert a.ok({"command": "listContacts", "user": "ann"})["contacts"] == ["bob"]
    a.ok({"command": "createGroup", "group": "devs"})
    a.ok({"command": "addGroupMember", "group": "devs", "user": "bob"})
    assert a.ok({"command": "listGroups"})["groups"] == [{"group": "devs", "members": ["bob"]}]
    a.ok({"command": "removeGroupMember", "group": "devs", "user": "bob"})
    a.ok({"command": "deleteGroup", "group": "devs"})
    a.ok({"command": "removeContact", "user": "bob", "contact": "ann"})
    ban = a.ok({"command": "banUser", "user": "bob", "seconds": 60, "reason": "spam"})
    assert ban["user"] == "bob" and ban["reason"] == "spam"
    assert a.ok({"command": "getStats"})["activeBans"] == 1
    a.ok({"command": "unbanUser", "user": "bob"})
    a.ok({"command": "setPassword", "user": "bob", "password": "new-pw"})
    a.ok({"command": "deleteUser", "user": "bob"})
    assert a.error({"command": "deleteUser", "user": "bob"}) == "user 'bob' does not exist"
    assert "\"user\" is missing" in a.error({"command": "createUser", "password": "x"})
    assert "unknown command \"nope\"" in a.error({"command": "nope"})


def test_answers_keep_request_order(admin_broker):
    a = Admin(admin_broker)
    answers = a.run({"command": "createUser", "user": "cat", "password": "p"},
                    {"command": "addContact", "user": "cat", "contact": "admin"},
                    {"command": "listContacts", "user": "admin"},
                    {"command": "deleteUser", "user": "cat"},
                    {"command": "listContacts", "user": "admin"})
    assert answers[2]["data"]["contacts"] == ["cat"]
    assert answers[4]["data"]["contacts"] == []


def test_bad_json_gets_an_error_object(admin_broker):
    a = Admin(admin_broker)
    r = a.raw("{not json")
    assert r["responses"] == []
    assert r["error"].startswith("request is not valid JSON")
    r = a.raw(json.dumps({"no": "commands"}))
    assert r["responses"] == [] and "\"commands\" array" in r["error"]
    assert admin_broker.alive()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_created_user_logs_in_with_its_password(admin_broker, version):
    a = Admin(admin_broker)
    a.ok({"command": "createUser", "user": "dan", "password": "dan-pw"})
    c = helpers.Client(admin_broker, version=version, username="dan", password="dan-pw")
    assert c.connect().rc == 0
    c.disconnect()
    bad = helpers.Client(admin_broker, version=version, username="dan", password="wrong")
    assert bad.connect(expect_rc=None).rc != 0
    a.ok({"command": "setPassword", "user": "dan", "password": "dan-pw2"})
    c2 = helpers.Client(admin_broker, version=version, username="dan", password="dan-pw2")
    assert c2.connect().rc == 0


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_non_admin_is_refused(admin_broker, version):
    a = Admin(admin_broker)
    a.ok({"command": "createUser", "user": "eve", "password": "eve-pw"})
    eve = helpers.Client(admin_broker, version=version, username="eve", password="eve-pw")
    eve.connect()
    # SPEC 3: only admins may subscribe to the answers...
    codes = eve.subscribe(RESPONSE, qos=1)
    assert codes[0] >= 0x80, f"a non-admin subscribed to {RESPONSE}: {codes}"
    # ...or publish requests: refused at PUBACK (5.0 0x87), or answered "not authorized".
    rc = eve.publish(CONTROL, json.dumps({"commands": [{"command": "createUser", "user": "mallory",
                                                        "password": "m", "role": "admin",
                                                        "correlationData": "eve"}]}), qos=1)
    if version == V5 and rc != 0:
        assert rc == 0x87
    else:
        # 3.1.1 has no refusal in PUBACK: the request is dropped, or answered "not authorized".
        try:
            m = a.c.expect_message(timeout=2)
        except AssertionError:
            m = None
        if m is not None:
            r = json.loads(m.payload)
            assert r["responses"] == [{"command": "createUser", "error": NOT_AUTHORIZED, "correlationData": "eve"}]
    names = [u["user"] for u in a.ok({"command": "listUsers"})["users"]]
    assert "mallory" not in names
    # Anonymous clients are no admins either.
    anon = helpers.Client(admin_broker, version=version)
    anon.connect()
    assert anon.subscribe(RESPONSE, qos=1)[0] >= 0x80


# ---------------------------------------------------------------- first admin

def test_first_admin_generated_password_printed_once(make_broker, monkeypatch, tmp_path):
    monkeypatch.delenv("HERALD_ADMIN_PASSWORD", raising=False)
    config = f'data_dir = "{tmp_path / "shared-data"}"\n'
    b = make_broker(config)
    m = b.wait_log(r"first admin, user 'admin' with password '([A-Za-z0-9_-]{22})'")
    password = m.group(1)
    c = helpers.Client(b, username="admin", password=password)
    assert c.connect().rc == 0
    c.disconnect()
    b.stop()
    b2 = make_broker(config)
    Admin(b2, password=password)  # the same admin, the same password
    assert "first admin" not in b2.log()


# ---------------------------------------------------------------- herald CLI

@pytest.mark.skipif(not os.access(HERALD, os.X_OK), reason=f"herald binary not found at {HERALD}")
def test_admin_commands_from_herald_cli(admin_broker):
    b = admin_broker

    def ok(*args, stdin=None):
        r = herald(b, *args, stdin=stdin)
        assert r.returncode == 0, f"herald {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r.stdout

    assert "created user 'fay'" in ok("user", "add", "fay", "--password", "fay-pw")
    assert "created user 'gus' (role admin)" in ok("user", "add", "gus", "--role", "admin", stdin="gus-pw\n")
    out = ok("user", "list")
    assert re.search(r"^admin\s+admin$", out, re.M) and re.search(r"^fay\s+user$", out, re.M)
    listed = json.loads(ok("user", "list", "--json").splitlines()[0])
    assert listed["command"] == "listUsers" and {"user": "gus", "role": "admin"} in listed["data"]["users"]
    ok("contact", "add", "fay", "gus")
    assert ok("contact", "list", "fay").split() == ["gus"]
    ok("contact", "del", "fay", "gus")
    ok("group", "create", "ops")
    ok("group", "add", "ops", "fay")
    assert "ops: fay" in ok("group", "list")
    ok("group", "remove", "ops", "fay")
    ok("group", "del", "ops")
    assert "banned 'fay' for 30 s: flood" in ok("ban", "fay", "--seconds", "30", "--reason", "flood")
    ok("unban", "fay")
    ok("user", "passwd", "fay", "--password", "fay-pw2")
    # gus (admin) can administer too.
    r = herald(b, "user", "list", user="gus", password="gus-pw")
    assert r.returncode == 0 and "fay" in r.stdout
    ok("user", "del", "fay")

    r = herald(b, "user", "del", "fay")
    assert r.returncode == 1 and "user 'fay' does not exist" in r.stderr
    r = herald(b, "group", "add", "nogroup", "gus")
    assert r.returncode == 1 and "group 'nogroup' does not exist" in r.stderr


@pytest.mark.skipif(not os.access(HERALD, os.X_OK), reason=f"herald binary not found at {HERALD}")
def test_herald_cli_non_admin_refused(admin_broker):
    a = Admin(admin_broker)
    a.ok({"command": "createUser", "user": "hal", "password": "hal-pw"})
    r = herald(admin_broker, "user", "add", "x", "--password", "y", user="hal", password="hal-pw")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "not authorized" in r.stderr
    assert "x" not in [u["user"] for u in a.ok({"command": "listUsers"})["users"]]
