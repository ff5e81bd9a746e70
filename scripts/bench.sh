#!/usr/bin/env bash
# hush benchmarks: writes BENCHMARKS.md at the repository root.
#
#   scripts/bench.sh
#
# 1. builds `hush` and examples/hello_axum.rs in release ($CARGO_TARGET_DIR, default target/)
# 2. installs wrk if missing (apt-get; `cargo install oha` is not used: wrk's lua
#    scripts are needed for the write load)
# 3. hush server core: list of 50 secrets (reads), set one secret (writes),
#    and the hello-world axum ceiling under the same load
# 4. the OpenBao anchor (scripts/bench/openbao.sh), same loads
# 5. the peers harness for `hush run` (../shared/bench/peers), if `hush run` exists
#    5c. masking throughput by secret shape (scripts/bench/masking.sh)
#    5d. the web dashboard's page weight and server time (scripts/bench/dashboard.sh)
#    5e. `hush scan` against detect-secrets and trufflehog3 (scripts/bench/scan.sh)
#    5f. list throughput by root key provider: file, pkcs11 (SoftHSM2), transit
#        (OpenBao dev server), side by side (scripts/bench/providers.sh)
# 6. BENCHMARKS.md (scripts/bench/report.py)
#
# Environment (all optional):
#   BENCH_DURATION=12 BENCH_WARMUP=2      seconds per measurement / warm-up before it
#   BENCH_CONNECTIONS=32 BENCH_THREADS=2  wrk's -c and -t
#   BENCH_PORT_BASE=18210                 ports used: base .. base+19 on 127.0.0.1
#   BENCH_PAIRS=5 BENCH_PAIR_DURATION=6   interleaved hello-world / list rounds (0: none)
#   BENCH_SKIP_OPENBAO=1                  skip the OpenBao anchor
#   BENCH_SKIP_PEERS=1                    skip the peers harness
#   BENCH_SKIP_POSTGRES=1                 skip the PostgreSQL replicas (scripts/bench-postgres.sh)
#   BENCH_SKIP_MASKING=1                  skip the masking-by-shape rows (scripts/bench/masking.sh)
#   BENCH_SKIP_DASHBOARD=1                skip the dashboard's page figures (scripts/bench/dashboard.sh)
#   BENCH_SKIP_SCAN=1                     skip the scan comparison (scripts/bench/scan.sh)
#   BENCH_ONLY=masking                    build hush, run only the masking-by-shape rows, print
#                                         them (target/bench/masking.md); BENCHMARKS.md untouched
#   BENCH_ONLY=dashboard                  build hush, run only the dashboard's page weight and
#                                         server time (scripts/bench/dashboard.sh; prints
#                                         target/bench/dashboard.md); BENCHMARKS.md untouched
#   BENCH_ONLY=scan                       the same for the scan comparison (target/bench/scan.md)
#   BENCH_SCAN_FILES, BENCH_SCAN_ROUNDS, BENCH_SCAN_SEED: see scan.py
#   BENCH_SKIP_PROVIDERS=1                skip the root key provider rows (scripts/bench/providers.sh)
#   BENCH_ONLY=providers                  build hush, run only the root key provider rows, print
#                                         them (target/bench/providers.md); BENCHMARKS.md untouched
#   BENCH_MASK_MIB, BENCH_MASK_REPEAT, BENCH_MASK_ROUNDS, BENCH_MASK_SETS: see masking.py
#   BENCH_PROVIDER_ROUNDS=3               interleaved rounds of the provider rows
#   BENCH_PEERS_DIR=../shared/bench/peers where the peers harness is
#   BENCH_PEERS_STEPS="install fixtures launch throughput leaks latency signals report"
#   HUSH_RUN_ARGS, HUSH_PLAIN_RUN_ARGS, HUSH_SETUP, HUSH_MASK_TOKEN: override the
#                                         harness's hush column (see the peers section)
#   BENCH_OUTPUT=BENCHMARKS.md            where the report goes
#   BENCH_HUSH_BIN=path                   measure this hush binary instead of the one built here
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH_DIR=$ROOT/scripts/bench
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
export BENCH_OUT=$TARGET_DIR/bench
export BENCH_CACHE=$TARGET_DIR/bench-cache
OUTPUT=${BENCH_OUTPUT:-$ROOT/BENCHMARKS.md}
PORT_BASE=${BENCH_PORT_BASE:-18210}
HUSH_PORT=$PORT_BASE
HELLO_PORT=$((PORT_BASE + 1))
PEERS_PORT=$((PORT_BASE + 2))
BAO_PORT=$((PORT_BASE + 9))      # and BAO_PORT+2 for its cluster address
PEERS_DIR=${BENCH_PEERS_DIR:-$ROOT/../shared/bench/peers}
PEERS_RESULTS=$TARGET_DIR/bench-peers.md

# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"
export BENCH_DURATION BENCH_WARMUP BENCH_CONNECTIONS BENCH_THREADS

rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT" "$BENCH_CACHE"
: >"$BENCH_OUT/results.tsv"
trap stop_all EXIT
trap 'exit 130' INT TERM

for p in cargo curl python3 awk setsid getconf; do
  command -v "$p" >/dev/null || die "missing required program: $p"
done

MASK_PORT=$((PORT_BASE + 12))
DASH_PORT=$((PORT_BASE + 13))
SCAN_PORT=$((PORT_BASE + 14))
# bench.sh empties BENCH_OUT on every run; the peers' venv is kept in the cache
export BENCH_SCAN_VENV=${BENCH_SCAN_VENV:-$BENCH_CACHE/scan-venv}
PROVIDERS_PORT=$((PORT_BASE + 15))  # .. PORT_BASE+19

# One script of scripts/bench/ per figure beside the main run: its port.
side_port() {
  case $1 in
    masking) echo "$MASK_PORT" ;;
    dashboard) echo "$DASH_PORT" ;;
    scan) echo "$SCAN_PORT" ;;
    providers) echo "$PROVIDERS_PORT" ;;
  esac
}

# side_bench NAME HUSH: runs scripts/bench/NAME.sh into $BENCH_OUT/NAME.log
# unless BENCH_SKIP_<NAME>=1, and prints its status for BENCHMARKS.md: ok,
# skipped, not run (exit 3: a prerequisite is missing, named on the log's
# last line) or failed.
side_bench() {
  local name=$1 hush=$2 skip rc
  skip=BENCH_SKIP_$(echo "$name" | tr '[:lower:]' '[:upper:]')
  if [ "${!skip:-0}" = 1 ]; then
    echo "skipped ($skip=1)"
    return
  fi
  set +e
  bash "$BENCH_DIR/$name.sh" "$hush" "$BENCH_OUT" "$(side_port "$name")" >"$BENCH_OUT/$name.log" 2>&1
  rc=$?
  set -e
  case $rc in
    0) echo ok ;;
    3) echo "not run: $(tail -n 1 "$BENCH_OUT/$name.log")" ;;
    *) echo "failed (exit $rc, see $BENCH_OUT/$name.log)" ;;
  esac
}

# ---------------------------------------------------------------- 1. build
case ${BENCH_ONLY:-} in
  '') ;;
  masking | dashboard | scan | providers)
    log "BENCH_ONLY=$BENCH_ONLY: only its figures (hush: ${BENCH_HUSH_BIN:-built here, release})"
    if [ -z "${BENCH_HUSH_BIN:-}" ]; then
      CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --bin hush >"$BENCH_OUT/build.log" 2>&1 \
        || { tail -n 30 "$BENCH_OUT/build.log" >&2; die "cargo build --release failed"; }
    fi
    bash "$BENCH_DIR/$BENCH_ONLY.sh" "${BENCH_HUSH_BIN:-$TARGET_DIR/release/hush}" "$BENCH_OUT" \
      "$(side_port "$BENCH_ONLY")"
    exit 0
    ;;
  *) die "BENCH_ONLY=$BENCH_ONLY: only 'masking', 'dashboard', 'scan' or 'providers' can be run on their own" ;;
esac
log "building hush and examples/hello_axum (release, CARGO_TARGET_DIR=$TARGET_DIR)"
if ! CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --bin hush --example hello_axum \
    >"$BENCH_OUT/build.log" 2>&1; then
  tail -n 30 "$BENCH_OUT/build.log" >&2
  die "cargo build --release failed (full log: $BENCH_OUT/build.log)"
