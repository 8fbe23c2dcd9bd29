#!/usr/bin/env bash
# Installs the Debian 12 packages Herald needs, and only those that are missing: when everything
# is there this is a few dpkg lookups and no network. Usage: scripts/deps.sh [run|test]
#   run  - what building and running heraldd needs
#   test - that, plus what the tests need (mosquitto tools, paho, pytest, clang for the fuzzers,
#          chromium), and the npm packages of tests/node (MQTT.js, playwright-core)
set -euo pipefail

set_name=${1:-run}
run_pkgs=(build-essential g++ meson ninja-build pkg-config libuv1-dev libssl-dev
          nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
          doctest-dev libsqlite3-dev libwebsockets-dev libwebsockets-evlib-uv)
test_pkgs=(mosquitto mosquitto-clients python3-paho-mqtt python3-pytest python3-pytest-xdist tmux
           clang libclang-rt-14-dev chromium openssl)

case "$set_name" in
  run)  pkgs=("${run_pkgs[@]}") ;;
  test) pkgs=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *)    echo "usage: $0 [run|test]" >&2; exit 2 ;;
esac

# One dpkg query for all of them (the same database dpkg -s reads): "ii" = installed.
installed=" $(dpkg-query -W -f='${Package}:${db:Status-Abbrev} ' "${pkgs[@]}" 2>/dev/null \
              | tr ' ' '\n' | sed -n 's/:ii$//p' | tr '\n' ' ') "
missing=()
for p in "${pkgs[@]}"; do
  [[ "$installed" == *" $p "* ]] || missing+=("$p")
done

# npm packages of the tests (tests/node/package-lock.json), installed once into tests/node.
node_deps() {
  [ "$set_name" = test ] || return 0
  local dir
  dir="$(dirname "$0")/../tests/node"
  [ -d "$dir/node_modules/mqtt" ] && [ -d "$dir/node_modules/playwright-core" ] && return 0
  command -v npm >/dev/null || { echo "deps: npm not found (Node.js is needed by the tests)" >&2; return 1; }
  echo "deps: npm ci in tests/node" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ ${#missing[@]} -eq 0 ]; then node_deps; exit $?; fi

echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
node_deps
