#!/usr/bin/python3
"""Memory per idle connection: heraldd against mosquitto, in one run.

For each broker: start it on a free loopback port, read VmRSS from /proc/PID/status, open N
idle connections from source addresses 127.0.0.2.. (so ephemeral ports never run out), send
each an MQTT 5.0 CONNECT (clean start, keepalive 60, distinct client id) and wait for every
CONNACK, optionally one SUBSCRIBE per client (its own topic) and its SUBACK, read VmRSS again,
and print (after - before) / N. Modes:
  connect    CONNECT only (the default; what the goal is measured on)
  tcp        TCP connections only, no CONNECT (the transport's share)
  subscribe  CONNECT + one SUBSCRIBE per client

Loopback only, bounded in count and time; the brokers started here are stopped by PID.
Usage: bench/idle_memory.py [-n 10000] [--mode connect|tcp|subscribe]
                            [--heraldd PATH] [--mosquitto PATH] [--only heraldd|mosquitto]
"""

import argparse
import os
import resource
import select
import socket
import struct
import subprocess
import sys
import time

SOURCES = 200  # 127.0.0.2 .. 127.0.0.201


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id):
    # Protocol name, level 5, flags: clean start; keepalive 60; no properties.
    body = mqtt_str("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + b"\x00"
    body += mqtt_str(client_id)
    return b"\x10" + varint(len(body)) + body


def subscribe_packet(packet_id, topic):
    body = struct.pack("!H", packet_id) + b"\x00" + mqtt_str(topic) + b"\x01"
    return b"\x82" + varint(len(body)) + body


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not listen in time")


def read_packets(socks, want_type, timeout):
    """Reads until every socket in `socks` got one packet of type `want_type` (high nibble)."""
    pending = {s.fileno(): s for s in socks}
    buffers = {}
    deadline = time.monotonic() + timeout
    poller = select.epoll()
    for fd in pending:
        poller.register(fd, select.EPOLLIN)
    try:
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{len(pending)} connections got no reply in time")
            for fd, _ in poller.poll(min(left, 1.0)):
                s = pending.get(fd)
                if s is None:
                    continue
                data = s.recv(4096)
                if not data:
                    raise RuntimeError("broker closed a connection")
                buf = buffers.get(fd, b"") + data
                if buf and (buf[0] >> 4) != want_type:
                    raise RuntimeError(f"unexpected packet type {buf[0] >> 4}")
                if len(buf) >= 2 and (buf[0] >> 4) == want_type:
                    if want_type == 2 and len(buf) >= 4 and buf[3] != 0:
                        raise RuntimeError(f"CONNACK refused: reason {buf[3]:#x}")
                    del pending[fd]
                    poller.unregister(fd)
                else:
                    buffers[fd] = buf
    finally:
        poller.close()


def measure(name, argv, n, mode):
    port = free_port()
    proc = subprocess.Popen(argv + ["-p", str(port)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_port(port, proc)
        time.sleep(0.3)
        before = rss_bytes(proc.pid)
        t0 = time.monotonic()
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((f"127.0.0.{2 + i % SOURCES}", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            if mode != "tcp":
                s.sendall(connect_packet(f"idle-{name}-{i:06d}"))
            socks.append(s)
        if mode != "tcp":
            read_packets(socks, 2, 60)
        if mode == "subscribe":
            for i, s in enumerate(socks):
                s.sendall(subscribe_packet(1, f"idle/{i}/presence"))
            read_packets(socks, 9, 60)
        elapsed = time.monotonic() - t0
        time.sleep(1.0)  # let the broker finish its turn (logging, flushes)
        after = rss_bytes(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        per = (after - before) / n
        print(f"{name:10s} mode={mode:9s} n={n} rss before={before / 1e6:.1f} MB "
              f"after={after / 1e6:.1f} MB  {per:.0f} B/connection  ({elapsed:.1f} s)",
              flush=True)
        return per
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000, help="connections (default 10000)")
    ap.add_argument("--mode", choices=["connect", "tcp", "subscribe"], default="connect")
    ap.add_argument("--heraldd", default=os.environ.get(
        "HERALDD", os.path.join(here, "..", "build", "broker", "heraldd")))
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--only", choices=["heraldd", "mosquitto"])
    args = ap.parse_args()

    # Both brokers inherit the raised limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.n + 1024
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is below {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    results = {}
    if args.only in (None, "heraldd"):
        results["heraldd"] = measure("heraldd", [args.heraldd], args.n, args.mode)
    if args.only in (None, "mosquitto"):
        results["mosquitto"] = measure("mosquitto", [args.mosquitto], args.n, args.mode)
    if len(results) == 2:
        print(f"ratio heraldd/mosquitto: {results['heraldd'] / results['mosquitto']:.2f}")


if __name__ == "__main__":
    main()
