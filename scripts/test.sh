#!/usr/bin/env bash
# scripts/test.sh — the README's test command: sets up what is missing,
# builds qalert twice (a normal build in build/ and an ASan+UBSan build in
# build-asan/), runs the unit tests on the first and the whole suite (unit,
# emulator self-tests, integration tests against a real Apache Kafka broker)
# on the second, then the demo non-interactively (it checks what the sink
# emulators received), then each libFuzzer target for a bounded time.
#   QALERT_TEST_FUZZ_SECONDS  seconds per fuzz target (default 15; 0 skips)
#   QALERT_TEST_NO_BROKER=1   skip broker tests on purpose (never in CI)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
"$top/scripts/setup.sh"
jobs=$(nproc)

step() { echo; echo "== $* ($(( $(date +%s) - t0 ))s)"; }

step "normal build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs"

step "sanitizer build (build-asan/, ASan+UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQALERT_SANITIZE=ON >/dev/null
ninja -C build-asan -j "$jobs"

step "unit tests, normal build"
ctest --test-dir build -L unit --output-on-failure -j "$jobs"

step "whole suite under ASan+UBSan, real Kafka broker"
ctest --test-dir build-asan --output-on-failure

step "demo, non-interactive: the whole pipeline, checked at the emulators"
QALERT_KAFKA_PORT=${QALERT_DEMO_KAFKA_PORT:-29092} QALERT_DEMO_STATE="$top/build/demo" \
  "$top/scripts/demo.sh" --no-wait

fuzz_seconds=${QALERT_TEST_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != 0 ]; then
  step "fuzz targets, ${fuzz_seconds}s each (clang, libFuzzer)"
  CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQALERT_FUZZ=ON \
    -DQALERT_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  ninja -C build-fuzz -j "$jobs"
  ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi
step "all tests passed"