fi
# BENCH_HUSH_BIN measures another build of hush (an earlier commit's, for an
# A/B against this one) with this script and this hello-world ceiling.
HUSH=${BENCH_HUSH_BIN:-$TARGET_DIR/release/hush}
HELLO=$TARGET_DIR/release/examples/hello_axum
if [ ! -x "$HUSH" ] || [ ! -x "$HELLO" ]; then
  die "build finished but $HUSH or $HELLO is missing"
fi

# ---------------------------------------------------------------- 2. load generator
ensure_wrk || die "wrk is not installed and 'apt-get install -y wrk' failed (log: $BENCH_OUT/apt-wrk.log)"
log "load generator: $(wrk --version 2>&1 | head -n 1 | awk '{print $1, $2}')"

# ---------------------------------------------------------------- 3. hush server core
export HUSH_LOG=warn
DATA=$BENCH_OUT/hush-data
mkdir -p "$DATA"
port_free "$HUSH_PORT"
log "starting hush server on 127.0.0.1:$HUSH_PORT (data: $DATA)"
start_bg "$BENCH_OUT/hush-server.log" env -u HUSH_ROOT_KEY \
  "$HUSH" server --data-dir "$DATA" --listen "127.0.0.1:$HUSH_PORT"
HUSH_PID=$START_PID
URL=http://127.0.0.1:$HUSH_PORT
wait_http "$URL/healthz" "$HUSH_PID" "hush server" "$BENCH_OUT/hush-server.log" 30
TOKEN=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "$URL" "$DATA/bootstrap-code") || die "bootstrap of the hush server failed"
log "seeding 50 secrets (K1..K50) in default/dev at /"
python3 "$BENCH_DIR/hush_api.py" seed "$URL" "$TOKEN" dev 50 || die "seeding the hush server failed"

LIST_URL="$URL/api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/"
AUTH="Authorization: Bearer $TOKEN"
expect_status 200 -H "$AUTH" "$LIST_URL"
n=$(curl -s -H "$AUTH" "$LIST_URL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["secrets"]))')
[ "$n" = 50 ] || die "the list answers $n secrets, expected 50"
LIST_BYTES=$(curl -s -H "$AUTH" "$LIST_URL" | wc -c)
expect_status 200 -X PUT -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"workspaceId":"default","environment":"dev","secretPath":"/","secretValue":"check"}' \
  "$URL/api/v1/hush/secrets/K1"

measure hush_read "$HUSH_PID" "$LIST_URL" -H "$AUTH"
# the same list with every read's audit event fsynced before its answer
# (--audit-flush-interval 0), then back to the default for the rest
restart_hush() {  # restart_hush LOG [server flags...]
  local logf=$BENCH_OUT/$1; shift
  stop_pid "$HUSH_PID"
  start_bg "$logf" env -u HUSH_ROOT_KEY \
    "$HUSH" server --data-dir "$DATA" --listen "127.0.0.1:$HUSH_PORT" "$@"
  HUSH_PID=$START_PID
  wait_http "$URL/healthz" "$HUSH_PID" "hush server" "$logf" 30
}
restart_hush hush-server-strict.log --audit-flush-interval 0
measure hush_read_strict "$HUSH_PID" "$LIST_URL" -H "$AUTH"
restart_hush hush-server-2.log
# where the list's CPU goes: a perf profile of the server under the same load
# (a separate run, not part of the figures; skipped without perf or BENCH_PERF=0)
if [ "${BENCH_PERF:-1}" != 0 ] && command -v perf >/dev/null; then
  log "profiling the list load with perf (a separate 10 s run)"
  wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d10s -H "$AUTH" "$LIST_URL" >"$BENCH_OUT/wrk-profile.txt" 2>&1 &
  wrk_pid=$!
  if perf record -F 499 -p "$HUSH_PID" -o "$BENCH_OUT/perf-hush_read.data" -- sleep 7 \
      >"$BENCH_OUT/perf.log" 2>&1; then
    perf report -i "$BENCH_OUT/perf-hush_read.data" --no-children --sort dso,symbol -g none --stdio \
      2>>"$BENCH_OUT/perf.log" | python3 "$BENCH_DIR/profile.py" >"$BENCH_OUT/profile-hush_read.tsv" || true
  else
    log "perf record failed (see $BENCH_OUT/perf.log); no profile"
  fi
  wait "$wrk_pid" || true
