# MQTT over WebSocket (ws and wss) and HTTP on the WebSocket listener, end to end: MQTT.js in
# Node beside paho on TCP against one heraldd, a hand-written WebSocket client for framing,
# HTTP with urllib / raw sockets, and bad input that must be refused with a log line while
# other clients keep working.
import http.client
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from helpers import BROKER_KIND, V5, Client, connect_packet, publish_packet, subscribe_packet
from wsutil import NodeClient, RawWebSocket, make_certificates, ws_listener

pytestmark = [
    pytest.mark.skipif(BROKER_KIND == "mosquitto", reason="heraldd's WebSocket listener"),
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
]

VERSIONS = [4, 5]


@pytest.fixture(autouse=True)
def _close_node_clients():
    yield
    NodeClient.close_all()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def ws_ports(b, kind="ws"):
    return [port for k, port in b.listening if k == kind]


def ws_port(b, kind="ws"):
    return ws_ports(b, kind)[0]


def ws_url(b, kind="ws"):
    return f"{kind}://127.0.0.1:{ws_port(b, kind)}/mqtt"


def wss_keys(certs, **more):
    return dict(cert_file=certs["server.crt"], key_file=certs["server.key"], **more)


def node(b, kind="ws", version=5, certs=None, **options):
    if kind == "wss":
        options.setdefault("caFile", certs["ca.crt"])
    c = NodeClient(ws_url(b, kind), protocolVersion=version, **options)
    c.connected()
    return c


def tcp_client(b, client_id="tcp", **kw):
    c = Client(b, V5, client_id=client_id, **kw)
    c.connect()
    return c


def check_pubsub_both_ways(b, kind, version, certs=None):
    tcp = tcp_client(b)
    tcp.subscribe("chat/from-web", qos=1)
    web = node(b, kind, version, certs, clientId=f"web-{version}")
    assert web.subscribe("chat/to-web", qos=1) == [1]
    web.publish("chat/from-web", "hello from the browser", qos=1)
    m = tcp.expect_message()
    assert (m.topic, m.payload) == ("chat/from-web", b"hello from the browser")
    tcp.publish("chat/to-web", "hello from TCP", qos=1)
    m = web.message()
    assert (m["topic"], m["payload"], m["qos"]) == ("chat/to-web", "hello from TCP", 1)
    web.send(op="end")
    web.wait("ended")


# ---------------------------------------------------------------- MQTT.js over ws and wss

@pytest.mark.parametrize("version", VERSIONS)
def test_mqttjs_over_ws_talks_to_tcp_clients(make_broker, version):
    b = make_broker(ws_listener("ws"))
    b.wait_log(r"listening on ws 127\.0\.0\.1:\d+")
    check_pubsub_both_ways(b, "ws", version)
    b.wait_log(r"New client connected from 127\.0\.0\.1:\d+ as web-")


@pytest.mark.parametrize("version", VERSIONS)
def test_mqttjs_over_wss_talks_to_tcp_clients(make_broker, certs, version):
    b = make_broker(ws_listener("wss", **wss_keys(certs)))
    check_pubsub_both_ways(b, "wss", version, certs)


