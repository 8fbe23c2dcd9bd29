# Test-side MQTT clients: a paho wrapper with queues and bounded waits (Client), a byte-level
# socket client (RawClient) with packet builders, and wrappers of mosquitto_sub / mosquitto_pub.
#
# Every wait here has a deadline: a test that goes wrong fails with a message, it never hangs.
# Must run under /usr/bin/python3 (Debian's paho-mqtt 1.6.1).
import os
import queue
import re
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

V311, V5 = 4, 5
VERSIONS = [V311, V5]
# Use as @pytest.mark.parametrize("version", VERSION_PARAMS) to run a test for both protocols.
VERSION_PARAMS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]

BROKER_KIND = os.environ.get("HERALD_TEST_BROKER", "heraldd")
# Tests of behaviour that heraldd deliberately does differently from mosquitto (log lines,
# config format, DISCONNECT 0x8B at shutdown, ...).
heraldd_only = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                  reason="heraldd-specific behaviour")

# Password hashing cost. The brokers of these tests make their PBKDF2 hashes with few iterations
# (HERALD_TEST_PBKDF2_ITERATIONS, a test-only knob of heraldd, set by conftest.py unless set
# already): each broker start hashes the first admin's password, and at the real 210000
# iterations the suite would spend minutes of CPU on that alone. A test whose point is that
# hashes are slow passes env=FULL_HASH_COST (an empty value: heraldd's default count).
TEST_HASH_ITERATIONS = "1000"
FULL_HASH_COST = {"HERALD_TEST_PBKDF2_ITERATIONS": ""}

# Packet types (first nibble of the fixed header).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

# Every Client / RawClient made during a test, closed by the broker fixture at teardown.
_live_clients: list = []


def close_all_clients():
    while _live_clients:
        c = _live_clients.pop()
        try:
            c.close()
        except Exception:
            pass


