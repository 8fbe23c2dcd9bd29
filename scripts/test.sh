#!/usr/bin/env bash
# Quick start 2: install what is missing, build, and run every test of Herald.
#
# Stages: a debugoptimized build (build/) and an ASan+UBSan build (build-asan/); for each, the
# doctest unit tests and the pytest integration tests against that build's heraldd; then the
# libFuzzer targets (clang, build-fuzz/) for FUZZ_SECONDS each. A failing stage does not stop the
# others. Every test case is counted; the last line is "N passed, N failed" and the exit status
# is 1 when anything failed.
# Environment: JOBS (ninja parallelism, 2), FUZZ_SECONDS (30), PYTEST_WORKERS (4: the integration
# tests mostly wait on sockets and timers, so they run side by side with pytest-xdist; each starts
# its own broker on its own port), PYTEST_ARGS (extra pytest args),
# STAGES (a subset of "build asan fuzz", default all of them).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
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

# build DIR [meson setup args...]: configure once, then build $TARGETS (empty: everything that
# can be built).
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" || return 1
  fi
  # shellcheck disable=SC2086
  ninja -C "$dir" -j"$JOBS" -k 0 ${TARGETS:-}
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

# One build configuration: build it, then its unit and integration tests.
build_and_test() {  # build_and_test DIR LABEL [meson setup args...]
  local dir=$1 label=$2; shift 2
  banner "build $dir ($label)"
  if build "$dir" "$@"; then
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

fuzz_tests() {
  banner "fuzz targets (${FUZZ_SECONDS}s each)"
  if [ ! -f build-fuzz/build.ninja ]; then
    if ! CXX=clang++ meson setup build-fuzz -Dfuzz=true; then
      record "fuzz build" 0 1; return
    fi
  fi
  # Build only the targets defined in tests/fuzz (not the whole project a third time).
  local targets
  targets=$($PY - <<'EOF'
import json, subprocess
t = json.loads(subprocess.run(["meson", "introspect", "build-fuzz", "--targets"],
                              capture_output=True, text=True).stdout or "[]")
for x in t:
    if "/tests/fuzz/" in x.get("defined_in", "") and x.get("type") == "executable":
        for f in x["filename"]:
            print(f.replace(__import__("os").getcwd() + "/build-fuzz/", ""))
EOF
)
  if [ -z "$targets" ]; then
    record "fuzz build" 0 1 "no fuzz targets found in build-fuzz"; return
  fi
  # shellcheck disable=SC2086
  if ! ninja -C build-fuzz -j"$JOBS" $targets; then
    record "fuzz build" 0 1; return
  fi
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

if [[ "$STAGES" == *" build "* ]]; then
  build_and_test build debugoptimized --buildtype=debugoptimized
fi
if [[ "$STAGES" == *" asan "* ]]; then
  # Under the sanitizers only the broker and the unit tests are built: the integration tests
  # drive the sanitized heraldd with the herald tool of build/ (tools are tested there).
  TARGETS=broker/heraldd build_and_test build-asan asan+ubsan --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false
fi
if [[ "$STAGES" == *" fuzz "* ]]; then
  if [ -f tests/fuzz/meson.build ]; then
    fuzz_tests
  else
    summary+=("  fuzz: no tests/fuzz/meson.build, skipped")
  fi
fi

banner "summary ($(( $(date +%s) - started ))s)"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