def test_wss_is_really_tls(make_broker, certs):
    b = make_broker(ws_listener("wss", **wss_keys(certs)))
    ctx = ssl.create_default_context(cafile=certs["ca.crt"])
    with socket.create_connection(("127.0.0.1", ws_port(b, "wss")), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # tls_version = "tlsv1.3": a client that stops at TLS 1.2 is refused.
    b13 = make_broker(ws_listener("wss", **wss_keys(certs, tls_version="tlsv1.3")))
    for top, ok in ((ssl.TLSVersion.TLSv1_2, False), (ssl.TLSVersion.TLSv1_3, True)):
        ctx = ssl.create_default_context(cafile=certs["ca.crt"])
        ctx.maximum_version = top
        with socket.create_connection(("127.0.0.1", ws_port(b13, "wss")), timeout=5) as raw:
            if ok:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert tls.version() == "TLSv1.3"
            else:
                with pytest.raises(ssl.SSLError):
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1")


@pytest.mark.parametrize("version", VERSIONS)
def test_will_on_abrupt_close_of_a_websocket(make_broker, version):
    b = make_broker(ws_listener("ws"))
    tcp = tcp_client(b)
    tcp.subscribe("wills/web", qos=1)
    web = node(b, "ws", version, clientId="dies", keepalive=60,
               will={"topic": "wills/web", "payload": "gone", "qos": 1, "retain": False})
    web.send(op="destroy")
    m = tcp.expect_message(timeout=10)
    assert (m.topic, m.payload) == ("wills/web", b"gone")


@pytest.mark.parametrize("version", VERSIONS)
def test_presence_of_a_websocket_user(make_broker, version):
    b = make_broker(ws_listener("ws") + '[presence]\ngrace = "1s"\nvisibility = "all"\n')
    w = Client(b, V5, client_id="watcher", username="watcher")
    w.connect()
    w.subscribe("presence/alice", qos=1)
    web = node(b, "ws", version, clientId="alice-web", username="alice")
    rec = json.loads(w.expect_message(timeout=5).payload)
    assert (rec["user"], rec["state"]) == ("alice", "online")
    start = time.monotonic()
    web.send(op="destroy")
    rec = json.loads(w.expect_message(timeout=10).payload)
    assert rec["state"] == "offline"
    assert time.monotonic() - start >= 0.8  # after the grace, as for TCP


@pytest.mark.parametrize("version", VERSIONS)
def test_stream_replayed_to_a_websocket_device(make_broker, version):
    b = make_broker(ws_listener("ws"))
    # The device reads once (it becomes known), goes away, messages wait in alice's stream.
    web = node(b, "ws", version, clientId="alice-web", username="alice")
    assert web.subscribe("users/alice/#", qos=1) == [1]
    web.send(op="end")
    web.wait("ended")
    bob = Client(b, V5, client_id="bob", username="bob")
    bob.connect()
    for i in range(3):
        assert bob.publish("users/alice/bob", f"m{i}", qos=1) == 0
    web = node(b, "ws", version, clientId="alice-web", username="alice")
    web.send(op="subscribe", topic="users/alice/#", qos=1)
    got = [web.message()["payload"] for _ in range(3)]
    assert got == ["m0", "m1", "m2"]


def cert_listener(certs):
    keys = wss_keys(certs, ca_file=certs["ca.crt"], require_certificate=True,
                    use_identity_as_username=True)
    return ws_listener("wss", **keys) + '[presence]\ngrace = "1s"\nvisibility = "all"\n'


def test_wss_client_certificate_required(make_broker, certs):
    b = make_broker(cert_listener(certs))
    tcp = tcp_client(b)
    tcp.subscribe("cert/#", qos=1)
    web = node(b, "wss", 5, certs, clientId="alice-cert", certFile=certs["alice.crt"],
               keyFile=certs["alice.key"])
    web.publish("cert/ok", "with a certificate", qos=1)
    assert tcp.expect_message().payload == b"with a certificate"
    # Without a client certificate the TLS handshake is refused.
    mark = b.log_mark()
    nocert = NodeClient(ws_url(b, "wss"), protocolVersion=5, caFile=certs["ca.crt"])
    nocert.wait("error")
    b.wait_log(r"TLS handshake failed or not finished", since=mark)


def test_wss_certificate_identity_is_the_username(make_broker, certs):
    b = make_broker(cert_listener(certs))
    w = Client(b, V5, client_id="watcher", username="watcher")
    w.connect()
    w.subscribe("presence/alice", qos=1)
    node(b, "wss", 5, certs, clientId="alice-cert", certFile=certs["alice.crt"],
         keyFile=certs["alice.key"])
    rec = json.loads(w.expect_message(timeout=5).payload)
    assert (rec["user"], rec["state"]) == ("alice", "online")


def test_sighup_reloads_the_wss_certificate(make_broker, certs, tmp_path):
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copy(certs["server.crt"], cert)
    shutil.copy(certs["server.key"], key)
    b = make_broker(ws_listener("wss", cert_file=str(cert), key_file=str(key)))

    def served_cn():
        ctx = ssl.create_default_context(cafile=certs["ca.crt"])
        with socket.create_connection(("127.0.0.1", ws_port(b, "wss")), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return dict(x[0] for x in tls.getpeercert()["subject"])["commonName"]

    assert served_cn() == "127.0.0.1"
    shutil.copy(certs["server2.crt"], cert)
    shutil.copy(certs["server2.key"], key)
    mark = b.log_mark()
    b.send_signal(signal.SIGHUP)
    b.wait_log(r"wss 127\.0\.0\.1:\d+: certificate reloaded: subject .*127\.0\.0\.1 second",
               since=mark)
    assert served_cn() == "127.0.0.1 second"
    # A broken file is refused and the running certificate kept.
    key.write_text("not a key\n")
    mark = b.log_mark()
    b.send_signal(signal.SIGHUP)
    b.wait_log(r"wss 127\.0\.0\.1:\d+: certificate reload failed, the old certificate is kept",
               since=mark)
    assert served_cn() == "127.0.0.1 second"


def test_websocket_counts_against_max_connections(make_broker):
    b = make_broker("max_connections = 1\n" + ws_listener("ws"))
    tcp = tcp_client(b)
    web = NodeClient(ws_url(b), protocolVersion=5, clientId="over")
    e = web.wait("close", timeout=10)
    assert e and not any(x["event"] == "connect" for x in web.seen)
    tcp.disconnect()
    node(b, "ws", 5, clientId="fits")


# ---------------------------------------------------------------- framing

def test_one_packet_over_many_frames_and_many_packets_in_one_frame(make_broker):
    b = make_broker(ws_listener("ws"))
    tcp = tcp_client(b)
    tcp.subscribe("raw/#", qos=0)
    ws = RawWebSocket(ws_port(b))
    assert ws.status == 101, ws.status_line
    connect = connect_packet("raw-ws", version=V5)
    for i in range(len(connect)):  # one byte per frame
        ws.send_frame(connect[i:i + 1])
    [(ptype, body)] = ws.recv_mqtt(1)
    assert ptype == 2 and body[1] == 0, (ptype, body)  # CONNACK, success
    # SUBSCRIBE + two PUBLISHes in one frame; a third PUBLISH cut across two frames.
    batch = (subscribe_packet([("raw/echo", 0)], packet_id=1, version=V5) +
             publish_packet("raw/echo", b"one", version=V5) +
             publish_packet("raw/echo", b"two", version=V5))
    ws.send_frame(batch)
    third = publish_packet("raw/echo", b"three", version=V5)
    ws.send_frame(third[:3], fin=True)
    ws.send_frame(third[3:], fin=True)
    packets = ws.recv_mqtt(4)
    assert packets[0][0] == 9  # SUBACK
    assert [p[0] for p in packets[1:]] == [3, 3, 3]
    topic_end = 2 + len(b"raw/echo")
    assert [body[topic_end + 1:] for _, body in packets[1:]] == [b"one", b"two", b"three"]
    assert [tcp.expect_message().payload for _ in range(3)] == [b"one", b"two", b"three"]
    ws.close()


def test_text_frame_is_refused(make_broker):
    b = make_broker(ws_listener("ws"))
    ws = RawWebSocket(ws_port(b))
    ws.send_frame(connect_packet("texty", version=V5), opcode=0x1)
    assert ws.closed_by_peer(timeout=5)
    b.wait_log(r"text frame refused")


# ---------------------------------------------------------------- HTTP

def http_get(port, path, method="GET", timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def test_healthz_metrics_and_unknown_paths(make_broker):
    b = make_broker(ws_listener("ws"))
    port = ws_port(b)
    assert http_get(port, "/healthz")[0::2] == (200, b"ok\n")
    status, ctype, body = http_get(port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
    assert b"# TYPE herald_connections gauge" in body
    tcp_client(b)
    page = http_get(port, "/metrics")[2]
    assert b'\nherald_connections{transport="tcp"} 1\n' in page  # by transport (README: Metrics)
    assert b"\nherald_clients_connected 1\n" in page
    assert http_get(port, "/nothing/here")[0] == 404
    assert http_get(port, "/index.html")[0] == 404  # no http_dir


def test_static_files_with_their_content_types(make_broker, tmp_path):
    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    files = {"index.html": "text/html", "js/app.js": "text/javascript", "js/mod.mjs":
             "text/javascript", "style.css": "text/css", "data.json": "application/json",
             "logo.png": "image/png", "logo.svg": "image/svg+xml", "favicon.ico": "image/x-icon",
             "notes.txt": "text/plain", "js/app.js.map": "application/json"}
    for name in files:
        (site / name).write_bytes(f"content of {name}".encode())
    (tmp_path / "secret.txt").write_text("secret")
    (site / "escape.txt").symlink_to(tmp_path / "secret.txt")
    b = make_broker(ws_listener("ws", http_dir=str(site)))
    port = ws_port(b)
    for name, ctype in files.items():
        status, got_type, body = http_get(port, "/" + name)
        assert status == 200 and got_type.startswith(ctype), (name, got_type)
        assert body == f"content of {name}".encode()
    status, got_type, body = http_get(port, "/")
    assert (status, body) == (200, b"content of index.html") and got_type.startswith("text/html")
    status, got_type, body = http_get(port, "/style.css", method="HEAD")
    assert status == 200 and body == b"" and got_type.startswith("text/css")
    assert http_get(port, "/missing.js")[0] == 404
    assert http_get(port, "/escape.txt")[0] == 404  # a symlink out of http_dir
    # Traversal, sent raw so that no client library cleans the path first.
    for path in ("/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                 "/js/%2E%2E/%2e%2e/secret.txt"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        assert b"secret" not in reply.split(b"\r\n\r\n", 1)[-1], (path, reply[:200])
        assert not reply.startswith(b"HTTP/1.1 200"), (path, reply[:200])


# ---------------------------------------------------------------- bad input

def test_bad_upgrades_are_refused_and_logged_and_others_keep_working(make_broker, certs):
    b = make_broker('connect_timeout = "1s"\n' +
                    ws_listener("ws", allowed_origins=["https://chat.example"]) +
                    ws_listener("wss", **wss_keys(certs)))
    port, tls_port = ws_port(b), ws_port(b, "wss")
    tcp = tcp_client(b)
    tcp.subscribe("alive/#")
    good = node(b, "ws", 5, clientId="good", wsOptions={"origin": "https://chat.example"})

    mark = b.log_mark()
    ws = RawWebSocket(port, path="/chat", origin="https://chat.example")
    assert ws.status == 404, ws.status_line
    b.wait_log(r"WebSocket upgrade refused \(404\): path '/chat': MQTT is served on /mqtt only",
               since=mark)

    ws = RawWebSocket(port, protocol="chat", origin="https://chat.example")
    assert ws.status == 400, ws.status_line
    b.wait_log(r"refused \(400\): subprotocol 'chat': mqtt or mqttv3\.1 expected", since=mark)
    ws = RawWebSocket(port, protocol=None, origin="https://chat.example")
    assert ws.status == 400, ws.status_line

    ws = RawWebSocket(port, origin="https://evil.example")
    assert ws.status == 403, ws.status_line
    b.wait_log(r"refused \(403\): origin 'https://evil\.example' is not in allowed_origins",
               since=mark)
    ws = RawWebSocket(port)  # no Origin at all
    assert ws.status == 403, ws.status_line
    ws = RawWebSocket(port, origin="https://chat.example")
    assert ws.status == 101, ws.status_line

    # Garbage instead of a TLS handshake.
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
        s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
    b.wait_log(r"wss 127\.0\.0\.1:\d+: TLS handshake failed or not finished",
               since=mark)

    # An upgrade never finished: closed after connect_timeout, with a log line.
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    assert 0.8 <= time.monotonic() - start < 8
    b.wait_log(r"no complete HTTP request or WebSocket upgrade within 1000 ms, closing",
               since=mark)

    # Everyone else is still served.
    good.publish("alive/web", "still here", qos=1)
    assert tcp.expect_message().payload == b"still here"
    node(b, "wss", 4, certs, clientId="late")
    assert b.alive()


def test_x_forwarded_for_only_when_trusted(make_broker):
    b = make_broker(ws_listener("ws", trust_x_forwarded_for=True) + ws_listener("ws"))
    trusted, untrusted = ws_ports(b)
    for port in (trusted, untrusted):
        ws = RawWebSocket(port, extra_headers=["X-Forwarded-For: 203.0.113.7, 10.0.0.1"])
        assert ws.status == 101
        ws.send_frame(connect_packet(f"xff-{port}", version=V5))
        assert ws.recv_mqtt(1)[0][0] == 2
        ws.close()
    b.wait_log(rf"New client connected from 203\.0\.113\.7 as xff-{trusted}")
    b.wait_log(rf"New client connected from 127\.0\.0\.1:\d+ as xff-{untrusted}")


def test_healthz_is_503_while_shutting_down(make_broker):
    b = make_broker(ws_listener("ws"))
    port = ws_port(b)
    # A TCP subscriber that never reads, buried in output: the graceful shutdown waits for its
    # last writes (up to its 5 s cap), and meanwhile the WebSocket listener answers.
    holder = socket.create_connection(("127.0.0.1", b.port), timeout=5)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    holder.sendall(connect_packet("holder", version=V5) +
                   subscribe_packet([("big/#", 0)], packet_id=1, version=V5))
    time.sleep(0.2)  # let CONNACK and SUBACK in; from now on the holder reads nothing
    tcp = tcp_client(b)
    for _ in range(128):
        tcp.publish("big/x", b"x" * 256 * 1024, qos=0, wait=False)
    # Acked (0x10: no subscribers) only once every publish above was handled.
    assert tcp.publish("after/all", "done", qos=1) in (0, 0x10)
    assert http_get(port, "/healthz")[0] == 200
    mark = b.log_mark()
    b.send_signal(signal.SIGTERM)
    b.wait_log(r"SIGTERM: shutting down", since=mark)
    status, _, body = http_get(port, "/healthz")
    assert (status, body) == (503, b"shutting down\n")
    assert RawWebSocket(port).status == 503  # no new MQTT either
    b.wait_log(r"upgrade refused \(503\): the broker is shutting down", since=mark)
    holder.close()
    b.stopped_by_test = True  # it ends by itself; a second SIGTERM would force it
    assert b.proc.wait(timeout=10) == 0


def test_a_ws_port_in_use_is_a_clear_error(tmp_path):
    """lws logs only an errno; heraldd says why in words and exits 1, as for TCP."""
    from conftest import HERALDD
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = tmp_path / "h.toml"
        cfg.write_text(f'data_dir = "{tmp_path}/d"\n[[listeners]]\ntype = "ws"\n'
                       f'address = "127.0.0.1"\nport = {port}\n')
        r = subprocess.run([HERALDD, "-c", str(cfg)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r.stderr
    assert f"cannot listen on ws 127.0.0.1:{port}: Address already in use" in r.stderr, r.stderr
