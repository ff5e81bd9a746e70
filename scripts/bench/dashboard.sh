#!/usr/bin/env bash
# Page weight and server time of the web dashboard: starts its own hush
# server, then scripts/bench/dashboard.py seeds 200 keys x 3 environments and
# measures the pages (see its docstring).
#
#   scripts/bench/dashboard.sh HUSH OUTDIR [PORT]
#
# Environment: BENCH_DASH_REQUESTS (60) requests per page.
set -euo pipefail
HUSH=$1 OUT=$2 PORT=${3:-18232}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"
trap stop_all EXIT
mkdir -p "$OUT"
DATA=$OUT/dashboard-data
rm -rf "$DATA"
mkdir -p "$DATA"
port_free "$PORT"
start_bg "$OUT/dashboard-server.log" env -u HUSH_ROOT_KEY HUSH_LOG=warn \
  "$HUSH" server --data-dir "$DATA" --listen "127.0.0.1:$PORT"
PID=$START_PID
URL=http://127.0.0.1:$PORT
wait_http "$URL/healthz" "$PID" "hush server (dashboard)" "$OUT/dashboard-server.log" 30
TOKEN=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "$URL" "$DATA/bootstrap-code") \
  || die "bootstrap of the dashboard benchmark's server failed"
python3 "$BENCH_DIR/dashboard.py" "$URL" "$TOKEN" "$OUT"
stop_pid "$PID"