fi
BENCH_KEYS=50 measure hush_write "$HUSH_PID" "$URL" -s "$BENCH_DIR/hush_put.lua" -H "$AUTH"
BENCH_KEYS=1 measure hush_write_hot "$HUSH_PID" "$URL" -s "$BENCH_DIR/hush_put.lua" -H "$AUTH"
# after the writes: the list again, with history at max_versions on every key
measure hush_read_after "$HUSH_PID" "$LIST_URL" -H "$AUTH"
# list vs hello-world, interleaved: this machine's speed drifts between runs
# minutes apart by more than the gap the ceiling target is about, so the
# ratio is also taken round by round, each list run right after a hello-world
# run (BENCH_PAIRS rounds of BENCH_PAIR_DURATION seconds each; 0 skips them)
if [ "${BENCH_PAIRS:-5}" != 0 ]; then
  port_free "$HELLO_PORT"
  start_bg "$BENCH_OUT/hello-pairs.log" "$HELLO" "$HELLO_PORT"
  HELLO_PID=$START_PID
  wait_http "http://127.0.0.1:$HELLO_PORT/" "$HELLO_PID" hello_axum "$BENCH_OUT/hello-pairs.log" 30
  for i in $(seq 1 "${BENCH_PAIRS:-5}"); do
    BENCH_DURATION=${BENCH_PAIR_DURATION:-6} BENCH_WARMUP=1 \
      measure "pair_hello_$i" "$HELLO_PID" "http://127.0.0.1:$HELLO_PORT/"
    BENCH_DURATION=${BENCH_PAIR_DURATION:-6} BENCH_WARMUP=1 \
      measure "pair_list_$i" "$HUSH_PID" "$LIST_URL" -H "$AUTH"
  done
  stop_pid "$HELLO_PID"
fi
# the history stays bounded (max_versions=100)
curl -s -H "$AUTH" "$URL/api/v1/hush/secrets/K1/history?workspaceId=default&environment=dev&secretPath=/" \
  >"$BENCH_OUT/history-K1.json" || true
du -sk "$DATA" | awk '{print $1}' >"$BENCH_OUT/hush-data-kib.txt"
stop_pid "$HUSH_PID"
# the loads above leave about a GiB of database (mostly audit rows) for the
# kernel to write back; the later, millisecond-scale measurements must not
# run beside that writeback
rm -rf "$DATA"
sync

# hello-world ceiling: same stack (axum 0.8, multi-threaded tokio), no work
port_free "$HELLO_PORT"
start_bg "$BENCH_OUT/hello.log" "$HELLO" "$HELLO_PORT"
HELLO_PID=$START_PID
wait_http "http://127.0.0.1:$HELLO_PORT/" "$HELLO_PID" hello_axum "$BENCH_OUT/hello.log" 30
measure hello_ceiling "$HELLO_PID" "http://127.0.0.1:$HELLO_PORT/"
# the same stack answering a static body as large as the list: the ceiling
# for sending a list-sized answer at all
measure static_ceiling "$HELLO_PID" "http://127.0.0.1:$HELLO_PORT/bytes/$LIST_BYTES"
stop_pid "$HELLO_PID"

# ---------------------------------------------------------------- 4. OpenBao anchor
if [ "${BENCH_SKIP_OPENBAO:-0}" = 1 ]; then
  OPENBAO_STATUS="skipped (BENCH_SKIP_OPENBAO=1)"
