# shellcheck shell=bash
# Helpers shared by scripts/bench.sh and scripts/bench/openbao.sh (sourced).
#
# The caller sets: BENCH_OUT (directory for logs and results), and optionally
# BENCH_DURATION (s per measurement), BENCH_WARMUP (s), BENCH_CONNECTIONS,
# BENCH_THREADS.

BENCH_DURATION=${BENCH_DURATION:-12}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-32}
BENCH_THREADS=${BENCH_THREADS:-2}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- processes
# Every background server is recorded here and stopped by stop_all (EXIT trap).
BENCH_PIDS=()

# start_bg LOGFILE CMD... : starts CMD in the background (own process group),
# sets START_PID.
start_bg() {
  local logf=$1; shift
  setsid "$@" >"$logf" 2>&1 &
  START_PID=$!
  BENCH_PIDS+=("$START_PID")
}

# stop_pid PID : SIGTERM its process group, then SIGKILL after 5 s.
stop_pid() {
  local pid=$1 i=0 keep=() p
  for p in "${BENCH_PIDS[@]+"${BENCH_PIDS[@]}"}"; do
    [ "$p" = "$pid" ] || keep+=("$p")
  done
  BENCH_PIDS=("${keep[@]+"${keep[@]}"}")
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  : "$i"
}

stop_all() {
  local pid
  for pid in "${BENCH_PIDS[@]+"${BENCH_PIDS[@]}"}"; do
    stop_pid "$pid"
  done
}

# port_free PORT : fails if something already answers on 127.0.0.1:PORT.
port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 is already in use on 127.0.0.1 (another server running? set BENCH_PORT_BASE)"
  fi
}

