#!/usr/bin/env bash
# `hush scan` against detect-secrets and trufflehog3 (PyPI) on one generated
# corpus: starts its own hush server (the known values live there), installs
# the two peers into a venv if missing, then scripts/bench/scan.py does the
# work (see its docstring). Writes OUTDIR/scan.md.
#
#   scripts/bench/scan.sh HUSH OUTDIR [PORT]
#
# Environment: BENCH_SCAN_VENV (OUTDIR/scan-venv; scripts/bench.sh keeps it in
# its cache, which survives runs), BENCH_SCAN_FILES (200), BENCH_SCAN_ROUNDS (3),
# BENCH_SCAN_SEED (28).
set -euo pipefail
HUSH=$1 OUT=$2 PORT=${3:-18231}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"
trap stop_all EXIT
mkdir -p "$OUT"
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
VENV=${BENCH_SCAN_VENV:-$OUT/scan-venv}

for p in python3 git; do
  command -v "$p" >/dev/null || die "missing required program: $p"
done

# ---------------------------------------------------------------- peers
if [ ! -x "$VENV/bin/detect-secrets" ] || [ ! -x "$VENV/bin/trufflehog3" ]; then
  log "installing detect-secrets and trufflehog3 into $VENV (pip)"
  python3 -m venv "$VENV" >"$OUT/scan-venv.log" 2>&1 \
    || die "python3 -m venv failed (log: $OUT/scan-venv.log; on Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q detect-secrets trufflehog3 >>"$OUT/scan-venv.log" 2>&1 \
    || die "pip install detect-secrets trufflehog3 failed (log: $OUT/scan-venv.log)"
fi
log "peers: detect-secrets $("$VENV/bin/detect-secrets" --version), trufflehog3 $("$VENV/bin/trufflehog3" --version)"

# ---------------------------------------------------------------- hush server
DATA=$OUT/scan-data
rm -rf "$DATA"
mkdir -p "$DATA"
port_free "$PORT"
start_bg "$OUT/scan-server.log" env -u HUSH_ROOT_KEY HUSH_LOG=warn \
  "$HUSH" server --data-dir "$DATA" --listen "127.0.0.1:$PORT"
PID=$START_PID
URL=http://127.0.0.1:$PORT
wait_http "$URL/healthz" "$PID" "hush server (scan)" "$OUT/scan-server.log" 30
TOKEN=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "$URL" "$DATA/bootstrap-code") \
  || die "bootstrap of the scan benchmark's server failed"
HOME_DIR=$OUT/scan-home
mkdir -p "$HOME_DIR"
HUSH_SERVER=$URL HUSH_TOKEN=$TOKEN XDG_CONFIG_HOME=$HOME_DIR XDG_CACHE_HOME=$HOME_DIR/cache \
  python3 "$BENCH_DIR/scan.py" "$HUSH" "$OUT" "$VENV"
stop_pid "$PID"