else
  log "OpenBao anchor (scripts/bench/openbao.sh)"
  set +e
  bash "$BENCH_DIR/openbao.sh" "$BENCH_OUT" "$BAO_PORT" 2>&1 | tee "$BENCH_OUT/openbao.log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" = 0 ]; then
    OPENBAO_STATUS=ok
  else
    reason=$(grep -v '^\[bench' "$BENCH_OUT/openbao.log" | tail -n 1)
    if [ "$rc" = 3 ]; then
      OPENBAO_STATUS="not installed: ${reason:-unknown reason}"
    else
      OPENBAO_STATUS="failed (exit $rc): ${reason:-see $BENCH_OUT/openbao.log}"
    fi
    log "OpenBao anchor skipped: $OPENBAO_STATUS"
  fi
fi

# ---------------------------------------------------------------- 5. peers harness (hush run)
sync  # OpenBao's raft log and audit file, as above
# The harness gives every peer the fixture's dotenv file nN/secrets.env (N = 10,
# 50, 1000). hush reads from a server, so: one hush server for the whole
# harness run (started here), and the harness's per-fixture hook HUSH_SETUP
# loads nN/secrets.env into environment `nN` of project `default` (created if
# missing; idempotent). The column then runs `hush run --env n{n} -- CMD`
# (`{n}` is the harness's own placeholder), with HUSH_SERVER / HUSH_TOKEN in the
# environment, which hush reads like its --server / --token flags.
PEERS_STATUS=
run_args=
if [ "${BENCH_SKIP_PEERS:-0}" = 1 ]; then
  PEERS_STATUS="skipped (BENCH_SKIP_PEERS=1)"
elif ! "$HUSH" run --help >"$BENCH_OUT/hush-run-help.txt" 2>&1; then
  PEERS_STATUS="skipped: this build of hush has no \`run\` command yet (\`hush run --help\` fails)"
elif [ ! -f "$PEERS_DIR/run_all.sh" ]; then
  PEERS_STATUS="skipped: peers harness not found at $PEERS_DIR"