def wait_until(pred, timeout=5.0, interval=0.02, what="condition"):
    """Polls pred() until it is truthy (returns its value) or raises AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_props(packet_type, props):
    """A paho Properties from a dict {"SessionExpiryInterval": 10, "UserProperty": [("k","v")]},
    or the Properties object itself, or None."""
    if props is None or isinstance(props, Properties):
        return props
    p = Properties(packet_type)
    for k, v in props.items():
        setattr(p, k, v)
    return p


def prop(props, name, default=None):
    """Reads one property of a paho Properties object (default when absent or props is None)."""
    if props is None:
        return default
    return getattr(props, name, default)


def _code(rc):
    """An int from a paho ReasonCodes, an int, or None."""
    if rc is None:
        return None
    return rc.value if hasattr(rc, "value") else int(rc)


@dataclass
class Msg:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Any = None   # paho Properties (5.0) or None
    dup: bool = False
    mid: int = 0


@dataclass
class ConnAck:
    rc: int                  # 3.1.1 return code or 5.0 reason code
    session_present: bool
    properties: Any = None   # paho Properties (5.0) or None


def expect_no_messages(clients, timeout=0.5):
    """One wait of `timeout` for several clients, then asserts none of them received anything."""
    time.sleep(timeout)
    for c in clients:
        c.expect_no_message(0)


class _Paho(mqtt.Client):
    """paho 1.6.1 drops some reason codes (PUBACK/PUBCOMP/PUBREC, 1-byte DISCONNECT, refused
    3.1.1 CONNACKs without calling on_connect): record the raw packets before paho sees them."""

    def _handle_connack(self):
        pkt = bytes(self._in_packet["packet"])
        props = None
        if self._protocol == mqtt.MQTTv5 and len(pkt) > 2:
            props = Properties(PacketTypes.CONNACK)
            try:
                props.unpack(pkt[2:])
            except Exception:
                props = None
        if len(pkt) >= 2:
            self.herald._on_connack(ConnAck(pkt[1], bool(pkt[0] & 1), props))
        return super()._handle_connack()

    def _handle_pubackcomp(self, cmd):
        pkt = bytes(self._in_packet["packet"])
        if len(pkt) >= 2:
            mid = struct.unpack("!H", pkt[:2])[0]
            self.herald._on_ack(mid, pkt[2] if len(pkt) > 2 else 0)
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        pkt = bytes(self._in_packet["packet"])
        if len(pkt) > 2 and pkt[2] >= 0x80 and self._protocol == mqtt.MQTTv5:
            # A PUBREC with an error ends the QoS 2 flow [MQTT-4.3.3]: no PUBREL.
            mid = struct.unpack("!H", pkt[:2])[0]
            self.herald._on_ack(mid, pkt[2])
            with self._out_message_mutex:
                if mid in self._out_messages:
                    return self._do_on_publish(mid)
            return mqtt.MQTT_ERR_SUCCESS
        return super()._handle_pubrec()

    def _handle_disconnect(self):
        pkt = bytes(self._in_packet["packet"])
        rc = pkt[0] if len(pkt) >= 1 else 0
        props = None
        if len(pkt) > 1:
            props = Properties(PacketTypes.DISCONNECT)
            try:
                props.unpack(pkt[1:])
            except Exception:
                props = None
        self.herald._disconnect_packet = (rc, props)
        return super()._handle_disconnect()

    def _sock_close(self):
        # After our own DISCONNECT, wait (in paho's thread, bounded) until the broker closes its
        # side: then it has processed the DISCONNECT, so a test may reconnect at once without
        # racing the old connection (which would be a session takeover instead).
        sock = self._sock
        if sock is not None and self.herald._graceful:
            try:
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(5)
                while sock.recv(4096):
                    pass
            except OSError:
                pass
        super()._sock_close()
        self.herald._on_closed()


class Client:
    """A paho client driven by its own thread; everything it receives lands in queues."""

    def __init__(self, broker, version=V5, client_id="", clean=True, username=None,
                 password=None, will=None, keepalive=60, properties=None):
        self.broker = broker
        self.version = version
        self.client_id = client_id
        self.clean = clean
        self.keepalive = keepalive
        self.connect_properties = properties
        if version == V5:
            self._c = _Paho(client_id=client_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        else:
            self._c = _Paho(client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311,
                            reconnect_on_failure=False)
        self._c.herald = self
        if username is not None:
            self._c.username_pw_set(username, password)
        if will is not None:
            self._c.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0),
                             will.get("retain", False),
                             make_props(PacketTypes.WILLMESSAGE, will.get("properties")))
        self._cond = threading.Condition()
        self._connack = None
        self._acks = {}              # mid -> reason code of PUBACK / PUBCOMP / failing PUBREC
        self._subacks = {}           # mid -> list of codes
        self._unsubacks = {}         # mid -> list of codes
        self._disconnected = False
        self._disconnect_rc = None   # paho's rc for on_disconnect
        self._disconnect_packet = None  # (reason code, properties) of a DISCONNECT from the broker
        self._graceful = False       # our disconnect() is under way
        self._closed = False         # the socket is closed
        self.messages = queue.Queue()
        self._c.on_message = self._on_message
        self._c.on_subscribe = self._on_subscribe
        self._c.on_unsubscribe = self._on_unsubscribe
        self._c.on_disconnect = self._on_disconnect
        self.connack = None
        _live_clients.append(self)

    # ---- callbacks (paho thread) ----
    def _on_connack(self, ca):
        with self._cond:
            self._connack = ca
            self._cond.notify_all()

    def _on_closed(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _on_ack(self, mid, rc):
        with self._cond:
            self._acks[mid] = rc
            self._cond.notify_all()

    def _on_message(self, _c, _u, m):
        self.messages.put(Msg(m.topic, bytes(m.payload), m.qos, bool(m.retain),
                              getattr(m, "properties", None), bool(m.dup), m.mid))

    def _on_subscribe(self, _c, _u, mid, granted, properties=None):
        with self._cond:
            self._subacks[mid] = [_code(g) for g in granted]
            self._cond.notify_all()

    def _on_unsubscribe(self, _c, _u, mid, properties=None, reasoncodes=None):
        if reasoncodes is None:
            codes = []
        elif isinstance(reasoncodes, list):
            codes = [_code(r) for r in reasoncodes]
        else:
            codes = [_code(reasoncodes)]
        with self._cond:
            self._unsubacks[mid] = codes
            self._cond.notify_all()

    def _on_disconnect(self, _c, _u, rc, properties=None):
        with self._cond:
            self._disconnected = True
            self._disconnect_rc = rc
            self._cond.notify_all()

    def _wait(self, pred, timeout, what):
        with self._cond:
            if not self._cond.wait_for(pred, timeout):
                raise AssertionError(f"client {self.client_id!r}: timed out after {timeout}s "
                                     f"waiting for {what}")

    # ---- operations ----
    def connect(self, expect_rc=0, timeout=5):
        """Connects and waits for CONNACK; asserts its code is expect_rc (None: any)."""
        kw = {}
        if self.version == V5:
            kw["clean_start"] = self.clean
            kw["properties"] = make_props(PacketTypes.CONNECT, self.connect_properties)
        self._c.connect(self.broker.host, self.broker.port, self.keepalive, **kw)
        self._c.loop_start()
        self._wait(lambda: self._connack is not None or self._disconnected, timeout, "CONNACK")
        if self._connack is None:
            raise AssertionError(f"client {self.client_id!r}: connection closed without CONNACK")
        self.connack = self._connack
        if expect_rc is not None:
            assert self.connack.rc == expect_rc, \
                f"CONNACK code {self.connack.rc:#x}, expected {expect_rc:#x}"
        return self.connack

    @property
    def assigned_client_id(self):
        return prop(self.connack.properties if self.connack else None, "AssignedClientIdentifier")

    def _sub_options(self, qos, options):
        if isinstance(options, SubscribeOptions):
            return options
        o = options or {}
        return SubscribeOptions(qos=qos, noLocal=o.get("no_local", False),
                                retainAsPublished=o.get("retain_as_published", False),
                                retainHandling=o.get("retain_handling", 0))

    def subscribe(self, topic, qos=0, options=None, properties=None, timeout=5):
        """topic: a filter, or a list of (filter, qos) / (filter, qos, options-dict).
        options (5.0): dict(no_local, retain_as_published, retain_handling) or SubscribeOptions.
        Returns the list of SUBACK codes."""
        props = make_props(PacketTypes.SUBSCRIBE, properties)
        if isinstance(topic, list):
            if self.version == V5:
                lst = [(t[0], self._sub_options(t[1], t[2] if len(t) > 2 else None)) for t in topic]
            else:
                lst = [(t[0], t[1]) for t in topic]
            rc, mid = self._c.subscribe(lst, properties=props)
        elif self.version == V5:
            rc, mid = self._c.subscribe(topic, options=self._sub_options(qos, options),
                                        properties=props)
        else:
            rc, mid = self._c.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed locally: {rc}"
        self._wait(lambda: mid in self._subacks, timeout, f"SUBACK of {topic!r}")
        return self._subacks.pop(mid)

    def unsubscribe(self, topic, timeout=5, properties=None):
        kw = {}
        if self.version == V5 and properties is not None:
            kw["properties"] = make_props(PacketTypes.UNSUBSCRIBE, properties)
        rc, mid = self._c.unsubscribe(topic, **kw)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"unsubscribe failed locally: {rc}"
        self._wait(lambda: mid in self._unsubacks, timeout, f"UNSUBACK of {topic!r}")
        return self._unsubacks.pop(mid)

    def publish(self, topic, payload, qos=0, retain=False, properties=None, timeout=5, wait=True):
        """Publishes; for QoS>0 waits for PUBACK / PUBCOMP (or a failing 5.0 PUBREC) and returns
        its reason code (0 for 3.1.1). QoS 0 returns 0 once the packet is written."""
        props = make_props(PacketTypes.PUBLISH, properties) if self.version == V5 else None
        info = self._c.publish(topic, payload, qos, retain, properties=props)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish failed locally: {info.rc}"
        if not wait:
            return None
        if qos == 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"QoS 0 publish to {topic!r} not written in {timeout}s"
            return 0
        mid = info.mid
        self._wait(lambda: mid in self._acks, timeout, f"acknowledgement of publish to {topic!r}")
        return self._acks.pop(mid)

    def expect_message(self, timeout=5):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"client {self.client_id!r}: no message within {timeout}s") from None

    def expect_messages(self, n, timeout=5):
        """n messages, all within timeout (one deadline for all)."""
        deadline = time.monotonic() + timeout
        out = []
        for i in range(n):
            left = max(0.0, deadline - time.monotonic())
            try:
                out.append(self.messages.get(timeout=left))
            except queue.Empty:
                raise AssertionError(f"client {self.client_id!r}: got {i} of {n} messages "
                                     f"within {timeout}s") from None
        return out

    def expect_no_message(self, timeout=1.0):
        try:
            m = self.messages.get(timeout=timeout) if timeout > 0 else self.messages.get_nowait()
        except queue.Empty:
            return
        raise AssertionError(f"client {self.client_id!r}: unexpected message {m}")

    def wait_disconnect(self, timeout=5):
        """Waits until the broker closes the connection. Returns the reason code of the
        broker's DISCONNECT (5.0), or None when the socket was just closed."""
        self._wait(lambda: self._disconnected, timeout, "disconnection by the broker")
        return self._disconnect_packet[0] if self._disconnect_packet else None

    @property
    def disconnect_properties(self):
        return self._disconnect_packet[1] if self._disconnect_packet else None

    def is_connected(self):
        return self._c.is_connected() and not self._disconnected

    def disconnect(self, reason=0, properties=None, timeout=5):
        """Clean DISCONNECT (5.0: with reason code `reason`); returns once the broker has closed
        the connection, i.e. has processed the DISCONNECT."""
        if self._disconnected or self._c._sock is None:
            self._stop_thread()
            return
        self._graceful = True
        if self.version == V5:
            from paho.mqtt.reasoncodes import ReasonCodes
            self._c.disconnect(ReasonCodes(PacketTypes.DISCONNECT, identifier=reason),
                               make_props(PacketTypes.DISCONNECT, properties))
        else:
            self._c.disconnect()
        self._wait(lambda: self._closed, timeout + 1, "the broker to close after DISCONNECT")
        self._stop_thread()

    def drop(self):
        """Closes the TCP connection abruptly: no DISCONNECT is sent (the will is due)."""
        sock = self._c._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._wait(lambda: self._disconnected, 3, "drop")
        except AssertionError:
            pass
        self._stop_thread()

    def _stop_thread(self):
        t = self._c._thread
        if t is not None and t is not threading.current_thread():
            self._c._thread_terminate = True
            t.join(3)
            self._c._thread = None

    def close(self):
        if not self._disconnected and self._c._sock is not None:
            self.drop()
        self._stop_thread()


