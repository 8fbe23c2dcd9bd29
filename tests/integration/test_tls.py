# MQTT over TLS (type "tls" listeners) and the PROXY protocol, against a real heraldd: the
# certificates are made by the openssl command line in a temporary directory; the clients are
# mosquitto_pub/sub, paho, openssl s_client and Python's ssl module.
# Run with /usr/bin/python3 -m pytest.
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
from collections import namedtuple
from types import SimpleNamespace

import pytest

import helpers
from conftest import HERALDD
from test_herald_cli import HERALD
from helpers import BROKER_KIND, V5, V311, VERSION_PARAMS, Client, MosquittoSub, RawClient
from test_admin import ADMIN_PW, Admin
from test_identity import banned_rc

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="the tls listeners are configured in heraldd's TOML")

ADMIN_ENV = {"HERALD_ADMIN_PASSWORD": ADMIN_PW}

# Where a client connects: helpers' clients take any object with host and port.
Target = namedtuple("Target", "host port")


# ---------------------------------------------------------------- certificates

def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)} failed:\n{r.stderr}"


def _ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.crt", "-days", "30", "-subj", f"/CN={cn}", cwd=d)


def _signed(d, name, cn, ca, server=False, san="DNS:localhost,IP:127.0.0.1"):
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={cn}", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if server else
                   "extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "30", "-extfile", ext.name, cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA with a server certificate (CN localhost) and a renewed one (CN herald-renewed),
    client certificates alice and $badname from it, and mallory's from another CA."""
    d = tmp_path_factory.mktemp("pki")
    _ca(d, "ca", "Herald Test CA")
    _ca(d, "other", "Some Other CA")
    _signed(d, "server", "localhost", "ca", server=True)
    _signed(d, "renewed", "herald-renewed", "ca", server=True)
    _signed(d, "elsewhere", "other.example", "ca", server=True, san="DNS:other.example")
    _signed(d, "alice", "alice", "ca")
    _signed(d, "badname", "$badname", "ca")
    _signed(d, "mallory", "mallory", "other")
    return SimpleNamespace(dir=d, **{n: str(d / f"{n}.crt") for n in
                                     ("ca", "server", "renewed", "elsewhere", "alice", "badname", "mallory")},
                           key=lambda n: str(d / f"{n}.key"))


def tls_listener(pki, cert=None, key=None, **extra):
    lines = ['[[listeners]]', 'type = "tls"', 'port = 0',
             f'cert_file = "{cert or pki.server}"', f'key_file = "{key or pki.key("server")}"']
    for k, v in extra.items():
        lines.append(f"{k} = " + ("true" if v is True else "false" if v is False else f'"{v}"'))
    return "\n".join(lines) + "\n"


def start(make_broker, pki, top="", listener_extra="", env=None, **tls):
    """A broker with a tls listener (first) and the fixture's plain tcp one (broker.port).
    Returns (broker, Target of the tls listener)."""
    b = make_broker(top + tls_listener(pki, **tls) + listener_extra, env=env)
    ports = [p for kind, p in b.listening if kind == "tls"]
    assert ports, f"no tls listener in {b.listening}"
    return b, Target("127.0.0.1", ports[0])


def paho_tls(target, pki, version=V5, cert=None, **kw):
    c = Client(target, version, **kw)
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert:
        ctx.load_cert_chain(getattr(pki, cert), pki.key(cert))
    c._c.tls_set_context(ctx)
    return c


