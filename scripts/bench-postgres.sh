#!/usr/bin/env bash
# hush on PostgreSQL: reads/s and writes/s through one replica, then through two
# replicas sharing one database (the load split evenly: one wrk per replica,
# half the connections each, rates summed).
#
#   scripts/bench-postgres.sh
#
# Environment (all optional):
#   BENCH_DATABASE_URL   admin connection used to create/drop a scratch database
#                        [default: $TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres]
#   HUSH_BIN             a hush binary to measure instead of building one in release
#   BENCH_DURATION=12 BENCH_WARMUP=2 BENCH_CONNECTIONS=32 BENCH_THREADS=2 (as scripts/bench.sh)
#   BENCH_PORT_BASE=18240                ports base and base+1 on 127.0.0.1
#   BENCH_POOL_SIZE=10                   HUSH_DATABASE_POOL_SIZE of each replica
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH_DIR=$ROOT/scripts/bench
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
export BENCH_OUT=$TARGET_DIR/bench-postgres
PORT_BASE=${BENCH_PORT_BASE:-18240}
ADMIN_URL=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}

# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"

rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT"
: >"$BENCH_OUT/results.tsv"

for p in psql curl python3 awk setsid getconf; do
  command -v "$p" >/dev/null || die "missing required program: $p"
done
ensure_wrk || die "wrk is not installed and 'apt-get install -y wrk' failed"

if [ -n "${HUSH_BIN:-}" ]; then
  HUSH=$HUSH_BIN
else
  log "building hush (release, CARGO_TARGET_DIR=$TARGET_DIR)"
  CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --bin hush >"$BENCH_OUT/build.log" 2>&1 \
    || die "cargo build --release failed (log: $BENCH_OUT/build.log)"
  HUSH=$TARGET_DIR/release/hush
fi

# A scratch database, dropped on exit.
DB=hush_bench_$$
base=${ADMIN_URL%%\?*}
DB_URL="${base%/*}/$DB"
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" || die "cannot create database $DB"
cleanup() {
  stop_all
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HUSH_ROOT_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export HUSH_ROOT_KEY HUSH_LOG=warn HUSH_DATABASE_POOL_SIZE=${BENCH_POOL_SIZE:-10}

start_replica() {  # NAME PORT -> sets START_PID
  port_free "$2"
  start_bg "$BENCH_OUT/$1.log" "$HUSH" server --data-dir "$BENCH_OUT/$1-data" \
    --listen "127.0.0.1:$2" --database "$DB_URL"
  wait_http "http://127.0.0.1:$2/readyz" "$START_PID" "$1" "$BENCH_OUT/$1.log" 60
}

start_replica a "$PORT_BASE"
A_PID=$START_PID
URL_A=http://127.0.0.1:$PORT_BASE
TOKEN=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "$URL_A" "$BENCH_OUT/a-data/bootstrap-code") || die "bootstrap failed"
python3 "$BENCH_DIR/hush_api.py" seed "$URL_A" "$TOKEN" dev 50 || die "seeding failed"
AUTH="Authorization: Bearer $TOKEN"
LIST="/api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/"

log "one replica"
measure pg1_read "$A_PID" "$URL_A$LIST" -H "$AUTH"
BENCH_KEYS=50 measure pg1_write "$A_PID" "$URL_A" -s "$BENCH_DIR/hush_put.lua" -H "$AUTH"

start_replica b "$((PORT_BASE + 1))"
URL_B=http://127.0.0.1:$((PORT_BASE + 1))

# measure_pair NAME PATH [WRK_ARGS...]: one wrk per replica at once, rates summed.
measure_pair() {
  local name=$1 path=$2; shift 2
  local half=$(((BENCH_CONNECTIONS + 1) / 2)) threads=$(((BENCH_THREADS + 1) / 2))
  local common=(-t"$threads" -c"$half" -d"${BENCH_DURATION}s" --latency)
  log "measuring $name: 2 x wrk ${common[*]}"
  wrk "${common[@]}" "$@" "$URL_A$path" >"$BENCH_OUT/wrk-$name-a.txt" 2>&1 &
  local wa=$!
  wrk "${common[@]}" "$@" "$URL_B$path" >"$BENCH_OUT/wrk-$name-b.txt" 2>&1 &
  local wb=$!
  wait "$wa" "$wb" || die "wrk for $name failed"
  local ra rb non2xx
  ra=$(awk '/^Requests\/sec:/{print $2}' "$BENCH_OUT/wrk-$name-a.txt")
  rb=$(awk '/^Requests\/sec:/{print $2}' "$BENCH_OUT/wrk-$name-b.txt")
  non2xx=$(cat "$BENCH_OUT/wrk-$name-a.txt" "$BENCH_OUT/wrk-$name-b.txt" \
    | awk '/Non-2xx or 3xx responses:/{n += $NF} END {print n + 0}')
  local total
  total=$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.2f", a + b }')
  printf '%s\t%s\t-\t%s\n' "$name" "$total" "$non2xx" >>"$BENCH_OUT/results.tsv"
  log "  $name: $total req/s ($ra + $rb), non-2xx $non2xx"
}

log "two replicas, load split evenly"
measure_pair pg2_read "$LIST" -H "$AUTH"
BENCH_KEYS=50 measure_pair pg2_write "" -s "$BENCH_DIR/hush_put.lua" -H "$AUTH"

curl -fsS -H "$AUTH" "$URL_B/api/v1/hush/audit/verify" >"$BENCH_OUT/verify.json" \
  || die "audit verify failed after the run"
grep -q '"ok":true' "$BENCH_OUT/verify.json" || die "the audit chain does not verify: $(cat "$BENCH_OUT/verify.json")"

printf '\n%-10s %12s %8s %8s\n' test req/s p99 non-2xx
awk -F'\t' '{ printf "%-10s %12s %8s %8s\n", $1, $2, $3, $4 }' "$BENCH_OUT/results.tsv"
echo "audit chain verifies after the run; details in $BENCH_OUT"
