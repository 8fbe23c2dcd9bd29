# Who sees whose presence (SPEC 4, presence.visibility) and the admin's kick (SPEC 4, 7) end to
# end: a real heraldd with its SQLite file, users created through the admin API
# ($CONTROL/herald/v1, test_admin.Admin) who log in with their passwords, paho watchers of both
# protocol versions, and the `herald` tool (kick, online, whois).
#
# The world of most tests (group_limit = 3):
#   ann   the watcher
#   bob   ann's contact                      -> visible
#   cat   with ann in "team" (2 members)     -> visible
#   dan   with ann in "big" only (4 members) -> not visible
#   eve   with ann in "big" only             -> not visible
#   admin nothing in common                  -> not visible
#
# "Nothing was delivered" is checked without sleeping: the watcher also subscribes to a plain
# topic of its own and publishes a token there (sync()); the broker handles one connection's
# packets in order and writes to one socket in order, so every presence record due before the
# token arrives before it. Each change is made to have happened first: a CONNECT once CONNACK
# came (online is published then), an admin command once it is answered, a disconnection once
# getPresence says offline (settle(): the broker publishes offline when it has closed the
# connection, which may be a moment after the client saw the socket close).
#
# Each created user and each login costs one PBKDF2 hash on the broker's thread pool (cheap
# here: the test-only iteration knob, see helpers.FULL_HASH_COST). Run with /usr/bin/python3 -m pytest.
import json
import re
import signal
import uuid
from pathlib import Path

import pytest

import helpers
from helpers import BROKER_KIND, V311, V5, VERSION_PARAMS, Client, prop
from test_admin import ADMIN_PW, Admin, herald

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto", reason="presence and the admin API are heraldd's")

ADMIN_ENV = {"HERALD_ADMIN_PASSWORD": ADMIN_PW}
USERS = ["ann", "bob", "cat", "dan", "eve"]


def config(visibility="contacts", group_limit=3, grace="1s"):
    # connect_timeout bounds the wait for a password check too: room for slow (sanitized) builds.
    return (f'allow_anonymous = false\nconnect_timeout = "60s"\n'
            f'[presence]\ngrace = "{grace}"\nvisibility = "{visibility}"\ngroup_limit = {group_limit}\n')


def pw(user):
    return f"{user}-pw-{user}"


def start(make_broker, **kw):
    """heraldd with the world above; returns (broker, admin)."""
    b = make_broker(config(**kw), env=ADMIN_ENV)
    a = Admin(b)
    cmds = [{"command": "createUser", "user": u, "password": pw(u)} for u in USERS]
    cmds += [{"command": "addContact", "user": "ann", "contact": "bob"},
             {"command": "createGroup", "group": "team"},
             {"command": "createGroup", "group": "big"},
             {"command": "addGroupMember", "group": "team", "user": "ann"},
             {"command": "addGroupMember", "group": "team", "user": "cat"}]
    cmds += [{"command": "addGroupMember", "group": "big", "user": u} for u in ("ann", "bob", "dan", "eve")]
    for answer in a.run(*cmds, timeout=60):
        assert "error" not in answer, answer
    return b, a


def device(b, user, client_id=None, version=V5):
    c = Client(b, version, client_id=client_id or f"{user}-{uuid.uuid4().hex[:8]}", username=user,
               password=pw(user))
    c.connect(timeout=30)
    return c


class Watcher:
    """A user's paho client subscribed to `filters` (QoS 1), with sync() to read exactly what
    was delivered so far."""

    def __init__(self, b, user="ann", filters=("presence/+",), version=V5):
        self.user = user
        self.c = device(b, user, f"{user}-watch-{uuid.uuid4().hex[:6]}", version)
        self.sync_topic = f"sync/{self.c.client_id}"
        assert self.c.subscribe(self.sync_topic, qos=1) == [1]
        self.codes = [self.c.subscribe(f, qos=1)[0] for f in filters]

    def sync(self, timeout=10):
        """Presence records delivered until now, in order, as (user, record) pairs."""
        token = uuid.uuid4().hex
        assert self.c.publish(self.sync_topic, token, qos=1) in (0, None)
        got = []
        while True:
            m = self.c.expect_message(timeout)
            if m.topic == self.sync_topic:
                if m.payload.decode() == token:
                    return got
                continue
            assert m.topic.startswith("presence/"), m.topic
            got.append((m.topic.split("/", 1)[1], json.loads(m.payload)))

    def take(self, n, timeout=10):
        """Waits for n presence records, then sync(): what came in order (n or more)."""
        got = []
        while len(got) < n:
            m = self.c.expect_message(timeout)
            if m.topic.startswith("presence/"):
                got.append((m.topic.split("/", 1)[1], json.loads(m.payload)))
        return got + self.sync()

    def users(self, n=0):
        return [u for u, _ in (self.take(n) if n else self.sync())]

    def states(self, n=0):
        """(user, state) of the records delivered: at least n (waited for), and whatever else
        was due."""
        return [(u, r["state"]) for u, r in (self.take(n) if n else self.sync())]