else
  PDATA=$BENCH_OUT/hush-peers-data
  mkdir -p "$PDATA"
  port_free "$PEERS_PORT"
  start_bg "$BENCH_OUT/hush-peers-server.log" env -u HUSH_ROOT_KEY \
    "$HUSH" server --data-dir "$PDATA" --listen "127.0.0.1:$PEERS_PORT"
  PEERS_PID=$START_PID
  PURL=http://127.0.0.1:$PEERS_PORT
  wait_http "$PURL/healthz" "$PEERS_PID" "hush server (peers)" "$BENCH_OUT/hush-peers-server.log" 30
  PTOKEN=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "$PURL" "$PDATA/bootstrap-code") || die "bootstrap of the peers' hush server failed"
  if [ -z "${HUSH_PLAIN_RUN_ARGS+set}" ]; then
    # a no-mask mode, if `hush run` has one under one of these names
    for f in --no-mask --no-redact --no-masking --plain; do
      if grep -q -- "$f\b" "$BENCH_OUT/hush-run-help.txt"; then
        export HUSH_PLAIN_RUN_ARGS="--env n{n} $f"
        break
      fi
    done
  fi
  if [ -z "${HUSH_MASK_TOKEN+set}" ]; then
    # what hush prints instead of a secret: --mask-format's default, from the help text
    mask=$(python3 -c 'import re, sys
m = re.search(r"--mask-format\b.*?\[default: ([^\]]+)\]", open(sys.argv[1]).read(), re.S)
print(m.group(1).strip() if m else "")' "$BENCH_OUT/hush-run-help.txt")
    if [ -n "$mask" ]; then export HUSH_MASK_TOKEN=$mask; fi
  fi
  # {n} and {env_file} are the harness's own placeholders (replaced per fixture)
  run_args=${HUSH_RUN_ARGS-'--env n{n}'}
  setup=${HUSH_SETUP-"python3 $BENCH_DIR/hush_api.py seed-file 'n{n}' '{env_file}'"}
  rm -f "$PEERS_RESULTS"
  log "peers harness: $PEERS_DIR/run_all.sh (results: $PEERS_RESULTS)"
  log "  hush column: $HUSH run $run_args -- CMD; plain: ${HUSH_PLAIN_RUN_ARGS-(none)}; mask: ${HUSH_MASK_TOKEN-[REDACTED]}"
  set +e
  # BENCH_PEERS_STEPS is a word list
  # shellcheck disable=SC2086
  HUSH_BIN=$HUSH HUSH_ARGS=${HUSH_ARGS:-} HUSH_RUN_ARGS=$run_args HUSH_SETUP=$setup \
    HUSH_SERVER=$PURL HUSH_TOKEN=$PTOKEN HUSH_PROJECT=default \
    PEERS_INSTALL=${PEERS_INSTALL:-dotenvx pydotenv} \
    BENCH_RESULTS=$PEERS_RESULTS \
    BENCH_ONLY_COLUMNS=${BENCH_ONLY_COLUMNS:-hush,hush_plain,dotenvx,dotenvx_redact,pydotenv} \
    bash "$PEERS_DIR/run_all.sh" ${BENCH_PEERS_STEPS:-} 2>&1 | tee "$BENCH_OUT/peers.log"
  rc=${PIPESTATUS[0]}
  set -e
  stop_pid "$PEERS_PID"
  if [ -s "$PEERS_RESULTS" ]; then
    PEERS_STATUS=ok
    [ "$rc" = 0 ] || PEERS_STATUS="partial: run_all.sh exited $rc (see $BENCH_OUT/peers.log)"
  else
    PEERS_STATUS="failed: run_all.sh exited $rc without results (see $BENCH_OUT/peers.log)"
  fi
fi
log "peers: $PEERS_STATUS"

# ---------------------------------------------------------------- 5c-5f. one script each
MASK_STATUS=$(side_bench masking "$HUSH")
log "masking by shape: $MASK_STATUS"
DASH_STATUS=$(side_bench dashboard "$HUSH")
log "dashboard pages: $DASH_STATUS"
SCAN_STATUS=$(side_bench scan "$HUSH")
log "scan comparison: $SCAN_STATUS"
PROVIDERS_STATUS=$(side_bench providers "$HUSH")
log "root key providers: $PROVIDERS_STATUS"

# ---------------------------------------------------------------- 5b. PostgreSQL replicas
PG_STATUS=
PG_VERSION=
PG_ADMIN=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
if [ "${BENCH_SKIP_POSTGRES:-0}" = 1 ]; then
  PG_STATUS="skipped (BENCH_SKIP_POSTGRES=1)"
elif ! command -v psql >/dev/null || ! psql "$PG_ADMIN" -Atc 'SELECT 1' >/dev/null 2>&1; then
  PG_STATUS="skipped: no PostgreSQL reachable at $PG_ADMIN"
else
  PG_VERSION=$(psql "$PG_ADMIN" -Atc 'SHOW server_version' 2>/dev/null || echo '?')
  log "PostgreSQL replicas (scripts/bench-postgres.sh)"
  if HUSH_BIN=$HUSH BENCH_DATABASE_URL=$PG_ADMIN bash "$ROOT/scripts/bench-postgres.sh" \
      >"$BENCH_OUT/bench-postgres.log" 2>&1; then
    PG_STATUS=ok
  else
    PG_STATUS="failed (see $BENCH_OUT/bench-postgres.log)"
  fi
fi
log "postgres: $PG_STATUS"

# ---------------------------------------------------------------- 6. report
PG_STATUS=$PG_STATUS PG_VERSION=$PG_VERSION PG_RESULTS=$TARGET_DIR/bench-postgres/results.tsv \
OPENBAO_STATUS=$OPENBAO_STATUS PEERS_STATUS=$PEERS_STATUS PEERS_RESULTS=$PEERS_RESULTS \
  MASK_STATUS=$MASK_STATUS DASH_STATUS=$DASH_STATUS SCAN_STATUS=$SCAN_STATUS \
  PROVIDERS_STATUS=$PROVIDERS_STATUS \
  PEERS_RUN_ARGS=$run_args PEERS_PLAIN_RUN_ARGS=${HUSH_PLAIN_RUN_ARGS-} PEERS_MASK=${HUSH_MASK_TOKEN-} \
  PEERS_JSON_DIR=${BENCH_WORK:-/tmp/hush-bench}/results HUSH_BIN=$HUSH \
  python3 "$BENCH_DIR/report.py" "$BENCH_OUT" "$OUTPUT" || die "writing $OUTPUT failed"
log "wrote $OUTPUT"
