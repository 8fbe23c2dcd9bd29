# Identity at CONNECT (SPEC 2) end to end, against a real heraldd with its SQLite file: users
# created through the admin API log in with their password; JWT bearer tokens (HS256, RS256,
# ES256) with their claims; bans; the user-id rules; a mosquitto password file; and the checks
# running off the loop (a burst of slow password logins does not stall anyone else).
#
# Tokens are made here with hmac/hashlib (HS256) and the openssl command line (RS256/ES256
# keys and signatures), so no private key sits in the tree. Run with /usr/bin/python3 -m pytest.
import base64
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import time

import pytest

import helpers
from helpers import (BROKER_KIND, CONNACK, PUBLISH, SUBACK, V5, VERSION_PARAMS, Client, RawClient,
                     connect_packet, parse_publish, publish_packet, subscribe_packet)
from test_admin import ADMIN_PW, Admin

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="heraldd's identity (users table, JWT, bans) has no mosquitto twin")

SECRET = "an-hs256-secret-of-at-least-32-bytes!"
ADMIN_ENV = {"HERALD_ADMIN_PASSWORD": ADMIN_PW}


def bad_rc(version):
    return 0x86 if version == V5 else 4


def banned_rc(version):
    return 0x8A if version == V5 else 5


def login(broker, version, user, password, client_id=None):
    """CONNACK code of a login (the connection is closed after)."""
    c = Client(broker, version, client_id=client_id or f"{user}-{version}-{time.monotonic_ns()}",
               username=user, password=password)
    rc = c.connect(expect_rc=None).rc
    c.close()
    return rc


# ---------------------------------------------------------------- tokens

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(sub, exp_in=300, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now}
    if exp_in is not None:
        c["exp"] = now + exp_in
    c.update(extra)
    return c


def signing_input(alg, payload):
    return b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + \
        b64url(json.dumps(payload).encode())


def hs256(payload, secret=SECRET):
    si = signing_input("HS256", payload)
    sig = hmac.new(secret.encode(), si.encode(), hashlib.sha256).digest()
    return si + "." + b64url(sig)


def alg_none(payload):
    return signing_input("none", payload) + "."


def der_to_raw(der: bytes, size=32) -> bytes:
    """An ECDSA signature from `openssl dgst` (DER SEQUENCE of two INTEGERs) as JWS wants it: r||s."""
    assert der[0] == 0x30
    pos = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[pos] == 0x02
        n = der[pos + 1]
        out += der[pos + 2:pos + 2 + n].lstrip(b"\0").rjust(size, b"\0")
        pos += 2 + n
    return out


class KeyPair:
    """A private key made by the openssl command line, its public key file, and JWS signing."""

    def __init__(self, tmp_path, kind):
        self.kind = kind
        self.key = tmp_path / f"{kind}.key"
        self.pub = tmp_path / f"{kind}.pub.pem"
        if kind == "RS256":
            gen = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        else:
            gen = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(gen + ["-out", str(self.key)], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(self.key), "-pubout", "-out", str(self.pub)],
                       check=True, capture_output=True)

    def sign(self, payload):
        si = signing_input(self.kind, payload)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=si.encode(),
                           check=True, capture_output=True)
        sig = r.stdout if self.kind == "RS256" else der_to_raw(r.stdout)
        return si + "." + b64url(sig)


# ---------------------------------------------------------------- passwords

