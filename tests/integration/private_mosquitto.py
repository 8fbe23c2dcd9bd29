# A mosquitto of a test's own: on a free loopback port (and a Unix socket), anonymous clients
# allowed unless asked otherwise, no persistence, stopped by PID. For tests that need the
# reference broker next to heraldd in the same run (the `herald` tool must work with any broker;
# mosquitto lets a client publish what heraldd would refuse, such as forged presence records).
# websockets=True adds a `protocol websockets` listener on ws_port.
import os
import signal
import socket
import subprocess
import time

START_TIMEOUT = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    kind = "mosquitto"

    def __init__(self, tmp_path, anonymous=True, websockets=False):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.unix_path = str(tmp_path / f"mosq-{self.port}.sock")
        conf = tmp_path / f"mosquitto-{self.port}.conf"
        lines = [f"listener {self.port} 127.0.0.1", f"listener 0 {self.unix_path}",
                 f"allow_anonymous {'true' if anonymous else 'false'}", "persistence false",
                 "log_dest stderr", "log_type all", "max_keepalive 65535"]
        if os.geteuid() == 0:
            lines.append("user root")   # else mosquitto drops to user mosquitto and cannot read tmp
        self.ws_port = None
        if websockets:  # MQTT over WebSocket (any path); 2.0.11 needs the TCP listener above too
            self.ws_port = free_port()
            lines += [f"listener {self.ws_port} 127.0.0.1", "protocol websockets"]
        conf.write_text("\n".join(lines) + "\n")
        self.log_path = tmp_path / f"mosquitto-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while "running" not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mosquitto did not start:\n" +
                                   self.log_path.read_text(errors="replace"))
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
