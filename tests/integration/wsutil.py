# Clients for the WebSocket tests: MQTT.js in Node (tests/node/ws_client.mjs) driven line by
# line, a minimal hand-written WebSocket client (handshake + masked frames) that controls how
# MQTT bytes are cut into frames, and the openssl CLI making a CA, a server and a client
# certificate.
import base64
import json
import os
import queue
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
WS_CLIENT = NODE_DIR / "ws_client.mjs"


def ws_listener(kind="ws", **keys):
    """A [[listeners]] table of type ws/wss on a free port, with extra keys."""
    lines = ["[[listeners]]", f'type = "{kind}"', 'address = "127.0.0.1"', "port = 0"]
    for k, v in keys.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, str):
            v = json.dumps(v)
        elif isinstance(v, list):
            v = "[" + ", ".join(json.dumps(x) for x in v) + "]"
        lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"


class NodeClient:
    """One MQTT.js client process. events(): what it printed; wait(name): the next such event."""

    _live = []

    def __init__(self, url, **options):
        self.proc = subprocess.Popen(["node", str(WS_CLIENT), url, json.dumps(options)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=str(NODE_DIR), text=True)
        self.events = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        NodeClient._live.append(self)

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "garbage", "line": line})
        self.events.put({"event": "exit"})

    def send(self, **command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def wait(self, name, timeout=10, skip=("close",)):
        """The next event called `name`; fails on an error event or when the process ends."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} event within {timeout}s; seen {self.seen}; "
                                     f"stderr: {self._stderr()}")
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(e)
            if e["event"] == name:
                return e
            if e["event"] in ("error", "exit") and name not in ("error", "exit", "close"):
                raise AssertionError(f"waiting for {name}: {e}; seen {self.seen}; "
                                     f"stderr: {self._stderr()}")

    def connected(self, timeout=10):
        return self.wait("connect", timeout)

    def subscribe(self, topic, qos=0):
        self.send(op="subscribe", topic=topic, qos=qos)
        return self.wait("suback")["granted"]

    def publish(self, topic, payload, qos=0, retain=False):
        self.send(op="publish", topic=topic, payload=payload, qos=qos, retain=retain)
        return self.wait("puback")

    def message(self, timeout=10):
        return self.wait("message", timeout)

    def _stderr(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()  # by our own Popen handle, i.e. by PID
        self.proc.wait(10)

    @classmethod
    def close_all(cls):
        while cls._live:
            cls._live.pop().close()


class RawWebSocket:
    """A WebSocket client written for the tests: it decides how bytes are cut into frames."""

    def __init__(self, port, path="/mqtt", protocol="mqtt", origin=None, tls_ca=None,
                 extra_headers=(), timeout=5):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls_ca:
            ctx = ssl.create_default_context(cafile=tls_ca)
            sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        self.sock = sock
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        if origin:
            lines.append(f"Origin: {origin}")
        lines += list(extra_headers)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        self.status = int(self.status_line.split()[1]) if self.status_line.startswith("HTTP/") \
            else 0
        self._buf = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""

    def send_frame(self, data, opcode=0x2, fin=True):
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(data)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _need(self, n, deadline):
        while len(self._buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self._buf += chunk

    def recv_frame(self, timeout=5):
        """(opcode, payload) of the next frame from the server (never masked)."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        opcode, n = self._buf[0] & 0x0F, self._buf[1] & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n, pos = struct.unpack("!H", self._buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, pos = struct.unpack("!Q", self._buf[2:10])[0], 10
        self._need(pos + n, deadline)
        payload = self._buf[pos:pos + n]
        self._buf = self._buf[pos + n:]
        return opcode, payload

    def recv_mqtt(self, n_packets, timeout=5):
        """The next n MQTT packets as (type, body), however the server framed them."""
        stream, packets = b"", []
        deadline = time.monotonic() + timeout
        while len(packets) < n_packets:
            opcode, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            assert opcode == 0x2, f"opcode {opcode}: MQTT must come in binary frames"
            stream += payload
            while True:
                if len(stream) < 2:
                    break
                length, mult, pos = 0, 1, 1
                while True:
                    if pos >= len(stream):
                        length = None
                        break
                    b = stream[pos]
                    length += (b & 0x7F) * mult
                    mult *= 128
                    pos += 1
                    if not b & 0x80:
                        break
                if length is None or len(stream) < pos + length:
                    break
                packets.append((stream[0] >> 4, stream[pos:pos + length]))
                stream = stream[pos + length:]
        return packets

    def closed_by_peer(self, timeout=5):
        """True when the server closes the connection within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.sock.close()


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (CN alice), with the
    openssl CLI. Returns a dict of paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=herald test CA")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "127.0.0.1"), ("server2", "127.0.0.1 second"), ("alice", "alice")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={cn}")
        extra = ["-extfile", "server.ext"] if name.startswith("server") else []
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", *extra)
    return {name: str(d / name) for name in
            ("ca.crt", "server.crt", "server.key", "server2.crt", "server2.key", "alice.crt",
             "alice.key")}