@pytest.fixture
def closed_broker(make_broker):
    """allow_anonymous = false: only users who prove who they are get in."""
    return make_broker("allow_anonymous = false\n", env=ADMIN_ENV)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_created_user_logs_in_wrong_password_refused(closed_broker, version):
    a = Admin(closed_broker)
    a.ok({"command": "createUser", "user": "ann", "password": "ann-pw"})
    assert login(closed_broker, version, "ann", "ann-pw") == 0
    assert login(closed_broker, version, "ann", "ann-pw!") == bad_rc(version)
    assert login(closed_broker, version, "ann", "") == bad_rc(version)
    assert login(closed_broker, version, "nobody", "ann-pw") == bad_rc(version)
    # A known user without a password field at all.
    r = RawClient(closed_broker)
    r.connect(expect_rc=bad_rc(version), version=version, client_id="nopw", username="ann")
    assert r.expect_closed()
    # Anonymous: 0x87 / 5, as before.
    r = RawClient(closed_broker)
    r.connect(expect_rc=0x87 if version == V5 else 5, version=version, client_id="anon")
    assert r.expect_closed()
    assert "wrong" not in closed_broker.log()  # the refusals log reasons, never passwords
    assert "ann-pw!" not in closed_broker.log()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_banned_user_refused_then_unbanned(closed_broker, version):
    a = Admin(closed_broker)
    a.ok({"command": "createUser", "user": "bob", "password": "bob-pw"})
    a.ok({"command": "banUser", "user": "bob", "seconds": 600, "reason": "spam"})
    assert login(closed_broker, version, "bob", "bob-pw") == banned_rc(version)
    closed_broker.wait_log(r"refused: banned for \d+ more seconds \(spam\)")
    a.ok({"command": "unbanUser", "user": "bob"})
    assert login(closed_broker, version, "bob", "bob-pw") == 0


@pytest.mark.parametrize("version", VERSION_PARAMS)
@pytest.mark.parametrize("user", ["a/b", "$x", "x" * 65, "a+b", "a#b", ""],
                         ids=["slash", "dollar", "too-long", "plus", "hash", "empty"])
def test_bad_user_ids_refused(make_broker, version, user):
    """SPEC 2: user ids become topic levels; anything unsafe is refused at CONNECT (0x86 /
    0x04), with the reason in the log, even where anonymous clients are allowed."""
    b = make_broker("allow_anonymous = true\n")
    r = RawClient(b)
    r.connect(expect_rc=bad_rc(version), version=version, client_id="badid", username=user,
              password="x")
    assert r.expect_closed()
    b.wait_log(r"Client badid .* refused: bad user id: ")
    assert login(b, version, "fine-user", "x") == 0  # unknown users let in: allow_anonymous


def test_max_user_id_bytes_configurable(make_broker):
    b = make_broker("allow_anonymous = true\n[auth]\nmax_user_id_bytes = 4\n")
    assert login(b, V5, "abcd", "x") == 0
    assert login(b, V5, "abcde", "x") == 0x86


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_mosquitto_password_file(make_broker, tmp_path, version):
    """A password file made by mosquitto_passwd ($7$ PBKDF2-SHA512): its users log in beside the
    database's; an unlisted user is refused even with allow_anonymous = true (mosquitto does so
    too once it has a password file)."""
    path = tmp_path / "mosq-passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "mia", "mia-pw"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(path), "max", "max-pw"], check=True)
    assert path.read_text().startswith("mia:$7$")
    b = make_broker(f'allow_anonymous = true\npassword_file = "{path}"\n', env=ADMIN_ENV)
    assert login(b, version, "mia", "mia-pw") == 0
    assert login(b, version, "max", "max-pw") == 0
    assert login(b, version, "mia", "max-pw") == bad_rc(version)
    assert login(b, version, "stranger", "x") == bad_rc(version)
    # Users of the database still log in, and the table wins over the file for the same name.
    a = Admin(b)
    a.ok({"command": "createUser", "user": "mia", "password": "db-pw"})
    assert login(b, version, "mia", "db-pw") == 0
    assert login(b, version, "mia", "mia-pw") == bad_rc(version)
    # Anonymous clients are still let in.
    c = Client(b, version)
    assert c.connect().rc == 0


# ---------------------------------------------------------------- tokens

@pytest.fixture
def jwt_broker(make_broker):
    return make_broker(f'allow_anonymous = false\n[auth]\njwt_hs256_secret = "{SECRET}"\n'
                       'jwt_leeway = 0\n', env=ADMIN_ENV)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_jwt_hs256(jwt_broker, version):
    b = jwt_broker
    bad = bad_rc(version)
    assert login(b, version, "tia", hs256(claims("tia"))) == 0
    assert login(b, version, "tia", hs256(claims("someone-else"))) == bad
    assert login(b, version, "tia", hs256(claims("tia", exp_in=-60))) == bad
    assert login(b, version, "tia", hs256(claims("tia", nbf=int(time.time()) + 600))) == bad
    assert login(b, version, "tia", hs256(claims("tia"), secret="another-secret-of-32-bytes-or-more")) == bad
    assert login(b, version, "tia", alg_none(claims("tia"))) == bad
    assert login(b, version, "tia", hs256(claims("tia", exp_in=None))) == bad  # jwt_require_exp
    good = hs256(claims("tia"))
    tampered = good.split(".")
    tampered[1] = b64url(json.dumps(claims("tia", exp_in=99999)).encode())
    assert login(b, version, "tia", ".".join(tampered)) == bad
    for why in ("expired", "not valid yet", "sub", "signature", "none|alg"):
        b.wait_log(rf"refused: token refused: .*({why})")


