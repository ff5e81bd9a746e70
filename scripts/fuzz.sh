#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and
# prints one line per target: executions, corpus size, crashes.
#
#   scripts/fuzz.sh [SECONDS]
#
# Not part of the test command (scripts/test.sh, .ci/run). Needs a nightly
# toolchain (used when installed) or a stable one with its sanitizer
# runtimes, driven with RUSTC_BOOTSTRAP=1. Installs cargo-fuzz if missing.
#
# Each target grows its corpus in fuzz/work/TARGET (ignored by git) and reads
# the committed seeds in fuzz/corpus/TARGET; a crash leaves its input in
# fuzz/artifacts/TARGET and makes this script exit 1.
#
# Environment: FUZZ_SANITIZER (default none; e.g. address), FUZZ_JOBS
# (cargo build jobs, default 1), FUZZ_TARGETS (space-separated subset).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

export CARGO_BUILD_JOBS="${FUZZ_JOBS:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: installing it from crates.io"
  nice -n 19 cargo install cargo-fuzz --locked -j "$CARGO_BUILD_JOBS"
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  how="cargo +nightly fuzz (nightly toolchain)"
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  how="RUSTC_BOOTSTRAP=1 cargo fuzz (stable toolchain, no nightly installed)"
fi

# Safe Rust (hush denies unsafe code outside one OS module), so the default
# is no sanitizer, which would mostly cost executions on a small machine.
# libFuzzer still catches panics, overflows (debug assertions are on),
# timeouts and out-of-memory.
flags=(--sanitizer "${FUZZ_SANITIZER:-none}" --codegen-units 16)

targets="${FUZZ_TARGETS:-$("${fuzz[@]}" list)}"
echo "fuzzing with: $how, ${flags[*]}, ${seconds}s per target"
mkdir -p work
if ! nice -n 19 "${fuzz[@]}" build "${flags[@]}" >work/build.log 2>&1; then
  cat work/build.log >&2
  echo "building the fuzz targets failed" >&2
  exit 1
fi

failed=0
for t in $targets; do
  mkdir -p "work/$t" "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  log="work/$t.log"
  set +e
  nice -n 19 "${fuzz[@]}" run "${flags[@]}" "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=30 \
    -rss_limit_mb=2048 >"$log" 2>&1
  rc=$?
  set -e
  after=$(find "artifacts/$t" -type f | wc -l)
  crashes=$((after - before))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -n1)
  if [ -z "$execs" ]; then
    execs=$(grep -Eo '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
  fi
  corpus=$(grep -Eo 'corp: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
  printf '%-16s executions %10s   corpus %6s   crashes %s\n' \
    "$t" "${execs:-?}" "${corpus:-?}" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "  $t failed (exit $rc); log: fuzz/$log; inputs: fuzz/artifacts/$t/" >&2
  fi
done
exit "$failed"
