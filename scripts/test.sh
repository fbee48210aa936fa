#!/usr/bin/env bash
# Installs dependencies, builds with ASan+UBSan and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD=${BUILD_DIR:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DNC_SANITIZE=ON -DNC_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
# The whole tree (tests and benches too) must also compile optimised: -O2
# enables warnings (-Wformat-truncation, -Wmaybe-uninitialized) that a Debug
# build never sees. Build only; the sanitized tree above runs the tests.
RELEASE=${RELEASE_BUILD_DIR:-build-release}
cmake -S . -B "$RELEASE" -DCMAKE_BUILD_TYPE=Release -DNC_SANITIZE=OFF -DNC_BUILD_TESTS=ON \
  -DNC_BUILD_BENCH=ON >/dev/null
cmake --build "$RELEASE" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
ctest --output-on-failure -j2 "$@"
