#!/usr/bin/env bash
# Installs the Debian 12 packages Herald needs, and only those that are missing: when everything
# is there this is a few dpkg lookups and no network. Usage: scripts/deps.sh [run|test]
#   run  - what building and running heraldd needs
#   test - that, plus what the tests need (mosquitto tools, paho, pytest, clang for the fuzzers)
set -euo pipefail

set_name=${1:-run}
run_pkgs=(build-essential g++ meson ninja-build pkg-config libuv1-dev libssl-dev
          nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
          doctest-dev libsqlite3-dev)
test_pkgs=(mosquitto mosquitto-clients python3-paho-mqtt python3-pytest python3-pytest-xdist tmux
           clang libclang-rt-14-dev)

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
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
