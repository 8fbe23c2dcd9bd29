# heraldd keeps the users and bans a CONNECT is checked against in memory (broker/identity/
# logins.h), loaded at start and changed by the admin API: each change must count from the very
# next CONNECT, without a restart, and what the store holds must come back after one.
# Run with /usr/bin/python3 -m pytest.
import time

import pytest

from helpers import BROKER_KIND, V5, VERSION_PARAMS, RawClient
from test_admin import ADMIN_PW, Admin
from test_identity import bad_rc, banned_rc, login

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="heraldd's users and bans have no mosquitto twin")

ADMIN_ENV = {"HERALD_ADMIN_PASSWORD": ADMIN_PW}


def raw_rc(broker, version, user, password=None):
    """CONNACK code of a CONNECT with `user` (and `password`, None: no password field)."""
    r = RawClient(broker)
    try:
        _, rc, _ = r.connect(expect_rc=None, version=version, client_id=f"raw-{time.monotonic_ns()}",
                             username=user, password=password)
    finally:
        r.close()
    return rc


def no_password_rc(broker, version, user):
    return raw_rc(broker, version, user)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_set_password_counts_at_the_next_connect(make_broker, version):
    b = make_broker("allow_anonymous = false\n", env=ADMIN_ENV)
    a = Admin(b)
    a.ok({"command": "createUser", "user": "ann", "password": "old-pw"})
    assert login(b, version, "ann", "old-pw") == 0
    a.ok({"command": "setPassword", "user": "ann", "password": "new-pw"})
    assert login(b, version, "ann", "old-pw") == bad_rc(version)
    assert login(b, version, "ann", "new-pw") == 0


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_created_and_deleted_user_at_the_next_connect(make_broker, version):
    """allow_anonymous = true: an unknown name comes in without a password, a user of the
    table does not; createUser and deleteUser switch a name between the two at once."""
    b = make_broker("allow_anonymous = true\n", env=ADMIN_ENV)
    a = Admin(b)
    assert no_password_rc(b, version, "fay") == 0  # unknown: let in like an anonymous client
    a.ok({"command": "createUser", "user": "fay", "password": "fay-pw"})
    assert no_password_rc(b, version, "fay") == bad_rc(version)  # now a user: its password is needed
    assert login(b, version, "fay", "fay-pw") == 0
    a.ok({"command": "deleteUser", "user": "fay"})
    assert no_password_rc(b, version, "fay") == 0  # unknown again
    # A closed broker refuses the deleted user outright.
    c = make_broker("allow_anonymous = false\n", env=ADMIN_ENV)
    a2 = Admin(c)
    a2.ok({"command": "createUser", "user": "gus", "password": "gus-pw"})
    assert login(c, version, "gus", "gus-pw") == 0
    a2.ok({"command": "deleteUser", "user": "gus"})
    assert login(c, version, "gus", "gus-pw") == bad_rc(version)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_ban_and_unban_at_the_next_connect_without_a_password_check(make_broker, version):
    """A ban refuses before anything else, also where no password would be checked."""
    b = make_broker("allow_anonymous = true\n", env=ADMIN_ENV)
    a = Admin(b)
    a.ok({"command": "createUser", "user": "hal", "password": "hal-pw"})
    a.ok({"command": "banUser", "user": "hal", "seconds": 600})
    assert no_password_rc(b, version, "hal") == banned_rc(version)
    assert login(b, version, "hal", "hal-pw") == banned_rc(version)
    a.ok({"command": "unbanUser", "user": "hal"})
    assert no_password_rc(b, version, "hal") == bad_rc(version)
    assert login(b, version, "hal", "hal-pw") == 0
    # Banned again, then deleted: the ban goes with the user.
    a.ok({"command": "banUser", "user": "hal", "seconds": 600})
    a.ok({"command": "deleteUser", "user": "hal"})
    assert no_password_rc(b, version, "hal") == 0


def test_ban_ends_by_itself(make_broker):
    b = make_broker("allow_anonymous = false\n", env=ADMIN_ENV)
    a = Admin(b)
    a.ok({"command": "createUser", "user": "ivy", "password": "ivy-pw"})
    a.ok({"command": "banUser", "user": "ivy", "seconds": 1})
    assert raw_rc(b, V5, "ivy", "ivy-pw") == 0x8A
    deadline = time.monotonic() + 5
    rc = 0x8A
    while rc == 0x8A and time.monotonic() < deadline:
        time.sleep(0.05)  # a poll interval: each try is a connection
        rc = raw_rc(b, V5, "ivy", "ivy-pw")
    assert rc == 0, "the ban did not end by itself"


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_users_and_bans_come_back_after_a_restart(make_broker, tmp_path, version):
    cfg = f'allow_anonymous = false\ndata_dir = "{tmp_path / "shared-data"}"\n'
    b1 = make_broker(cfg, env=ADMIN_ENV)
    a = Admin(b1)
    a.ok({"command": "createUser", "user": "jo", "password": "jo-pw"})
    a.ok({"command": "setPassword", "user": "jo", "password": "jo-pw2"})
    a.ok({"command": "createUser", "user": "kim", "password": "kim-pw", "role": "admin"})
    a.ok({"command": "banUser", "user": "kim", "seconds": 600, "reason": "spam"})
    b1.stop()
    b2 = make_broker(cfg, env=ADMIN_ENV)
    assert login(b2, version, "jo", "jo-pw") == bad_rc(version)
    assert login(b2, version, "jo", "jo-pw2") == 0
    assert login(b2, version, "kim", "kim-pw") == banned_rc(version)
    Admin(b2).ok({"command": "unbanUser", "user": "kim"})
    # kim's admin role came back too: it may use the admin API.
    assert Admin(b2, username="kim", password="kim-pw").ok({"command": "listUsers"})["users"]