def settle(a, user, state="offline"):
    """Waits until the broker's presence of `user` is `state` (its record has been published)."""
    helpers.wait_until(lambda: a.ok({"command": "getPresence", "user": user})["state"] == state,
                       timeout=10, what=f"{user} {state}")


def refused(version):
    return 0x87 if version == V5 else 0x80


# ---------------------------------------------------------------- visibility "contacts"

@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_watcher_sees_contacts_and_small_group_co_members_only(make_broker, version):
    b, a = start(make_broker)
    others = {u: device(b, u) for u in ("bob", "cat", "dan", "eve")}
    w = Watcher(b, version=version)
    assert w.codes == [1]
    # Retained: itself, its contact, its small group's co-member; not dan, eve (only in "big",
    # 4 members > group_limit 3) nor the admin.
    assert sorted(w.users()) == ["ann", "bob", "cat"]
    # Live: the invisible ones' changes are not delivered, the visible ones' are.
    for u in ("dan", "eve"):
        others[u].disconnect()
        settle(a, u)
    assert w.sync() == []
    others["bob"].disconnect()
    others["cat"].disconnect()
    assert sorted(w.states(2)) == [("bob", "offline"), ("cat", "offline")]
    dan, eve, bob = device(b, "dan"), device(b, "eve"), device(b, "bob")
    assert w.states(1) == [("bob", "online")]
    dan.close(), eve.close(), bob.close()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_subscribing_to_a_non_contacts_presence_is_refused(make_broker, version):
    b, _ = start(make_broker)
    w = Watcher(b, version=version, filters=("presence/bob", "presence/cat", "presence/dan", "presence/eve",
                                             "presence/admin", "presence/ann", "presence/dan/#", "presence/+"))
    r = refused(version)
    assert w.codes == [1, 1, r, r, r, 1, r, 1]
    # Retained records: bob, cat, dan, eve never connected, so there are none; ann's own comes
    # once for each of the two filters that match it (one SUBSCRIBE each).
    assert w.users() == ["ann", "ann"]


def test_contact_and_group_changes_take_effect_at_once(make_broker):
    b, a = start(make_broker)
    w = Watcher(b)
    assert w.users() == ["ann"]  # its own retained record

    # A second device of ann with a concrete subscription, made while dan is a contact.
    a.ok({"command": "addContact", "user": "ann", "contact": "dan"})
    w2 = Watcher(b, filters=("presence/dan",))
    assert w2.codes == [1]
    dan = device(b, "dan")
    assert w.states(2) == [("ann", "online"), ("dan", "online")]  # ann's second device: devices 2
    assert w2.states(1) == [("dan", "online")]

    # removeContact: the next record of dan reaches neither subscription.
    a.ok({"command": "removeContact", "user": "dan", "contact": "ann"})
    dan.disconnect()
    settle(a, "dan")
    assert w.sync() == []
    assert w2.sync() == []

    # A group of at most group_limit members makes its members visible...
    a.ok({"command": "addGroupMember", "group": "team", "user": "dan"})  # team: ann, cat, dan
    dan = device(b, "dan")
    assert w.states(1) == [("dan", "online")]
    assert w2.states(1) == [("dan", "online")]
    # ...and no longer once it grows past the limit: cat was visible through "team" only.
    a.ok({"command": "addGroupMember", "group": "team", "user": "eve"})  # 4 members
    dan.disconnect()
    settle(a, "dan")
    cat = device(b, "cat")
    assert w.sync() == []
    a.ok({"command": "removeGroupMember", "group": "team", "user": "eve"})
    cat.disconnect()
    assert w.states(1) == [("cat", "offline")]
    # deleteGroup: gone for presence at once.
    a.ok({"command": "deleteGroup", "group": "team"})
    cat = device(b, "cat")
    assert w.sync() == []
    cat.close()


def test_deleted_user_loses_its_contacts(make_broker):
    b, a = start(make_broker)
    w = Watcher(b)
    bob = device(b, "bob")
    assert w.states(2) == [("ann", "online"), ("bob", "online")]
    a.ok({"command": "deleteUser", "user": "bob"})
    assert bob.wait_disconnect() == 0x98
    assert prop(bob.disconnect_properties, "ReasonString") == "user deleted"
    assert w.states(1) == [("bob", "offline")]
    # A new bob is not ann's contact: the old pair went with the old user.
    a.ok({"command": "createUser", "user": "bob", "password": pw("bob")})
    bob = device(b, "bob")
    assert w.sync() == []
    assert a.ok({"command": "listContacts", "user": "ann"})["contacts"] == []
    bob.close()


# ---------------------------------------------------------------- visibility "all"

def test_visibility_all_shows_everyone(make_broker):
    b, _ = start(make_broker, visibility="all")
    others = [device(b, u) for u in ("dan", "eve")]
    w = Watcher(b)
    assert sorted(w.users()) == ["admin", "ann", "dan", "eve"]
    others[0].disconnect()
    assert w.states(1) == [("dan", "offline")]
    # A concrete subscription to anyone's presence is granted.
    w2 = Watcher(b, filters=("presence/eve", "presence/dan/#"))
    assert w2.codes == [1, 1]
    assert sorted(w2.users()) == ["dan", "eve"]
    others[1].close()