def test_jwt_user_with_admin_role_is_admin(jwt_broker):
    """A token proves who the user is; the role comes from the users table."""
    a = Admin(jwt_broker)
    a.ok({"command": "createUser", "user": "boss", "password": "boss-pw", "role": "admin"})
    boss = Admin(jwt_broker, username="boss", password=hs256(claims("boss")))
    assert boss.ok({"command": "getStats"})["admins"] == 2
    plain = Client(jwt_broker, V5, username="pat", password=hs256(claims("pat")))
    plain.connect()
    assert plain.subscribe("$CONTROL/herald/v1/response", qos=1) == [0x87]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command line not installed")
@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_jwt_public_keys(make_broker, tmp_path, kind):
    key = KeyPair(tmp_path, kind)
    (tmp_path / "other").mkdir()
    other = KeyPair(tmp_path / "other", kind)  # a key the broker does not know
    setting = "jwt_rs256_public_key_file" if kind == "RS256" else "jwt_es256_public_key_file"
    b = make_broker(f'allow_anonymous = false\n[auth]\n{setting} = "{key.pub}"\n'
                    'jwt_issuer = "chat-app"\n')
    for version in (V5, helpers.V311):
        bad = bad_rc(version)
        assert login(b, version, "kim", key.sign(claims("kim", iss="chat-app"))) == 0
        assert login(b, version, "kim", key.sign(claims("kim", iss="elsewhere"))) == bad
        assert login(b, version, "kim", key.sign(claims("lee", iss="chat-app"))) == bad
        assert login(b, version, "kim", other.sign(claims("kim", iss="chat-app"))) == bad
        # An HS256 token "signed" with the public key as secret (the confusion attack).
        assert login(b, version, "kim", hs256(claims("kim", iss="chat-app"),
                                              secret=key.pub.read_text())) == bad
        assert login(b, version, "kim", alg_none(claims("kim", iss="chat-app"))) == bad


