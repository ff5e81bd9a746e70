#!/usr/bin/env bash
# Masking throughput of `hush run` by secret shape: starts its own hush server,
# then scripts/bench/masking.py does the work (see its docstring).
#
#   scripts/bench/masking.sh HUSH OUTDIR [PORT]
#
# Environment: BENCH_MASK_MIB (32), BENCH_MASK_REPEAT (8), BENCH_MASK_ROUNDS (3),
# BENCH_MASK_SETS (comma-separated subset of the set names).
set -euo pipefail
HUSH=$1 OUT=$2 PORT=${3:-18230}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"
trap stop_all EXIT
mkdir -p "$OUT"
DATA=$OUT/masking-data
rm -rf "$DATA"
mkdir -p "$DATA"
port_free "$PORT"
start_bg "$OUT/masking-server.log" env -u HUSH_ROOT_KEY HUSH_LOG=warn \
  "$HUSH" server --data-dir "$DATA" --listen "127.0.0.1:$PORT"
PID=$START_PID
URL=http://127.0.0.1:$PORT
wait_http "$URL/healthz" "$PID" "hush server (masking)" "$OUT/masking-server.log" 30
TOKEN=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "$URL" "$DATA/bootstrap-code") \
  || die "bootstrap of the masking benchmark's server failed"
HOME_DIR=$OUT/masking-home
mkdir -p "$HOME_DIR"
HUSH_SERVER=$URL HUSH_TOKEN=$TOKEN HUSH_PROJECT=default XDG_CONFIG_HOME=$HOME_DIR \
  XDG_CACHE_HOME=$HOME_DIR/cache python3 "$BENCH_DIR/masking.py" "$HUSH" "$OUT"
stop_pid "$PID"
