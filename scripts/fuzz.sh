#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, the whole tree with clang and
# -fsanitize=fuzzer-no-link,address,undefined) and runs each for SECONDS.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 600 s, every target)
# Fails on any crash, leak, sanitizer report or timeout; the input that
# caused it is left in $BUILD/fuzz-artifacts/. New inputs a run finds go to
# $BUILD/fuzz-corpus/<target>/ (not the repo); tests/fuzz/corpus/<target>/
# holds the seeds and regression inputs, run every time.
#   FUZZ_BUILD_DIR (build-fuzz),
#   FUZZ_SKIP_DEPS=1 (do not run scripts/deps.sh), FUZZ_ARGS (more libFuzzer flags)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-600}
shift || true
[ "${FUZZ_SKIP_DEPS:-0}" = 1 ] || scripts/deps.sh
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=()
  for f in tests/fuzz/fuzz_*.c; do TARGETS+=("$(basename "$f" .c)"); done
fi
# -O1 with debug info: fast enough to fuzz, stack traces still readable.
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
  -DNC_FUZZ=ON -DNC_BUILD_TESTS=OFF -DNC_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs"
failed=()
printf '%-14s %8s %8s %8s %10s %s\n' target seconds cov ft exec/s result
for t in "${TARGETS[@]}"; do
  corpus="$BUILD/fuzz-corpus/${t#fuzz_}"
  seeds="tests/fuzz/corpus/${t#fuzz_}"
  log="$BUILD/fuzz-logs/$t.log"
  mkdir -p "$corpus"
  rc=0
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or
  # runaway state in the long-lived server/agent the targets hold.
  # shellcheck disable=SC2086
  "$BUILD/tests/fuzz/$t" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/$t-" ${FUZZ_ARGS:-} \
    "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log")
  res=ok
  if [ "$rc" -ne 0 ]; then
    res="FAILED (exit $rc, log $log)"
    failed+=("$t")
  fi
  printf '%-14s %8s %8s %8s %10s %s\n' "${t#fuzz_}" "$SECONDS_PER" "${cov:--}" "${ft:--}" \
    "${eps:--}" "$res"
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "---- $t: last lines of $BUILD/fuzz-logs/$t.log" >&2
    tail -n 40 "$BUILD/fuzz-logs/$t.log" >&2
  done
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}; inputs in $BUILD/fuzz-artifacts/" >&2
  exit 1
fi
echo "fuzz: every target ran ${SECONDS_PER} s without a finding"