def tls_socket(target, pki, cert=None, timeout=5):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert:
        ctx.load_cert_chain(getattr(pki, cert), pki.key(cert))
    raw = socket.create_connection((target.host, target.port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def s_client(target, *args, timeout=10):
    return subprocess.run(["openssl", "s_client", "-connect", f"{target.host}:{target.port}",
                           "-servername", "localhost", *args],
                          input="", capture_output=True, text=True, timeout=timeout)


def still_serves(target, pki):
    """A TLS client connects, subscribes and gets its own message back."""
    c = paho_tls(target, pki, client_id=f"check-{time.monotonic_ns()}")
    c.connect()
    assert c.subscribe("check/t") == [0]
    c.publish("check/t", b"ok")
    assert c.expect_message().payload == b"ok"
    c.close()


# ---------------------------------------------------------------- clients over TLS

@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_clients_with_cafile(make_broker, pki, version):
    b, target = start(make_broker, pki)
    sub = MosquittoSub(target, ["--cafile", pki.ca, "-V", version, "-t", "tls/t"], 1, 10)
    sub.wait_subscribed()
    r = helpers.mosquitto_pub(target, ["--cafile", pki.ca, "-V", version, "-t", "tls/t", "-m", "over tls"])
    assert r.returncode == 0, r.stderr
    assert sub.result() == ["over tls"]
    b.wait_log(r"New client connected from 127\.0\.0\.1:\d+ as .*\(p[25]")
    # Without the CA, mosquitto_pub cannot verify the server: the broker is not trusted blindly.
    r = helpers.mosquitto_pub(target, ["--cafile", pki.mallory, "-t", "tls/t", "-m", "x"])
    assert r.returncode != 0


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_paho_over_tls_and_tcp_share_the_broker(make_broker, pki, version):
    b, target = start(make_broker, pki)
    over_tls = paho_tls(target, pki, version, client_id="tls-sub")
    over_tls.connect()
    assert over_tls.subscribe("mixed/#", qos=1) == [1]
    plain = Client(b, version, client_id="tcp-pub")
    plain.connect()
    big = bytes(range(256)) * 1024  # 256 KiB: many TLS records, several socket writes
    plain.publish("mixed/big", big, qos=1)
    plain.publish("mixed/small", b"hi", qos=1)
    assert [m.payload for m in over_tls.expect_messages(2)] == [big, b"hi"]
    over_tls.publish("mixed/back", b"from tls", qos=1)
    assert over_tls.expect_message().payload == b"from tls"


# ---------------------------------------------------------------- client certificates

def test_client_certificate_required(make_broker, pki):
    b, target = start(make_broker, pki, ca_file=pki.ca, require_certificate=True)
    ok = paho_tls(target, pki, cert="alice", client_id="with-cert")
    ok.connect()

    mark = b.log_mark()
    r = helpers.mosquitto_pub(target, ["--cafile", pki.ca, "-t", "t", "-m", "x"])
    assert r.returncode != 0
    b.wait_log(r"TLS handshake failed: peer did not return a certificate, closing", since=mark)

    mark = b.log_mark()
    r = helpers.mosquitto_pub(target, ["--cafile", pki.ca, "--cert", pki.mallory, "--key",
                                       pki.key("mallory"), "-t", "t", "-m", "x"])
    assert r.returncode != 0
    b.wait_log(r"TLS handshake failed: certificate verify failed.*unable to get local issuer",
               since=mark)

    r = helpers.mosquitto_pub(target, ["--cafile", pki.ca, "--cert", pki.alice, "--key",
                                       pki.key("alice"), "-t", "t", "-m", "x"])
    assert r.returncode == 0, r.stderr
    assert ok.is_connected()
    still_serves_with_cert = paho_tls(target, pki, cert="alice", client_id="again")
    still_serves_with_cert.connect()


def test_optional_client_certificate(make_broker, pki):
    """ca_file without require_certificate: asked for, checked when given, not required."""
    b, target = start(make_broker, pki, ca_file=pki.ca)
    still_serves(target, pki)
    with_cert = paho_tls(target, pki, cert="alice", client_id="opt-cert")
    with_cert.connect()
    mark = b.log_mark()
    r = helpers.mosquitto_pub(target, ["--cafile", pki.ca, "--cert", pki.mallory, "--key",
                                       pki.key("mallory"), "-t", "t", "-m", "x"])
    assert r.returncode != 0
    b.wait_log(r"TLS handshake failed: certificate verify failed", since=mark)


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_use_identity_as_username(make_broker, pki, version):
    """The CN is the username: no password (allow_anonymous = false, alice is in no table),
    whatever the CONNECT claims; a CN that breaks the user-id rules and a banned user are
    refused."""
    b, target = start(make_broker, pki, top="allow_anonymous = false\n", env=ADMIN_ENV,
                      ca_file=pki.ca, require_certificate=True, use_identity_as_username=True)
    c = paho_tls(target, pki, version, cert="alice", client_id="cert-alice",
                 username="mallory", password="not-checked")
    c.connect()
    b.wait_log(r"New client connected from 127\.0\.0\.1:\d+ as cert-alice .*u'alice'")
    c.close()

    mark = b.log_mark()
    bad = paho_tls(target, pki, version, cert="badname", client_id="cert-bad")
    assert bad.connect(expect_rc=None).rc == (0x86 if version == V5 else 4)
    b.wait_log(r"refused: bad user id", since=mark)

    admin = Admin(b)
    admin.ok({"command": "createUser", "user": "alice", "password": "alice-pw"})
    again = paho_tls(target, pki, version, cert="alice", client_id="cert-alice-1")
    again.connect()  # a user of the table now: still no password needed
    again.close()
    admin.ok({"command": "banUser", "user": "alice", "seconds": 600, "reason": "test"})
    banned = paho_tls(target, pki, version, cert="alice", client_id="cert-alice-2")
    assert banned.connect(expect_rc=None).rc == banned_rc(version)
    b.wait_log(r"refused: banned for \d+ more seconds \(test\)")


def test_identity_acl(make_broker, pki):
    """With an ACL file, the CN's rules apply (alice may use alice/#, not bob/#)."""
    acl = "user alice\ntopic readwrite alice/#\n"
    b = make_broker(tls_listener(pki, ca_file=pki.ca, require_certificate=True,
                                 use_identity_as_username=True), acl=acl)
    target = Target("127.0.0.1", [p for k, p in b.listening if k == "tls"][0])
    c = paho_tls(target, pki, V5, cert="alice", client_id="acl-alice")
    c.connect()
    assert c.subscribe("alice/inbox") == [0]
    assert c.subscribe("bob/inbox") == [0x87]


# ---------------------------------------------------------------- bad handshakes

def test_tls_1_1_refused(make_broker, pki):
    b, target = start(make_broker, pki)
    # SECLEVEL=0 so that the client really offers TLS 1.1 instead of refusing on its own side.
    r = s_client(target, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert r.returncode != 0
    b.wait_log(r"127\.0\.0\.1:\d+: TLS handshake failed: unsupported protocol, closing")
    r = s_client(target, "-tls1_2", "-CAfile", pki.ca)
    assert "Verify return code: 0 (ok)" in r.stdout
    still_serves(target, pki)


def test_tls_version_minimum_13(make_broker, pki):
    b, target = start(make_broker, pki, tls_version="tlsv1.3")
    r = s_client(target, "-tls1_2", "-CAfile", pki.ca)
    assert r.returncode != 0
    b.wait_log(r"TLS handshake failed: unsupported protocol")
    r = s_client(target, "-tls1_3", "-CAfile", pki.ca)
    assert "TLSv1.3" in r.stdout and "Verify return code: 0 (ok)" in r.stdout


def test_garbage_instead_of_a_handshake(make_broker, pki):
    b, target = start(make_broker, pki, top='connect_timeout = "500ms"\n')
    keep = paho_tls(target, pki, client_id="bystander")
    keep.connect()
    for junk in (b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",  # plain MQTT on the TLS port
                 b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 4):
        r = RawClient(target)
        r.send(junk)
        assert r.expect_closed(5)
        r.close()
    b.wait_log(r"TLS handshake failed: wrong version number, closing")
    b.wait_log(r"TLS handshake failed: http request, closing")
    # A client that never says anything is closed at connect_timeout.
    silent = RawClient(target)
    assert silent.expect_closed(5)
    b.wait_log(r"TLS handshake not finished, closing")
    assert keep.is_connected()
    still_serves(target, pki)


# ---------------------------------------------------------------- reload

def test_sighup_reloads_the_certificate(make_broker, pki, tmp_path):
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(pki.server, cert)
    shutil.copy(pki.key("server"), key)
    b, target = start(make_broker, pki, cert=str(cert), key=str(key))
    assert "subject=CN = localhost" in s_client(target, "-CAfile", pki.ca).stdout
    old = paho_tls(target, pki, client_id="before-reload")
    old.connect()
    assert old.subscribe("reload/t") == [0]

    shutil.copy(pki.renewed, cert)
    shutil.copy(pki.key("renewed"), key)
    mark = b.log_mark()
    b.send_signal(signal.SIGHUP)
    b.wait_log(r"tls 127\.0\.0\.1:\d+: certificate reloaded: subject CN = herald-renewed", since=mark)
    out = s_client(target, "-CAfile", pki.ca).stdout
    assert "subject=CN = herald-renewed" in out and "Verify return code: 0 (ok)" in out
    # The connection made before keeps working.
    old.publish("reload/t", b"still here")
    assert old.expect_message().payload == b"still here"

    # A broken file: the reload fails, says why, and the running certificate stays.
    cert.write_text("not a certificate\n")
    mark = b.log_mark()
    b.send_signal(signal.SIGHUP)
    b.wait_log(r"certificate reload failed, the old certificate is kept: cert_file .*live\.crt "
               r"holds no PEM certificate", since=mark)
    assert "subject=CN = herald-renewed" in s_client(target, "-CAfile", pki.ca).stdout
    # A key of another certificate: refused too.
    shutil.copy(pki.server, cert)
    mark = b.log_mark()
    b.send_signal(signal.SIGHUP)
    b.wait_log(r"certificate reload failed.*key_file .*live\.key is not the key of the certificate",
               since=mark)
    assert "subject=CN = herald-renewed" in s_client(target, "-CAfile", pki.ca).stdout
    still_serves(target, pki)


def test_config_errors_name_the_file(make_broker, pki, tmp_path):
    cfg = tmp_path / "bad.toml"
    cases = [(tls_listener(pki, cert=str(tmp_path / "missing.crt")),
              r"cannot read cert_file .*missing\.crt: No such file"),
             (tls_listener(pki, key=pki.key("alice")), r"key_file .*alice\.key is not the key"),
             (tls_listener(pki, ca_file=str(tmp_path / "nope.pem")), r"cannot read ca_file .*nope\.pem"),
             (tls_listener(pki, cert=pki.key("server")), r"cert_file .*server\.key holds no PEM certificate")]
    for listener, expected in cases:
        cfg.write_text(f'data_dir = "{tmp_path}/d"\n' + listener)
        r = subprocess.run([HERALDD, "--test-config", "-c", str(cfg)], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 1 and re.search(expected, r.stderr), (expected, r.stderr)
        r = subprocess.run([HERALDD, "-c", str(cfg)], capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 1 and re.search(expected, r.stdout + r.stderr), (expected, r.stdout)


# ---------------------------------------------------------------- PROXY protocol

CONNECT_311 = helpers.connect_packet(client_id="proxied", version=V311)


def proxy_v1(src, sport, family="TCP4", dst="10.0.0.1", dport=1883):
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def proxy_v2(src, sport, family=socket.AF_INET, command=0x21):
    if family == socket.AF_INET:
        body = socket.inet_pton(family, src) + socket.inet_pton(family, "10.0.0.1")
        fam = 0x11
    else:
        body = socket.inet_pton(family, src) + socket.inet_pton(family, "2001:db8::1")
        fam = 0x21
    body += struct.pack("!HH", sport, 1883)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([command, fam]) + struct.pack("!H", len(body)) + body


def proxy_broker(make_broker, top=""):
    b = make_broker(top + '[[listeners]]\ntype = "tcp"\nport = 0\nproxy_protocol = true\n')
    return b, Target("127.0.0.1", b.listening[0][1])


@pytest.mark.parametrize("header,shown", [
    (proxy_v1("203.0.113.7", 5555), "203.0.113.7:5555"),
    (proxy_v1("2001:db8::7", 40000, "TCP6", "2001:db8::1"), r"\[2001:db8::7\]:40000"),
    (proxy_v2("198.51.100.9", 4444), "198.51.100.9:4444"),
    (proxy_v2("2001:db8::9", 4445, socket.AF_INET6), r"\[2001:db8::9\]:4445"),
])
def test_proxy_header_names_the_client(make_broker, header, shown):
    b, target = proxy_broker(make_broker)
    r = RawClient(target)
    # The header in two pieces, the second with the CONNECT right behind it.
    r.send(header[:7])
    time.sleep(0.05)
    r.send(header[7:] + CONNECT_311)
    _, body = r.expect_packet(helpers.CONNACK)
    assert body == b"\x00\x00"
    b.wait_log(rf"New client connected from {shown} as proxied ")


def test_proxy_v2_local_keeps_the_socket_address(make_broker):
    b, target = proxy_broker(make_broker)
    r = RawClient(target)
    r.send(b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00" + CONNECT_311)
    r.expect_packet(helpers.CONNACK)
    b.wait_log(r"New client connected from 127\.0\.0\.1:\d+ as proxied ")


def test_proxy_protocol_refuses_plain_and_bad_headers(make_broker):
    b, target = proxy_broker(make_broker, top='connect_timeout = "500ms"\n')
    plain = RawClient(target)
    plain.send(CONNECT_311)
    assert plain.expect_closed(5) and plain.packets_before_close == []
    b.wait_log(r"127\.0\.0\.1:\d+: bad PROXY protocol header \(not a PROXY protocol header\), closing")
    bad = RawClient(target)
    bad.send(b"PROXY TCP4 203.0.113.999 10.0.0.1 5555 1883\r\n" + CONNECT_311)
    assert bad.expect_closed(5)
    b.wait_log(r"bad PROXY protocol header \(v1 header has a bad TCP4 address\)")
    silent = RawClient(target)
    silent.send(b"PROXY TCP4 203.0.")
    assert silent.expect_closed(5)
    b.wait_log(r"no PROXY protocol header received, closing")
    # The fixture's listener has no proxy_protocol: a PROXY header there is bad MQTT.
    mark = b.log_mark()
    r = RawClient(b)
    r.send(proxy_v1("203.0.113.7", 5555) + CONNECT_311)
    assert r.expect_closed(5)
    assert "203.0.113.7" not in b.log()[mark:]
    ok = RawClient(b)
    ok.connect(version=V311, client_id="after")


def test_proxy_header_before_tls(make_broker, pki):
    b, target = start(make_broker, pki, proxy_protocol=True)
    raw = socket.create_connection((target.host, target.port), timeout=5)
    raw.sendall(proxy_v2("198.51.100.20", 6000))
    ctx = ssl.create_default_context(cafile=pki.ca)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(helpers.connect_packet(client_id="proxied-tls", version=V5))
    head = s.recv(2)
    assert head[0] >> 4 == helpers.CONNACK
    b.wait_log(r"New client connected from 198\.51\.100\.20:6000 as proxied-tls ")
    s.close()
    # No header at all: the ClientHello is refused as a header.
    mark = b.log_mark()
    with pytest.raises((ssl.SSLError, OSError)):
        tls_socket(target, pki).sendall(b"x")
    b.wait_log(r"bad PROXY protocol header \(not a PROXY protocol header\)", since=mark)


# ---------------------------------------------------------------- the herald tool over TLS

def herald_cli(*args, timeout=15):
    return subprocess.run([HERALD, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("version", ["311", "5"])
def test_herald_cli_over_tls(make_broker, pki, version):
    b, target = start(make_broker, pki, ca_file=pki.ca)
    where = ["-h", "127.0.0.1", "-p", str(target.port), "-V", version]
    sub = subprocess.Popen([HERALD, "sub", *where, "--cafile", pki.ca, "-t", "cli/t", "-C", "1",
                            "-W", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.wait_log(r"New client connected from .* as herald-sub-")
    r = herald_cli("pub", *where, "--cafile", pki.ca, "--cert", pki.alice, "--key", pki.key("alice"),
                   "-t", "cli/t", "-m", "herald over tls")
    assert r.returncode == 0, r.stderr
    out, _ = sub.communicate(timeout=15)
    assert out.splitlines() == ["herald over tls"]
    # A server certificate from another CA is refused by the client.
    r = herald_cli("pub", *where, "--cafile", pki.mallory, "-t", "cli/t", "-m", "x")
    assert r.returncode != 0 and "TLS handshake failed: certificate verify failed" in r.stderr


def test_herald_cli_host_check_and_insecure(make_broker, pki):
    """A certificate for other.example: refused for 127.0.0.1 unless --insecure."""
    b, target = start(make_broker, pki, cert=pki.elsewhere, key=pki.key("elsewhere"))
    where = ["-h", "127.0.0.1", "-p", str(target.port), "--cafile", pki.ca, "-t", "t", "-m", "x"]
    r = herald_cli("pub", *where)
    assert r.returncode != 0 and "IP address mismatch" in r.stderr, r.stderr
    r = herald_cli("pub", *where, "--insecure")
    assert r.returncode == 0, r.stderr
    r = herald_cli("pub", "-h", "127.0.0.1", "-p", str(target.port), "--cert", pki.alice, "-t", "t", "-m", "x")
    assert r.returncode != 0 and "need --cafile" in r.stderr
