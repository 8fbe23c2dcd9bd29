#!/usr/bin/env bash
# Prepares the example web chat for serving: installs MQTT.js with `npm ci` (once per change of
# examples/web-chat/package-lock.json) and copies the page with MQTT.js's browser build
# (mqtt.esm.js) into OUT, the directory a ws listener's http_dir points at. The page then needs
# no CDN and no internet.
#
#   bash scripts/web-chat.sh [OUT]        OUT defaults to build/web-chat
#
# HERALD_MQTT_JS_DIR=DIR takes MQTT.js from DIR (an installed `mqtt` package) instead of npm:
# the browser test uses the copy already installed in tests/node.
set -euo pipefail
cd "$(dirname "$0")/.."

src=examples/web-chat
out=${1:-build/web-chat}
mqtt_dir=${HERALD_MQTT_JS_DIR:-}

if [ -z "$mqtt_dir" ]; then
    mqtt_dir=$src/node_modules/mqtt
    stamp=$src/node_modules/.herald-package-lock.json
    if ! cmp -s "$src/package-lock.json" "$stamp"; then
        if ! command -v npm >/dev/null; then
            echo "web-chat.sh: npm is needed to fetch MQTT.js (apt-get install npm)" >&2
            exit 1
        fi
        if (cd "$src" && npm ci --no-audit --no-fund --loglevel=error); then
            cp "$src/package-lock.json" "$stamp"
        elif [ -f tests/node/node_modules/mqtt/dist/mqtt.esm.js ]; then
            # No registry (offline): the tests' copy of the same package will do.
            echo "web-chat.sh: npm ci failed; using tests/node/node_modules/mqtt" >&2
            mqtt_dir=tests/node/node_modules/mqtt
        else
            exit 1
        fi
    fi
fi
if [ ! -f "$mqtt_dir/dist/mqtt.esm.js" ]; then
    echo "web-chat.sh: $mqtt_dir/dist/mqtt.esm.js not found" >&2
    exit 1
fi

mkdir -p "$out"
cp "$src"/index.html "$src"/*.js "$src"/style.css "$out"/
cp "$mqtt_dir/dist/mqtt.esm.js" "$out"/mqtt.esm.js
cp "$mqtt_dir/LICENSE.md" "$out"/mqtt.LICENSE.md 2>/dev/null || true
echo "web chat ready in $out"
