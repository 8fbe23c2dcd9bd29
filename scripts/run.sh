#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run heraldd. With no arguments heraldd uses
# its embedded defaults (loopback only, port 1883, anonymous clients allowed); any arguments are
# passed on, e.g. `bash scripts/run.sh -c examples/herald.toml` or `bash scripts/run.sh -p 1884`.
# With npm present it also prepares the web chat in build/web-chat (scripts/web-chat.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh run
[ -f build/build.ninja ] || meson setup build
ninja -C build
# The example web chat (examples/web-chat/herald.toml serves it): needs npm once, for MQTT.js.
if command -v npm >/dev/null; then
    bash scripts/web-chat.sh build/web-chat || echo "run.sh: web chat not prepared (see above)" >&2
fi
exec build/broker/heraldd "$@"