def test_test_config_checks_auth_keys(tmp_path):
    from conftest import HERALDD
    cfg = tmp_path / "h.toml"
    cfg.write_text('[auth]\njwt_rs256_public_key_file = "missing.pem"\n')
    r = subprocess.run([HERALDD, "--test-config", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1 and "missing.pem" in r.stderr, r
    cfg.write_text('[auth]\njwt_hs256_secret = "short"\n')
    r = subprocess.run([HERALDD, "--test-config", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1 and "h.toml:2" in r.stderr and "32" in r.stderr, r
    cfg.write_text('[auth]\njwt_algorithm = "HS256"\n')
    r = subprocess.run([HERALDD, "--test-config", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1 and "unknown key 'auth.jwt_algorithm'" in r.stderr, r
    cfg.write_text(f'[auth]\njwt_hs256_secret = "{SECRET}"\njwt_leeway = 5\nmax_pending_checks = 8\n')
    r = subprocess.run([HERALDD, "--test-config", "-c", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r


# ---------------------------------------------------------------- off the loop

def raw_connect(broker, version, client_id, user, password):
    s = socket.create_connection((broker.host, broker.port), timeout=5)
    s.sendall(connect_packet(client_id=client_id, version=version, username=user, password=password))
    s.setblocking(False)
    return s


def connack_of(sock, timeout):
    """The CONNACK return code read from sock, or None if the broker closed it without one."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < 4:
        chunk = sock.recv(64)
        if not chunk:
            return None
        data += chunk
    assert data[0] >> 4 == CONNACK
    return data[3]


def has_connack_now(sock):
    try:
        sock.setblocking(False)
        return len(sock.recv(4, socket.MSG_PEEK)) > 0
    except BlockingIOError:
        return False


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_slow_hashes_do_not_stall_others(make_broker, version):
    """Twenty password logins (PBKDF2, ~0.1 s of CPU each) in flight at once: a client already
    connected keeps getting its messages while they are checked. Were the hashes checked on
    the loop, every CONNACK would be sent before the later PUBLISH is even read."""
    # connect_timeout bounds the wait for a verdict too: room for 20 hashes on a slow (ASan) build.
    b = make_broker('allow_anonymous = true\nconnect_timeout = "90s"\n',
                    env={**ADMIN_ENV, **helpers.FULL_HASH_COST})
    a = Admin(b)
    a.ok({"command": "createUser", "user": "slow", "password": "slow-pw"})
    sub = Client(b, version, client_id="watcher")
    sub.connect()
    sub.subscribe("live/#", qos=1)
    pub = Client(b, version, client_id="talker")
    pub.connect()

    socks = [raw_connect(b, version, f"slow-{i}", "slow", "slow-pw") for i in range(20)]
    quitter = raw_connect(b, version, "quitter", "slow", "slow-pw")
    quitter.close()  # gone before its verdict: the verdict must find nobody, harmlessly
    pub.publish("live/ping", "ping", qos=1)
    m = sub.expect_message(timeout=5)
    assert m.topic == "live/ping"
    waiting = [s for s in socks if not has_connack_now(s)]
    assert waiting, "all 20 logins were answered before one PUBLISH was routed"
    # An anonymous newcomer is not queued behind them either.
    anon = Client(b, version)
    assert anon.connect(timeout=5).rc == 0
    assert [connack_of(s, 90) for s in socks] == [0] * 20
    for s in socks:
        s.close()
    assert b.alive()


def test_too_many_checks_in_flight_server_busy(make_broker):
    b = make_broker('allow_anonymous = false\nconnect_timeout = "90s"\n[auth]\nmax_pending_checks = 2\n',
                    env={**ADMIN_ENV, **helpers.FULL_HASH_COST})  # checks in flight long enough to pile up
    Admin(b).ok({"command": "createUser", "user": "busy", "password": "busy-pw"})
    socks = [raw_connect(b, V5, f"busy-{i}", "busy", "busy-pw") for i in range(12)]
    codes = [connack_of(s, 90) for s in socks]
    assert 0x89 in codes and 0 in codes, codes
    assert set(codes) <= {0, 0x89}, codes
    for s in socks:
        s.close()


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_packets_pipelined_after_connect_wait_for_the_verdict(closed_broker, version):
    """A client may send SUBSCRIBE and PUBLISH right behind its CONNECT: they are held while the
    password is checked, then processed in order after the CONNACK."""
    Admin(closed_broker).ok({"command": "createUser", "user": "pip", "password": "pip-pw"})
    r = RawClient(closed_broker)
    r.send(connect_packet(client_id="pip", version=version, username="pip", password="pip-pw") +
           subscribe_packet([("pipe/#", 1)], packet_id=1, version=version) +
           publish_packet("pipe/a", b"first", qos=1, packet_id=2, version=version) +
           publish_packet("pipe/b", b"second", qos=0, version=version))
    _, body = r.expect_packet(CONNACK, timeout=10)
    assert body[1] == 0
    r.expect_packet(SUBACK)
    got = []
    while len(got) < 2:
        t, flags, body = r.recv_packet(5)
        if t == PUBLISH:
            got.append(parse_publish(flags, body, version)["payload"])
    assert got == [b"first", b"second"]


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_pipelined_packets_dropped_when_refused(closed_broker, version):
    Admin(closed_broker).ok({"command": "createUser", "user": "pip", "password": "pip-pw"})
    watcher = Admin(closed_broker)  # an admin session, subscribed below to see nothing leak
    watcher.c.subscribe("pipe/#", qos=1)
    r = RawClient(closed_broker)
    r.send(connect_packet(client_id="pip", version=version, username="pip", password="nope") +
           publish_packet("pipe/x", b"leak", qos=0, version=version))
    _, body = r.expect_packet(CONNACK, timeout=10)
    assert body[1] == bad_rc(version)
    assert r.expect_closed()
    watcher.c.expect_no_message(timeout=0.5)
