# The browser test of the example web chat (examples/web-chat, issue 7): heraldd with a ws
# listener whose http_dir is the page as scripts/web-chat.sh prepares it, two users made through
# the admin API, and headless Debian Chromium driven by playwright-core
# (tests/node/web_chat_test.mjs) signing in as both: each sees the other come online, they
# exchange direct and group messages, a second browser of one user appears in her device list, one closes
# his page and the other sees him offline after the presence grace, a message sent meanwhile
# arrives when he signs in again. Screenshots of both pages go to tests/artifacts/.
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from helpers import BROKER_KIND, wait_until
from test_admin import ADMIN_PW, Admin

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto",
                                reason="the web chat needs heraldd's presence, streams and HTTP")

NODE_DIR = REPO_ROOT / "tests" / "node"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
GRACE_S = 1
USERS = {"ann": "ann-web-pw", "bob": "bob-web-pw"}
GROUP = "team"


def prepare_page(tmp_path):
    """The served directory, made by scripts/web-chat.sh with the MQTT.js of tests/node (the
    same npm package, already installed for the tests: no network needed here)."""
    mqtt_js = NODE_DIR / "node_modules" / "mqtt"
    for needed in (mqtt_js, NODE_DIR / "node_modules" / "playwright-core", Path(CHROMIUM)):
        if not needed.exists():
            pytest.fail(f"{needed} is missing: run scripts/deps.sh (chromium, and npm ci in tests/node)")
    if shutil.which("node") is None:
        pytest.fail("node is missing: run scripts/deps.sh")
    www = tmp_path / "www"
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "web-chat.sh"), str(www)], check=True,
                   env={**os.environ, "HERALD_MQTT_JS_DIR": str(mqtt_js)}, timeout=60)
    return www


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_web_chat_in_headless_chromium(make_broker, tmp_path):
    www = prepare_page(tmp_path)
    b = make_broker(f'allow_anonymous = false\nconnect_timeout = "60s"\n'
                    f'[presence]\ngrace = "{GRACE_S}s"\nvisibility = "all"\n'
                    f'[[listeners]]\ntype = "ws"\naddress = "127.0.0.1"\nport = 0\n'
                    f'http_dir = "{www}"\n',
                    env={"HERALD_ADMIN_PASSWORD": ADMIN_PW})
    ws_port = b.listen_ports["ws"][0]
    admin = Admin(b)
    cmds = [{"command": "createUser", "user": u, "password": p} for u, p in USERS.items()]
    cmds += [{"command": "createGroup", "group": GROUP}]
    cmds += [{"command": "addGroupMember", "group": GROUP, "user": u} for u in USERS]
    for answer in admin.run(*cmds, timeout=60):
        assert "error" not in answer, answer
    admin.c.disconnect()

    url = f"http://127.0.0.1:{ws_port}/"
    wait_until(lambda: http_ok(url), timeout=10, what=f"GET {url} answered 200")
    for old in ARTIFACTS.glob("web-chat-*.png"):
        old.unlink()
    cmd = ["node", str(NODE_DIR / "web_chat_test.mjs"), "--url", url,
           "--ann", f"ann:{USERS['ann']}", "--bob", f"bob:{USERS['bob']}", "--group", GROUP,
           "--grace", str(GRACE_S), "--artifacts", str(ARTIFACTS)]
    try:
        p = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, timeout=100)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the browser test did not finish within 100 s:\n{e.stdout or ''}{e.stderr or ''}")
    print(p.stdout, p.stderr)
    assert p.returncode == 0, f"browser test failed (status {p.returncode}):\n{p.stdout}\n{p.stderr}"
    assert p.stdout.count("ok: ") >= 9, p.stdout
    for user in USERS:
        shot = ARTIFACTS / f"web-chat-{user}.png"
        assert shot.exists() and shot.stat().st_size > 5000, f"no screenshot {shot}"