# wait_http URL PID NAME LOGFILE [TIMEOUT_S] [ACCEPT_REGEX] : polls URL until its HTTP
# status matches ACCEPT_REGEX (default 200), failing early if PID died.
wait_http() {
  local url=$1 pid=$2 name=$3 logf=$4 timeout=${5:-30} accept=${6:-^200$}
  local tries=$((timeout * 10)) code i
  for ((i = 0; i < tries; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$logf" >&2 || true
      die "$name exited before answering on $url (log: $logf)"
    fi
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true)
    if [[ $code =~ $accept ]]; then
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$logf" >&2 || true
  die "$name did not answer $url within ${timeout}s (last HTTP status: ${code:-none}; log: $logf)"
}

# expect_status CODE CURL_ARGS... : one request, fails unless it answers CODE.
expect_status() {
  local want=$1; shift
  local out got
  out=$(mktemp)
  got=$(curl -s -o "$out" -m 10 -w '%{http_code}' "$@" || true)
  if [ "$got" != "$want" ]; then
    printf 'bench: error: request %s answered HTTP %s, expected %s: %s\n' \
      "$*" "${got:-none}" "$want" "$(head -c 300 "$out")" >&2
    rm -f "$out"
    exit 1
  fi
  rm -f "$out"
}

# ---------------------------------------------------------------- CPU usage
proc_ticks() {  # utime+stime of a process (all its threads), in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
sys_ticks() {  # "busy total" jiffies of the whole machine
  awk '/^cpu /{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
now_s() { date +%s.%N; }
disk_write_bytes() {  # bytes a process caused to be written to storage (/proc/PID/io)
  awk '/^write_bytes:/{print $2}' "/proc/$1/io" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------- load
ensure_wrk() {
  command -v wrk >/dev/null && return 0
  log "installing wrk (apt-get install -y wrk)"
  if ! apt-get install -y -qq wrk >"$BENCH_OUT/apt-wrk.log" 2>&1; then
    log "apt-get install failed; running apt-get update first"
    apt-get update -qq >>"$BENCH_OUT/apt-wrk.log" 2>&1 || true
    apt-get install -y -qq wrk >>"$BENCH_OUT/apt-wrk.log" 2>&1 || true
  fi
  command -v wrk >/dev/null
}

# measure NAME SERVER_PID URL [WRK_ARGS...] : warm-up, then one wrk run of
# BENCH_DURATION s with BENCH_CONNECTIONS connections and BENCH_THREADS threads.
# Appends a line to $BENCH_OUT/results.tsv:
#   name req/s p99 non-2xx socket-errors server-cpu% machine-busy% requests
#   wrk-cpu% statuses(non-2xx, "code:count,...", from a script's "status CODE: N" lines)
#   loadavg-before server-disk-write-bytes
# CPU ticks per thread name of process $1, summed over threads of the same
# name ("tokio-rt-worker" x N): lines "name<TAB>ticks".
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s\t%s\n' "$(cat "$t/comm" 2>/dev/null)" "$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null)"
  done | awk -F'\t' '$1 != "" { n[$1] += $2 } END { for (k in n) printf "%s\t%d\n", k, n[k] }'
}

measure() {
  local name=$1 pid=$2 url=$3; shift 3
  local out=$BENCH_OUT/wrk-$name.txt
  local common=(-t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" --latency)
  if [ "$BENCH_WARMUP" != 0 ]; then
    wrk "${common[@]}" -d"${BENCH_WARMUP}s" "$@" "$url" >"$BENCH_OUT/wrk-$name-warmup.txt" 2>&1 \
      || die "wrk warm-up for $name failed: $(tail -n 3 "$BENCH_OUT/wrk-$name-warmup.txt")"
  fi
  log "measuring $name: wrk ${common[*]} -d${BENCH_DURATION}s $url"
  local p0 s0 t0 p1 s1 t1 half
  local load0
  load0=$(cut -d' ' -f1 /proc/loadavg)
  thread_ticks "$pid" >"$BENCH_OUT/threads-$name.0"
  local w0 w1
  w0=$(disk_write_bytes "$pid")
  p0=$(proc_ticks "$pid"); s0=$(sys_ticks); t0=$(now_s)
  half=$(((BENCH_DURATION + 1) / 2))
  # a snapshot of `top` in the middle of the run, for the bottleneck note
  (sleep "$half"; top -b -n1 -w 160 2>/dev/null | head -n 14 >"$BENCH_OUT/top-$name.txt") &
  local top_pid=$!
  # `times` in the subshell: the CPU time of wrk (its waited-for child)
  if ! (wrk "${common[@]}" -d"${BENCH_DURATION}s" "$@" "$url" >"$out" 2>&1; rc=$?; times >"$out.times"; exit $rc); then
    wait "$top_pid" 2>/dev/null || true
    die "wrk for $name failed: $(tail -n 3 "$out")"
  fi
  p1=$(proc_ticks "$pid"); s1=$(sys_ticks); t1=$(now_s)
  w1=$(disk_write_bytes "$pid")
  thread_ticks "$pid" >"$BENCH_OUT/threads-$name.1"
  # per thread name: % of one core over the run
  awk -F'\t' -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" \
    'NR == FNR { a[$1] = $2; next } { printf "%s\t%.0f\n", $1, ($2 - a[$1]) / hz / (t1 - t0) * 100 }' \
    "$BENCH_OUT/threads-$name.0" "$BENCH_OUT/threads-$name.1" >"$BENCH_OUT/threads-$name.tsv" 2>/dev/null || true
  wait "$top_pid" 2>/dev/null || true
  local hz rps p99 non2xx errs reqs srv sys wrkcpu statuses
  hz=$(getconf CLK_TCK)
  rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  reqs=$(awk '/requests in/{print $1}' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$out")
  errs=$(awk '/Socket errors:/{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i; print n }' "$out")
  srv=$(awk -v a="$p0" -v b="$p1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
    'BEGIN { printf "%.0f", (b - a) / hz / (t1 - t0) * 100 }')
  sys=$(awk -v a="${s0% *}" -v at="${s0#* }" -v b="${s1% *}" -v bt="${s1#* }" \
    'BEGIN { printf "%.0f", (bt > at) ? (b - a) / (bt - at) * 100 : 0 }')
  # second line of `times`: children's user and system time, e.g. "0m1.230s 0m4.560s"
  wrkcpu=$(awk -v t0="$t0" -v t1="$t1" 'NR == 2 {
      s = 0
      for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
      printf "%.0f", s / (t1 - t0) * 100 }' "$out.times")
  statuses=$(awk '/^status [0-9]+:/ && $2 !~ /^2/ { sub(/:$/, "", $2); printf "%s%s:%s", sep, $2, $3; sep = "," }' "$out")
  [ -n "$rps" ] || die "could not read Requests/sec from wrk's output for $name ($out)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "${p99:-?}" "${non2xx:-0}" \
    "${errs:-0}" "$srv" "$sys" "${reqs:-?}" "${wrkcpu:-0}" "${statuses:--}" "$load0" \
    "$((w1 - w0))" >>"$BENCH_OUT/results.tsv"
  log "  $name: $rps req/s, p99 ${p99:-?}, non-2xx ${non2xx:-0}${statuses:+ ($statuses)}, socket errors ${errs:-0}, server CPU ${srv}%, wrk CPU ${wrkcpu}%, machine busy ${sys}%"
  if [ "${non2xx:-0}" != 0 ]; then
    log "  WARNING: $name had ${non2xx} non-2xx answers (see $out)"
  fi
}
