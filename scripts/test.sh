#!/usr/bin/env bash
# Quick start 2: install what is missing, build, and run every test of Herald.
#
# Stages: a debugoptimized build (build/) and an ASan+UBSan build (build-asan/); for each, the
# doctest unit tests and the pytest integration tests against that build's heraldd; then the
# libFuzzer targets (clang, build-fuzz/) for FUZZ_SECONDS each. A failing stage does not stop the
# others. Every test case is counted; the last line is "N passed, N failed" and the exit status
# is 1 when anything failed.
# Speed (about 25 CPU-minutes in all; 14.5-16 minutes of wall clock on 2 cores): unity builds
# (-Dunity=on: the heavy headers parsed and their templates compiled once per few sources; if
# two sources of a unit clash on a file-local name, the build is redone without unity, with a
# warning); the sanitized build at -O1 -g1 (ASan's advice; its reports need only line tables),
# 2-3x cheaper to compile than -O2 -g; the sanitized and fuzz builds run in the background at
# nice 19 while the tests before them run; cheap password hashes in the integration tests
# (tests/integration/helpers.py, FULL_HASH_COST).
# Environment: JOBS (ninja parallelism, 2), FUZZ_SECONDS (20: four targets, two at a time), PYTEST_WORKERS (4: the integration
# tests mostly wait on sockets and timers, so they run side by side with pytest-xdist; each starts
# its own broker on its own port), PYTEST_ARGS (extra pytest args),
# STAGES (a subset of "build asan fuzz", default all of them).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
STAGES=" ${STAGES:-build asan fuzz} "
PY=/usr/bin/python3   # Debian's python: the one that sees python3-paho-mqtt and python3-pytest
# A small quarantine: ASan's default (256 MiB of freed memory held back) would make the tests that
# bound the broker's memory (slow consumers, floods) measure ASan instead of heraldd.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=8}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export HERALD_TEST_START_TIMEOUT=${HERALD_TEST_START_TIMEOUT:-20}   # sanitized builds start slower

total_passed=0
total_failed=0
summary=()
started=$(date +%s)

record() {  # record STAGE PASSED FAILED [NOTE]
  summary+=("$(printf '%-30s %5d passed, %5d failed%s' "$1" "$2" "$3" "${4:+   ($4)}")")
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
  printf '>>> %s: %d passed, %d failed%s\n' "$1" "$2" "$3" "${4:+ ($4)}"
}

banner() { printf '\n======== %s ========\n' "$*"; }

# configure DIR [meson setup args...]: once; a unity build (see the top of this file).
configure() {
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" -Dunity=on "$@"
}

# build DIR [meson setup args...]: configure once, then build $TARGETS (empty: everything that
# can be built). When the unity build fails it is tried again without unity: two sources of one
# unit defining the same file-local name (say a helper in two anonymous namespaces) is no error
# of the code, so it must not fail the CI; the warning says which clash to rename.
build() {
  local dir=$1; shift
  configure "$dir" "$@" || return 1
  # shellcheck disable=SC2086
  ninja -C "$dir" -j"$JOBS" -k 0 ${TARGETS:-} && return 0
  meson introspect "$dir" --buildoptions | grep -q '"name": "unity", "value": "on"' || return 1
  echo "WARNING: the unity build of $dir failed; building it again without unity (slower). If" \
       "that works, two sources of one unity unit clash on a name (errors above): rename one." >&2
  meson configure "$dir" -Dunity=off || return 1
  # shellcheck disable=SC2086
  ninja -C "$dir" -j"$JOBS" -k 0 ${TARGETS:-}
}

# executables_in DIR FOLDER: the executables defined in FOLDER's meson.build, as ninja targets.
executables_in() {
  $PY - "$1" "$2" <<'EOF'
import json, os, subprocess, sys
d, folder = sys.argv[1], sys.argv[2]
t = json.loads(subprocess.run(["meson", "introspect", d, "--targets"],
                              capture_output=True, text=True).stdout or "[]")
for x in t:
    if x.get("type") == "executable" and "/" + folder + "/" in x.get("defined_in", ""):
        for f in x["filename"]:
            print(os.path.relpath(f, os.path.realpath(d)))
EOF
}

unit_tests() {  # unit_tests DIR LABEL
  local dir=$1 label=$2 p f
  banner "unit tests ($label)"
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs   # builds the unit test executables if not yet built
  read -r p f < <($PY scripts/count_results.py meson "$dir")
  record "unit ($label)" "$p" "$f"
}

integration_tests() {  # integration_tests DIR LABEL
  local dir=$1 label=$2 xml="$ROOT/$1/integration-junit.xml" p f
  banner "integration tests ($label: $dir/broker/heraldd)"
  rm -f "$xml"
  # shellcheck disable=SC2086
  HERALD_TEST_BROKER=heraldd HERALDD="$ROOT/$dir/broker/heraldd" \
    $PY -m pytest tests/integration -q -n "${PYTEST_WORKERS:-4}" -p no:cacheprovider \
      --junitxml="$xml" ${PYTEST_ARGS:-}
  read -r p f < <($PY scripts/count_results.py junit "$xml")
  record "integration ($label)" "$p" "$f"
}

# The tests of one built configuration (build_ok: 0 when its build succeeded).
test_build() {  # test_build DIR LABEL BUILD_OK
  local dir=$1 label=$2
  if [ "$3" -eq 0 ]; then
    summary+=("$(printf '%-30s ok' "build ($label)")")
    unit_tests "$dir" "$label"
    integration_tests "$dir" "$label"
  else
    record "build ($label)" 0 1 "unit tests not run"
    # The broker may still build even when some other target does not: test it if so.
    if [ -f "$dir/build.ninja" ] && ninja -C "$dir" -j"$JOBS" broker/heraldd; then
      integration_tests "$dir" "$label"
    else
      summary+=("  integration ($label): not run, heraldd does not build")
    fi
  fi
}

