#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run heraldd. With no arguments heraldd uses
# its embedded defaults (loopback only, port 1883, anonymous clients allowed); any arguments are
# passed on, e.g. `bash scripts/run.sh -c examples/herald.toml` or `bash scripts/run.sh -p 1884`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh run
[ -f build/build.ninja ] || meson setup build
ninja -C build
exec build/broker/heraldd "$@"
