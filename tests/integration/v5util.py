"""Byte-level MQTT 5.0 / 3.1.1 for the v5-feature, flow and malformed-input tests.

Packets to bytes and bytes to values (with decoded 5.0 properties), and Raw, a blocking socket
client that follows QoS flows, so a test says exactly what goes on the wire (topic aliases,
receive maximum, malformed input) and reads exactly what came back. helpers.py (the shared
harness) has the paho-based Client; this module adds what byte-level tests need beyond its
RawClient: property decoding, QoS flows, stashing of PUBLISHes, bad-input checks (Healthy,
expect_rejected).
"""
import os
import re
import socket
import struct
import time

import pytest

# Packet types.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

# Property identifiers [MQTT-2.2.2.2] and how each is encoded on the wire.
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_REQUEST_PROBLEM_INFO = 0x17
P_WILL_DELAY = 0x18
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)
_PROP_KIND = {
    0x01: _BYTE, 0x02: _U32, 0x03: _STR, 0x08: _STR, 0x09: _BIN, 0x0B: _VARINT, 0x11: _U32,
    0x12: _STR, 0x13: _U16, 0x15: _STR, 0x16: _BIN, 0x17: _BYTE, 0x18: _U32, 0x19: _BYTE,
    0x1A: _STR, 0x1C: _STR, 0x1F: _STR, 0x21: _U16, 0x22: _U16, 0x23: _U16, 0x24: _BYTE,
    0x25: _BYTE, 0x26: _PAIR, 0x27: _U32, 0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}


# ---------------------------------------------------------------- primitives

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf, pos):
    """Returns (value, new_pos)."""
    mult, value = 1, 0
    for i in range(4):
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, pos
        mult *= 128
    raise ValueError("varint longer than 4 bytes")


def bstr(b):
    """A length-prefixed field from raw bytes (no UTF-8 check: malformed tests need that)."""
    return struct.pack("!H", len(b)) + b


def ustr(s):
    return bstr(s.encode("utf-8") if isinstance(s, str) else s)


def read_bstr(buf, pos):
    (n,) = struct.unpack_from("!H", buf, pos)
    return bytes(buf[pos + 2:pos + 2 + n]), pos + 2 + n


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


# ---------------------------------------------------------------- properties

def encode_props(props):
    """props: list of (id, value); value is int, str, bytes, or (key, value) for user properties.
    Raw bytes are taken as already-encoded properties (for malformed ones)."""
    if isinstance(props, (bytes, bytearray)):
        return varint(len(props)) + bytes(props)
    out = bytearray()
    for pid, val in props or []:
        kind = _PROP_KIND[pid]
        out += varint(pid)
        if kind == _BYTE:
            out.append(val)
        elif kind == _U16:
            out += struct.pack("!H", val)
        elif kind == _U32:
            out += struct.pack("!I", val)
        elif kind == _VARINT:
            out += varint(val)
        elif kind == _STR:
            out += ustr(val)
        elif kind == _BIN:
            out += bstr(val)
        else:
            out += ustr(val[0]) + ustr(val[1])
    return varint(len(out)) + bytes(out)


def decode_props(buf, pos):
    """Returns (list of (id, value), new_pos). Strings are returned as str, binary as bytes."""
    n, pos = read_varint(buf, pos)
    end = pos + n
    props = []
    while pos < end:
        pid, pos = read_varint(buf, pos)
        kind = _PROP_KIND[pid]
        if kind == _BYTE:
            val = buf[pos]
            pos += 1
        elif kind == _U16:
            (val,) = struct.unpack_from("!H", buf, pos)
            pos += 2
        elif kind == _U32:
            (val,) = struct.unpack_from("!I", buf, pos)
            pos += 4
        elif kind == _VARINT:
            val, pos = read_varint(buf, pos)
        elif kind == _STR:
            raw, pos = read_bstr(buf, pos)
            val = raw.decode("utf-8")
        elif kind == _BIN:
            val, pos = read_bstr(buf, pos)
        else:
            k, pos = read_bstr(buf, pos)
            v, pos = read_bstr(buf, pos)
            val = (k.decode("utf-8"), v.decode("utf-8"))
        props.append((pid, val))
    return props, end


def prop(props, pid, default=None):
    for p, v in props:
        if p == pid:
            return v
    return default


def props_all(props, pid):
    return [v for p, v in props if p == pid]


# ---------------------------------------------------------------- packet builders