# The sanitized build: only the broker and the unit tests (the integration tests drive the
# sanitized heraldd with the herald tool of build/, tools are tested there).
asan_build() {
  configure build-asan -Doptimization=1 -Ddebug=true -Dcpp_args=-g1 \
    -Db_sanitize=address,undefined -Db_lundef=false || return 1
  # shellcheck disable=SC2046
  TARGETS="broker/heraldd $(executables_in build-asan tests/unit | tr '\n' ' ')" build build-asan
}

# The fuzz build (clang): only the targets defined in tests/fuzz, listed in build-fuzz/targets.
fuzz_build() {
  if [ ! -f build-fuzz/build.ninja ]; then
    CXX=clang++ meson setup build-fuzz -Dfuzz=true || return 1
  fi
  executables_in build-fuzz tests/fuzz > build-fuzz/targets
  if [ ! -s build-fuzz/targets ]; then
    echo "no fuzz targets found in build-fuzz"; return 1
  fi
  # shellcheck disable=SC2046
  ninja -C build-fuzz -j"$JOBS" $(cat build-fuzz/targets)
}

# Where the background builds write their output (see start_background_builds).
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

fuzz_run() {
  banner "fuzz targets (${FUZZ_SECONDS}s each)"
  local targets
  targets=$(cat build-fuzz/targets)
  local p=0 f=0 t name seeds work i
  local -a pids=() names=()
  mkdir -p build-fuzz/artifacts
  # reap: wait for the oldest running fuzzer and count its result.
  reap() {
    local pid=${pids[0]} n=${names[0]}
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
    if wait "$pid"; then
      p=$((p + 1)); echo "--- $n: ok"; grep -E '^(stat::|Done|#[0-9]+ *DONE)' "build-fuzz/$n.log" | tail -n 3
    else
      f=$((f + 1)); echo "--- $n: FAILED"; tail -n 60 "build-fuzz/$n.log"
    fi
  }
  for t in $targets; do
    name=$(basename "$t")
    seeds=tests/fuzz/corpus/$name
    [ -d "$seeds" ] || seeds=tests/fuzz/corpus
    work=build-fuzz/corpus/$name   # libFuzzer writes new inputs into the first dir: not the repo
    mkdir -p "$work"
    echo "--- $name: ${FUZZ_SECONDS}s (seeds: $seeds)"
    # shellcheck disable=SC2046
    timeout $((FUZZ_SECONDS + 120)) "build-fuzz/$t" -max_total_time="$FUZZ_SECONDS" \
      -artifact_prefix="build-fuzz/artifacts/$name-" -timeout=10 -print_final_stats=1 \
      "$work" $( [ -d "$seeds" ] && echo "$seeds" ) > "build-fuzz/$name.log" 2>&1 &
    pids+=($!); names+=("$name")
    [ ${#pids[@]} -ge "$JOBS" ] && reap
  done
  while [ ${#pids[@]} -gt 0 ]; do reap; done
  record "fuzz" "$p" "$f"
}

banner "dependencies"
if ! bash scripts/deps.sh test; then
  record "dependencies" 0 1 "could not install packages"
fi

want() { [[ "$STAGES" == *" $1 "* ]]; }
want fuzz && [ ! -f tests/fuzz/meson.build ] && {
  summary+=("  fuzz: no tests/fuzz/meson.build, skipped"); STAGES=${STAGES/ fuzz / }; }

# The sanitized build, then the fuzz build, one after the other in the background at nice 19:
# they take the CPU the tests of the stage before leave idle, and only that. Each writes
# $LOGS/NAME.log and, when done, its exit status to $LOGS/NAME.rc.
bg_pid=
start_background_builds() {
  (
    if want asan; then ( renice -n 19 -p "$BASHPID" > /dev/null; asan_build ) > "$LOGS/asan.log" 2>&1
                       echo $? > "$LOGS/asan.rc.tmp"; mv "$LOGS/asan.rc.tmp" "$LOGS/asan.rc"; fi
    if want fuzz; then ( renice -n 19 -p "$BASHPID" > /dev/null; fuzz_build ) > "$LOGS/fuzz.log" 2>&1
                       echo $? > "$LOGS/fuzz.rc.tmp"; mv "$LOGS/fuzz.rc.tmp" "$LOGS/fuzz.rc"; fi
  ) &
  bg_pid=$!
}
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
# await NAME: waits for the background build NAME, prints its output, returns its status. Nothing
# runs in the foreground meanwhile, so the build gets its normal priority back (when root: only
# root may lower a niceness; else it stays low, which costs nothing on an idle machine).
await() {
  # shellcheck disable=SC2046
  renice -n 0 -p $(descendants "$bg_pid") > /dev/null 2>&1
  while [ ! -f "$LOGS/$1.rc" ] && kill -0 "$bg_pid" 2> /dev/null; do sleep 1; done
  banner "build $1 (done in the background; its output)"
  cat "$LOGS/$1.log" 2> /dev/null
  return "$(cat "$LOGS/$1.rc" 2> /dev/null || echo 1)"
}

if want build; then
  banner "build build (debugoptimized)"
  build build --buildtype=debugoptimized; ok=$?
  start_background_builds
  test_build build debugoptimized "$ok"
else
  start_background_builds
fi
if want asan; then
  await asan; ok=$?
  test_build build-asan asan+ubsan "$ok"
fi
if want fuzz; then
  if await fuzz; then
    fuzz_run
  else
    record "fuzz build" 0 1
  fi
fi
wait

banner "summary ($(( $(date +%s) - started ))s)"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