def test_sighup_switches_visibility(make_broker):
    b, _ = start(make_broker)
    w = Watcher(b)
    assert w.users() == ["ann"]
    dan = device(b, "dan")
    assert w.sync() == []
    path = Path(b.config_path)
    path.write_text(path.read_text().replace('visibility = "contacts"', 'visibility = "all"'))
    mark = b.log_mark()
    b.send_signal(signal.SIGHUP)
    b.wait_log(r"configuration reloaded", since=mark)
    dan.disconnect()
    assert w.states(1) == [("dan", "offline")]


# ---------------------------------------------------------------- kick and ban

def test_kick_user_disconnects_every_device_and_goes_offline_at_once(make_broker):
    b, a = start(make_broker, grace="60s")  # an offline within seconds is no grace expiring
    w = Watcher(b)
    w.sync()
    phone = device(b, "bob", "bob-phone", V5)
    laptop = device(b, "bob", "bob-laptop", V311)
    assert w.states(2) == [("bob", "online"), ("bob", "online")]  # devices 1, then 2
    d = a.ok({"command": "kickUser", "user": "bob", "reason": "policy violation"})
    assert d == {"user": "bob", "devices": 2}
    assert phone.wait_disconnect() == 0x98
    assert prop(phone.disconnect_properties, "ReasonString") == "policy violation"
    assert laptop.wait_disconnect() is None  # 3.1.1: the connection is closed
    [(user, rec)] = w.take(1)
    assert user == "bob" and rec["state"] == "offline" and rec["devices"] == 0
    assert a.ok({"command": "getPresence", "user": "bob"})["state"] == "offline"
    assert a.ok({"command": "kickUser", "user": "bob"}) == {"user": "bob", "devices": 0}
    # Without a reason: a sentence of the broker's.
    again = device(b, "bob", "bob-phone", V5)
    assert a.ok({"command": "kickUser", "user": "bob"})["devices"] == 1
    assert again.wait_disconnect() == 0x98
    assert prop(again.disconnect_properties, "ReasonString") == "kicked by an administrator"
    assert w.states(2) == [("bob", "online"), ("bob", "offline")]


def test_herald_kick_online_whois(make_broker):
    b, a = start(make_broker, grace="60s")
    w = Watcher(b)
    w.sync()
    phone = device(b, "bob", "bob-phone", V5)
    laptop = device(b, "bob", "bob-laptop", V311)
    cat = device(b, "cat", "cat-1")
    p = herald(b, "online")
    assert p.returncode == 0, p.stderr
    # admin (its Admin client), ann, bob, cat; herald's own connection is the admin's too.
    assert p.stdout.split() == ["admin", "ann", "bob", "cat"]
    p = herald(b, "online", "--limit", "2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["admin", "ann", "(more: herald online --cursor ann)"]
    p = herald(b, "whois", "bob")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "bob: online (available)"
    assert sorted(l.split()[0] for l in lines[1:]) == ["bob-laptop", "bob-phone"]
    assert any(re.fullmatch(r"\s*bob-phone\s+tcp\s+MQTT 5\.0", l) for l in lines), lines
    assert any(re.fullmatch(r"\s*bob-laptop\s+tcp\s+MQTT 3\.1\.1", l) for l in lines), lines
    w.sync()
    p = herald(b, "kick", "bob", "--reason", "maintenance")
    assert p.returncode == 0, p.stderr
    assert "kicked 'bob' (2 devices)" in p.stdout
    assert phone.wait_disconnect() == 0x98
    assert prop(phone.disconnect_properties, "ReasonString") == "maintenance"
    assert laptop.wait_disconnect() is None
    assert w.states(1) == [("bob", "offline")]
    p = herald(b, "online")
    assert p.stdout.split() == ["admin", "ann", "cat"]
    p = herald(b, "whois", "bob")
    assert p.stdout.splitlines() == ["bob: offline (available)"]
    # Non-admins may not kick.
    p = herald(b, "kick", "cat", user="cat", password=pw("cat"))
    assert p.returncode != 0
    assert cat.is_connected()
    cat.close()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_ban_kicks_the_live_devices(make_broker, version):
    b, a = start(make_broker, grace="60s")
    w = Watcher(b)
    w.sync()
    bob = device(b, "bob", "bob-1", version)
    assert w.states(1) == [("bob", "online")]
    a.ok({"command": "banUser", "user": "bob", "seconds": 60, "reason": "spam"})
    if version == V5:
        assert bob.wait_disconnect() == 0x98
        assert prop(bob.disconnect_properties, "ReasonString") == "banned: spam"
    else:
        assert bob.wait_disconnect() is None
    assert w.states(1) == [("bob", "offline")]
    again = Client(b, version, client_id="bob-2", username="bob", password=pw("bob"))
    assert again.connect(expect_rc=None, timeout=30).rc == (0x8A if version == V5 else 0x05)
    assert w.sync() == []