def connect_bytes(client_id="", version=5, clean=True, keepalive=60, props=None, username=None,
                  password=None, will=None, proto_name=b"MQTT", proto_level=None, flags_extra=0):
    """will: dict(topic, payload, qos=0, retain=False, props=None)."""
    level = proto_level if proto_level is not None else (5 if version == 5 else 4)
    flags = flags_extra
    if clean:
        flags |= 0x02
    payload = ustr(client_id)
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        if version == 5:
            payload += encode_props(will.get("props"))
        payload += ustr(will["topic"]) + bstr(will["payload"])
    if username is not None:
        flags |= 0x80
        payload += ustr(username)
    if password is not None:
        flags |= 0x40
        payload += bstr(password)
    body = bstr(proto_name) + bytes([level, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        body += encode_props(props)
    return packet(CONNECT, 0, body + payload)


def publish_bytes(topic, payload=b"", qos=0, pid=None, retain=False, dup=False, props=None,
                  version=5):
    """topic may be str or raw bytes (for bad UTF-8); payload bytes or str."""
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = ustr(topic)
    if qos:
        body += struct.pack("!H", pid if pid is not None else 1)
    if version == 5:
        body += encode_props(props)
    return packet(PUBLISH, flags, body + payload)


def subscribe_bytes(pid, filters, props=None, version=5, flags=0x02):
    """filters: [(filter, options)]; options = qos | no_local 0x04 | rap 0x08 | rh << 4."""
    body = struct.pack("!H", pid)
    if version == 5:
        body += encode_props(props)
    for f, opts in filters:
        body += ustr(f) + bytes([opts])
    return packet(SUBSCRIBE, flags, body)


def ack_bytes(ptype, pid, rc=None, props=None):
    """PUBACK/PUBREC/PUBREL/PUBCOMP; rc None = short 3.1.1-style form (valid in 5.0 for rc 0)."""
    flags = 0x02 if ptype == PUBREL else 0
    body = struct.pack("!H", pid)
    if rc is not None:
        body += bytes([rc])
        if props:
            body += encode_props(props)
    return packet(ptype, flags, body)


def disconnect_bytes(rc=0, props=None):
    return packet(DISCONNECT, 0, bytes([rc]) + encode_props(props))


# ---------------------------------------------------------------- packet parsers

class Pub:
    def __init__(self, topic, payload, qos, retain, dup, pid, props):
        self.topic, self.payload, self.qos, self.retain = topic, payload, qos, retain
        self.dup, self.pid, self.props = dup, pid, props

    def __repr__(self):
        return "Pub(%r, %r, qos=%d, pid=%r, props=%r)" % (self.topic, self.payload[:40], self.qos,
                                                          self.pid, self.props)


def parse_publish(flags, body, version=5):
    topic, pos = read_bstr(body, 0)
    qos = (flags >> 1) & 3
    pid = None
    if qos:
        (pid,) = struct.unpack_from("!H", body, pos)
        pos += 2
    props = []
    if version == 5:
        props, pos = decode_props(body, pos)
    return Pub(topic.decode("utf-8"), bytes(body[pos:]), qos, bool(flags & 1), bool(flags & 8),
               pid, props)


def parse_connack(body, version=5):
    """Returns (session_present, rc, props)."""
    props = []
    if version == 5 and len(body) > 2:
        props, _ = decode_props(body, 2)
    return bool(body[0] & 1), body[1], props


def parse_reason(body, version=5, has_pid=False):
    """DISCONNECT / PUBACK-family: returns (pid or None, rc, props). Absent rc means 0."""
    pos = 0
    pid = None
    if has_pid:
        (pid,) = struct.unpack_from("!H", body, 0)
        pos = 2
    rc = body[pos] if len(body) > pos else 0
    props = []
    if version == 5 and len(body) > pos + 1:
        props, _ = decode_props(body, pos + 1)
    return pid, rc, props


def parse_suback(body, version=5):
    """Returns (pid, [reason codes], props)."""
    (pid,) = struct.unpack_from("!H", body, 0)
    pos = 2
    props = []
    if version == 5:
        props, pos = decode_props(body, pos)
    return pid, list(body[pos:]), props


# ---------------------------------------------------------------- a raw client of our own

class Raw:
    """A minimal blocking MQTT socket: what the byte-level tests need, nothing hidden.

    Kept here rather than relying on the harness's RawClient so the packet-level tests control
    reads exactly (e.g. a consumer that stops reading its socket) and can follow QoS flows.
    PUBLISH packets that arrive while another packet is awaited are kept for recv_publish; with
    auto_ack, received QoS 1/2 PUBLISHes are acknowledged by recv_publish and PUBRELs answered."""

    def __init__(self, broker, version=5, timeout=5.0, auto_ack=True, rcvbuf=None):
        self.version = version
        self.auto_ack = auto_ack
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # must be set before connect to bound the TCP window
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((broker.host, broker.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.stash = []          # PUBLISH (flags, body) received while waiting for something else
        self.next_pid = 1
        try:  # closed by the harness at teardown with the other clients
            import helpers
            helpers._live_clients.append(self)
        except (ImportError, AttributeError):
            pass

    def pid(self):
        p = self.next_pid
        self.next_pid = p % 65535 + 1
        return p

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no packet")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no packet")
        if not chunk:
            raise ConnectionError("closed by peer")
        self.buf += chunk

    def recv_packet(self, timeout=5.0):
        """Returns (ptype, flags, body). Raises TimeoutError / ConnectionError."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                try:
                    n, pos = read_varint(self.buf, 1)
                except IndexError:
                    n = None
                if n is not None and len(self.buf) >= pos + n:
                    h = self.buf[0]
                    body = bytes(self.buf[pos:pos + n])
                    del self.buf[:pos + n]
                    return h >> 4, h & 0x0F, body
            self._fill(deadline)

    def expect(self, ptype, timeout=5.0):
        """Next packet of ptype. PUBLISHes are stashed, PUBRELs answered (auto_ack); anything
        else is a failure."""
        deadline = time.monotonic() + timeout
        while True:
            t, f, b = self.recv_packet(max(0.001, deadline - time.monotonic()))
            if t == ptype:
                return f, b
            if t == PUBLISH:
                self.stash.append((f, b))
                continue
            if t == PUBREL and self.auto_ack:
                self.send(ack_bytes(PUBCOMP, struct.unpack_from("!H", b)[0], 0))
                continue
            raise AssertionError("expected packet type %d, got %d (%r)" % (ptype, t, b[:80]))

    def connect(self, client_id="", expect_rc=0, **kw):
        """Sends CONNECT and reads CONNACK; returns (session_present, rc, props)."""
        self.send(connect_bytes(client_id, version=self.version, **kw))
        _, body = self.expect(CONNACK)
        sp, rc, props = parse_connack(body, self.version)
        if expect_rc is not None:
            assert rc == expect_rc, "CONNACK rc 0x%02x, props %r" % (rc, props)
        return sp, rc, props

    def subscribe(self, filters, props=None, timeout=5.0):
        """filters: list of (filter, options) or one filter string (QoS 1). Returns SUBACK codes."""
        if isinstance(filters, str):
            filters = [(filters, 1)]
        pid = self.pid()
        self.send(subscribe_bytes(pid, filters, props, version=self.version))
        _, body = self.expect(SUBACK, timeout)
        rpid, codes, _ = parse_suback(body, self.version)
        assert rpid == pid
        return codes

    def publish(self, topic, payload=b"", qos=0, props=None, retain=False, timeout=5.0):
        """Publishes and completes the QoS flow. Returns the PUBACK/PUBREC reason code (0 for
        QoS 0): once this returns for QoS > 0 the broker has taken the message."""
        pid = self.pid() if qos else None
        self.send(publish_bytes(topic, payload, qos, pid, retain, props=props,
                                version=self.version))
        if qos == 0:
            return 0
        if qos == 1:
            _, b = self.expect(PUBACK, timeout)
            rpid, rc, _ = parse_reason(b, self.version, has_pid=True)
            assert rpid == pid
            return rc
        _, b = self.expect(PUBREC, timeout)
        rpid, rc, _ = parse_reason(b, self.version, has_pid=True)
        assert rpid == pid
        if rc >= 0x80:
            return rc
        self.send(ack_bytes(PUBREL, pid))
        _, b = self.expect(PUBCOMP, timeout)
        return rc

    def recv_publish(self, timeout=5.0):
        """Next PUBLISH (acknowledged if auto_ack)."""
        if self.stash:
            f, b = self.stash.pop(0)
        else:
            f, b = self.expect(PUBLISH, timeout)
        p = parse_publish(f, b, self.version)
        if self.auto_ack and p.qos == 1:
            self.send(ack_bytes(PUBACK, p.pid))
        elif self.auto_ack and p.qos == 2:
            self.send(ack_bytes(PUBREC, p.pid))
        return p

    def recv_until(self, topic, timeout=5.0):
        """PUBLISHes received before the one on topic (a sentinel), which is consumed: proves
        that nothing else was delivered up to that point without a fixed sleep."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            p = self.recv_publish(max(0.001, deadline - time.monotonic()))
            if p.topic == topic:
                return got
            got.append(p)

    def ping(self, timeout=5.0):
        """A PINGREQ round trip: the broker has read and handled everything sent before it."""
        self.send(packet(PINGREQ, 0, b""))
        self.expect(PINGRESP, timeout)

    def closed_after(self, timeout=5.0):
        """Reads until the broker closes the connection. Returns the list of packets seen before
        the close, or None if the connection is still open after timeout."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen.append(self.recv_packet(max(0.001, deadline - time.monotonic())))
            except TimeoutError:
                return None
            except OSError:  # orderly close, ECONNRESET, EPIPE
                return seen

    def disconnect(self, wait=2.0):
        """Clean DISCONNECT, then (wait > 0) waits for the broker to close the socket: once this
        returns the broker has processed the DISCONNECT (session ended or stored)."""
        try:
            self.send(disconnect_bytes(0) if self.version == 5 else packet(DISCONNECT, 0, b""))
            if wait:
                self.sock.shutdown(socket.SHUT_WR)
                self.closed_after(wait)
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connected(broker, client_id="", version=5, **kw):
    """A Raw client that has completed CONNECT (CONNACK 0)."""
    c = Raw(broker, version)
    c.connect(client_id, **kw)
    return c


def disconnect_reason(packets, version=5):
    """From the packets seen before a close: the DISCONNECT (rc, props) or None."""
    for t, f, b in packets:
        if t == DISCONNECT:
            _, rc, props = parse_reason(b, version)
            return rc, props
    return None


# ---------------------------------------------------------------- broker kind

def on_mosquitto():
    return os.environ.get("HERALD_TEST_BROKER", "") == "mosquitto"


heraldd_only = pytest.mark.skipif(on_mosquitto(), reason="heraldd-specific behaviour (SPEC 6)")


def peak_rss_kib(pid):
    """The peak resident set size of process pid (VmHWM), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    m = re.search(r"VmHWM:\s+(\d+)", text) or re.search(r"VmRSS:\s+(\d+)", text)
    return int(m.group(1))


# ---------------------------------------------------------------- bad-input checks

class Healthy:
    """A well-behaved client kept connected while another one misbehaves: check() proves with a
    QoS 1 round trip that the broker still serves it."""

    _n = 0

    def __init__(self, broker, version=5):
        Healthy._n += 1
        self.broker = broker
        self.topic = "healthy/%d" % Healthy._n
        self.c = connected(broker, "healthy-%d" % Healthy._n, version=version)
        assert self.c.subscribe(self.topic) == [1]
        self.count = 0

    def check(self):
        self.count += 1
        payload = b"ping-%d" % self.count
        assert self.c.publish(self.topic, payload, qos=1) == 0
        m = self.c.recv_publish()
        assert (m.topic, m.payload) == (self.topic, payload)
        assert self.broker.alive()


def expect_rejected(c, codes=(0x81, 0x82), timeout=5.0):
    """The broker must close c's connection within timeout. On a 5.0 connection to heraldd a
    DISCONNECT with one of codes and a reason string must come first (SPEC 6); mosquitto
    sometimes just closes, so there only a DISCONNECT that is present is checked (it must be an
    error). Returns the DISCONNECT (rc, props) or None."""
    seen = c.closed_after(timeout)
    assert seen is not None, "the broker must close the connection"
    d = disconnect_reason(seen, c.version) if c.version == 5 else None
    if c.version == 5:
        if on_mosquitto():
            assert d is None or d[0] >= 0x80, d
        else:
            assert d is not None and d[0] in codes, \
                "expected DISCONNECT %s, got %r (packets %r)" % ([hex(x) for x in codes], d, seen)
            # SPEC 6: "a clear reason (5.0 reason code and reason string)".
            assert prop(d[1], P_REASON_STRING), "DISCONNECT 0x%02x without a reason string" % d[0]
    else:
        assert all(t != DISCONNECT for t, _, _ in seen), "3.1.1 server must not send DISCONNECT"
    return d