# ---------------------------------------------------------------- bytes on the wire

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def utf8str(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def _props(version, props):
    return varint(len(props)) + props if version == V5 else b""


# Property builders for raw packets (id, value) -> bytes; concatenate them into props=.
def p_byte(pid, v): return bytes([pid, v])
def p_u16(pid, v): return bytes([pid]) + struct.pack("!H", v)
def p_u32(pid, v): return bytes([pid]) + struct.pack("!I", v)
def p_varint(pid, v): return bytes([pid]) + varint(v)
def p_str(pid, s): return bytes([pid]) + utf8str(s)
def p_bin(pid, b): return bytes([pid]) + struct.pack("!H", len(b)) + b
def p_user(k, v): return bytes([0x26]) + utf8str(k) + utf8str(v)


def connect_packet(client_id="raw", version=V5, clean=True, keepalive=60, username=None,
                   password=None, props=b"", will=None):
    """will: dict(topic, payload=b"", qos=0, retain=False, props=b"")."""
    flags = 0x02 if clean else 0
    payload = utf8str(client_id)
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        wp = will.get("payload", b"")
        wp = wp.encode() if isinstance(wp, str) else wp
        payload += _props(version, will.get("props", b"")) + utf8str(will["topic"]) + \
            struct.pack("!H", len(wp)) + wp
    if username is not None:
        flags |= 0x80
        payload += utf8str(username)
    if password is not None:
        flags |= 0x40
        pw = password.encode() if isinstance(password, str) else password
        payload += struct.pack("!H", len(pw)) + pw
    body = utf8str("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive) + \
        _props(version, props) + payload
    return packet(CONNECT, 0, body)


def publish_packet(topic, payload=b"", qos=0, packet_id=1, retain=False, version=V5, props=b"",
                   dup=False):
    payload = payload.encode() if isinstance(payload, str) else payload
    body = utf8str(topic)
    if qos > 0:
        body += struct.pack("!H", packet_id)
    body += _props(version, props) + payload
    flags = (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return packet(PUBLISH, flags, body)


def subscribe_packet(filters, packet_id=1, version=V5, props=b""):
    """filters: [(filter, options_byte)] (options_byte = QoS | 5.0 option bits)."""
    body = struct.pack("!H", packet_id) + _props(version, props)
    for f, o in filters:
        body += utf8str(f) + bytes([o])
    return packet(SUBSCRIBE, 0x02, body)


def unsubscribe_packet(filters, packet_id=1, version=V5, props=b""):
    body = struct.pack("!H", packet_id) + _props(version, props)
    for f in filters:
        body += utf8str(f)
    return packet(UNSUBSCRIBE, 0x02, body)


def ack_packet(ptype, packet_id, rc=0, version=V5):
    """PUBACK / PUBREC / PUBREL / PUBCOMP (PUBREL gets its mandatory flags 0x2)."""
    body = struct.pack("!H", packet_id) + (bytes([rc]) if version == V5 and rc else b"")
    return packet(ptype, 0x02 if ptype == PUBREL else 0, body)


def pingreq_packet():
    return packet(PINGREQ, 0, b"")


def disconnect_packet(rc=0, version=V5, props=b""):
    if version == V5 and (rc or props):
        return packet(DISCONNECT, 0, bytes([rc]) + _props(version, props))
    return packet(DISCONNECT, 0, b"")


def read_varint(buf, pos):
    """(value, next position) or (None, pos) when buf ends inside the varint."""
    mult, val = 1, 0
    for i in range(4):
        if pos + i >= len(buf):
            return None, pos
        b = buf[pos + i]
        val += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            return val, pos + i + 1
    raise ValueError("malformed varint")


def parse_publish(flags, body, version=V5):
    """dict(topic, packet_id, qos, dup, retain, props(raw bytes), payload)."""
    tl = struct.unpack("!H", body[:2])[0]
    topic = body[2:2 + tl].decode("utf-8")
    pos = 2 + tl
    qos = (flags >> 1) & 3
    pid = None
    if qos:
        pid = struct.unpack("!H", body[pos:pos + 2])[0]
        pos += 2
    props = b""
    if version == V5:
        n, pos = read_varint(body, pos)
        props = bytes(body[pos:pos + n])
        pos += n
    return dict(topic=topic, packet_id=pid, qos=qos, dup=bool(flags & 8), retain=bool(flags & 1),
                props=props, payload=bytes(body[pos:]))


class ConnectionClosed(Exception):
    pass


class RawClient:
    """A plain TCP socket to the broker that sends and receives raw MQTT bytes."""

    def __init__(self, broker, timeout=5):
        self.broker = broker
        self.sock = socket.create_connection((broker.host, broker.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.packets_before_close = []   # what expect_closed() read before the close
        _live_clients.append(self)

    def send(self, data):
        self.sock.sendall(data)

    def _take_packet(self):
        if len(self.buf) < 2:
            return None
        n, pos = read_varint(self.buf, 1)
        if n is None or len(self.buf) < pos + n:
            return None
        first = self.buf[0]
        body = bytes(self.buf[pos:pos + n])
        del self.buf[:pos + n]
        return first >> 4, first & 0x0F, body

    def recv_packet(self, timeout=5):
        """(ptype, flags, body). Raises TimeoutError, or ConnectionClosed when the broker closed."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._take_packet()
            if p is not None:
                return p
            if self.closed:
                raise ConnectionClosed("broker closed the connection")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete packet within {timeout}s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.closed = True
            else:
                self.buf += data

    def expect_packet(self, ptype, timeout=5):
        """The next packet, asserted to be of type ptype: (flags, body)."""
        t, flags, body = self.recv_packet(timeout)
        assert t == ptype, f"expected packet type {ptype}, got {t} (flags {flags:#x}, body {body!r})"
        return flags, body

    def connect(self, expect_rc=0, timeout=5, **kw):
        """Sends connect_packet(**kw), waits for CONNACK, returns (session_present, rc, props)."""
        version = kw.get("version", V5)
        self.send(connect_packet(**kw))
        _, body = self.expect_packet(CONNACK, timeout)
        sp, rc = bool(body[0] & 1), body[1]
        props = body[2:] if version == V5 else b""
        if expect_rc is not None:
            assert rc == expect_rc, f"CONNACK code {rc:#x}, expected {expect_rc:#x}"
        return sp, rc, props

    def expect_closed(self, timeout=5):
        """True when the broker closed the socket within timeout (packets read meanwhile are kept
        in packets_before_close), False otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.packets_before_close.append(
                    self.recv_packet(max(0.0, deadline - time.monotonic())))
            except ConnectionClosed:
                return True
            except TimeoutError:
                return False
            except OSError:
                return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    drop = close


# ---------------------------------------------------------------- mosquitto command-line clients

def _base_args(tool, broker):
    return [tool, "-h", broker.host, "-p", str(broker.port)]


def mosquitto_sub(broker, args, count, timeout):
    """Runs mosquitto_sub ... -C count -W timeout; returns its output lines."""
    cmd = _base_args("mosquitto_sub", broker) + list(args) + ["-C", str(count), "-W", str(timeout)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    return r.stdout.splitlines()


def mosquitto_pub(broker, args, timeout=10):
    cmd = _base_args("mosquitto_pub", broker) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class MosquittoSub:
    """mosquitto_sub in the background: wait_subscribed() blocks until its SUBACK came (it runs
    with -d and the debug lines are filtered out), result() returns the message lines."""

    def __init__(self, broker, args, count, timeout):
        # stdbuf: mosquitto_sub's stdout is a pipe here, and its debug lines must come at once.
        cmd = ["stdbuf", "-oL"] + _base_args("mosquitto_sub", broker) + ["-d"] + list(args) + \
            ["-C", str(count), "-W", str(timeout)]
        self.timeout = timeout
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines = []
        self.subscribed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _live_clients.append(self)

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("Client ") and (" received " in line or " sending " in line):
                if "received SUBACK" in line:
                    self.subscribed.set()
                continue
            if line.startswith("Subscribed (mid"):
                continue
            self.lines.append(line)

    def wait_subscribed(self, timeout=5):
        assert self.subscribed.wait(timeout), f"mosquitto_sub not subscribed: {self.lines}"

    def result(self):
        try:
            self.proc.wait(self.timeout + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        return self.lines

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
