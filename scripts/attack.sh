#!/usr/bin/env bash
# Tries the attacks of issue 19 against a release build of hush and prints one
# line per attack with its figure: the honest numbers for the README's
# security section. Not part of the test command (scripts/test.sh).
#
#   scripts/attack.sh            all attacks
#   scripts/attack.sh slowloris  only the named ones (function names without attack_)
#
# Each attack is one function `attack_NAME` that prints exactly one line
# "NAME: figure". Add new attacks the same way and list them in ATTACKS.
# Needs: cargo, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTACKS=(slowloris content_type bootstrap_code since_non_ascii core_dump reference_bomb
  login_flood proxy_lockout hash_flood)

TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
HUSH=$TARGET_DIR/release/hush
WORK=$(mktemp -d)
PIDS=()
PASSWORD="attack-password-change-me"

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "attack.sh: $*" >&2; exit 1; }

# start_server NAME [ARGS...]: a server on a fresh data dir; sets URL, DATA, PID.
start_server() {
  local name=$1
  shift
  DATA=$WORK/$name
  mkdir -p "$DATA"
  env -u HUSH_ROOT_KEY HUSH_LOG=warn "$HUSH" server --data-dir "$DATA/data" \
    --listen 127.0.0.1:0 "$@" >"$DATA/out" 2>"$DATA/err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 100); do
    grep -q "listening on" "$DATA/out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || die "server $name did not start: $(cat "$DATA/err")"
    sleep 0.1
  done
  URL=$(sed -n 's/^hush server listening on //p' "$DATA/out")
  [ -n "$URL" ] || die "server $name did not print its address"
}

# bootstrap: creates the admin on $URL with the code in $DATA; sets TOKEN.
bootstrap() {
  local code
  code=$(cat "$DATA/data/bootstrap-code")
  TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\",\"bootstrapCode\":\"$code\"}" \
    "$URL/api/v1/hush/bootstrap" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])') \
    || die "bootstrap of $URL failed"
}

# 64 connections trickle header lines (one every 0.5 s) under the default
# timeouts; meanwhile an honest client asks for /healthz and a list.
attack_slowloris() {
  start_server slowloris
  bootstrap
  python3 - "$URL" "$TOKEN" <<'EOF'
import socket, sys, threading, time, urllib.request
url, token = sys.argv[1], sys.argv[2]
host, port = url.split("//")[1].split(":")
port = int(port)
open_for = []
def slow():
    began = time.time()
    try:
        s = socket.create_connection((host, port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        s.settimeout(0.5)
        while time.time() - began < 120:
            try:
                if not s.recv(512):
                    break
            except socket.timeout:
                s.sendall(b"X-Slow: a\r\n")
    except OSError:
        pass
    open_for.append(time.time() - began)
threads = [threading.Thread(target=slow) for _ in range(64)]
for t in threads:
    t.start()
time.sleep(1)
def timed(path):
    req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token})
    began = time.time()
    urllib.request.urlopen(req, timeout=30).read()
    return (time.time() - began) * 1000
healthz = timed("/healthz")
listed = timed("/api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/")
for t in threads:
    t.join()
print(f"slowloris: 64 slow connections: /healthz answered in {healthz:.1f} ms, a list in {listed:.1f} ms; "
      f"slow ones closed after {min(open_for):.1f}-{max(open_for):.1f} s")
EOF
}

# A web page can POST text/plain or a form cross-site without a preflight.
attack_content_type() {
  start_server content_type
  local codes=()
  for path in /api/v1/hush/bootstrap /api/v1/hush/auth/login; do
    for type in text/plain application/x-www-form-urlencoded; do
      codes+=("$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: $type" \
        -d '{"email":"admin@example.com","password":"x"}' "$URL$path")")
    done
  done
  echo "content_type: text/plain and form POSTs to bootstrap and login answered ${codes[*]} (want 415 each)"
}

# Whoever reaches bootstrap first used to own a fresh server.
attack_bootstrap_code() {
  start_server bootstrap_code
  local none wrong right mode
  none=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"email\":\"eve@example.com\",\"password\":\"$PASSWORD\"}" "$URL/api/v1/hush/bootstrap")
  wrong=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"email\":\"eve@example.com\",\"password\":\"$PASSWORD\",\"bootstrapCode\":\"0000-0000\"}" \
    "$URL/api/v1/hush/bootstrap")
  mode=$(stat -c '%a' "$DATA/data/bootstrap-code")
  bootstrap
  right=200
  [ -e "$DATA/data/bootstrap-code" ] && right="200 (code file left behind!)"
  echo "bootstrap_code: no code $none, wrong code $wrong, right code $right; code file mode $mode, removed after use"
}

attack_since_non_ascii() {
  start_server since
  bootstrap
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$URL/api/v1/hush/audit?since=5%C3%A9")
  local alive=up
  curl -sf -o /dev/null "$URL/healthz" || alive=DOWN
  echo "since_non_ascii: GET /audit?since=5é answered $code (want 422); server $alive"
}

# A crash must not write the root key, data keys and values to disk: the
# server is started with core dumps allowed and the root key inline, then
# sent SIGSEGV until it dies (Rust catches the first one; see the test).
attack_core_dump() {
  local dir=$WORK/core_dump
  mkdir -p "$dir"
  local key
  key=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  (
    cd "$dir"
    ulimit -c unlimited 2>/dev/null || true
    HUSH_ROOT_KEY=$key HUSH_LOG=warn exec "$HUSH" server --data-dir data --listen 127.0.0.1:0 >out 2>err
  ) &
  local pid=$!
  # Disowned: bash would otherwise report the crash on our stderr.
  disown "$pid"
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    grep -q "listening on" "$dir/out" 2>/dev/null && break
    sleep 0.1
  done
  local limit environ=scrubbed
  limit=$(awk '/Max core file size/ {print $5}' "/proc/$pid/limits")
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -q "$key"; then environ="STILL THERE"; fi
  for _ in 1 2 3 4 5; do
    kill -SEGV "$pid" 2>/dev/null || break
    sleep 0.3
  done
  kill -0 "$pid" 2>/dev/null && die "the server survived SIGSEGV"
  local cores
  cores=$(find "$dir" -maxdepth 2 -type f \( -name core -o -name 'core.*' \) | wc -l)
  echo "core_dump: SIGSEGV left $cores core file(s) (core_pattern $(cat /proc/sys/kernel/core_pattern)); RLIMIT_CORE $limit; root key in /proc/PID/environ: $environ"
}

# One writer stores B = 1 MiB and A = ${B} x 170,000 (170 GB expanded); every
# list of the folder used to abort the whole server.
attack_reference_bomb() {
  start_server reference_bomb
  bootstrap
  python3 - "$URL" "$TOKEN" "$PID" <<'EOF'
import json, sys, time, urllib.request, urllib.error
url, token, pid = sys.argv[1], sys.argv[2], sys.argv[3]
def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
scope = {"workspaceId": "default", "environment": "dev", "secretPath": "/"}
call("PUT", "/api/v1/hush/secrets/B", {**scope, "secretValue": "x" * (1024 * 1024 - 1)})
call("PUT", "/api/v1/hush/secrets/A", {**scope, "secretValue": "${B}" * 170000})
other = json.loads(call("POST", "/api/v2/workspace", {"projectName": "bystander"})[1])["project"]["id"]
began = time.time()
status, _ = call("GET", "/api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/")
refused_ms = (time.time() - began) * 1000
began = time.time()
other_status, _ = call("GET", f"/api/v3/secrets/raw?workspaceId={other}&environment=dev")
other_ms = (time.time() - began) * 1000
rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM"))
print(f"reference_bomb: the bomb's list answered {status} in {refused_ms:.0f} ms (want 422); "
      f"another project's list {other_status} in {other_ms:.1f} ms; server peak RSS {rss // 1024} MiB")
EOF
}

# 1,000 refused logins with oversized or malformed input and a locked account:
# how many audit events, and bytes of them, they leave once a graceful restart
# has written the open aggregate windows.
audit_size() {
  curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/hush/audit?limit=1000" \
    | python3 -c 'import json,sys; e=json.load(sys.stdin)["events"]; print(len(e), sum(len(json.dumps(x)) for x in e))'
}

attack_login_flood() {
  start_server login_flood --auth-rate-limit off
  bootstrap
  local before after
  before=$(audit_size)
  python3 - "$URL" <<'EOF'
import json, sys, urllib.request, urllib.error
url = sys.argv[1]
for i in range(1000):
    if i % 3 == 0:
        path, body = "/api/v1/auth/universal-auth/login", {"clientId": "y" * 4000, "clientSecret": "s"}
    elif i % 3 == 1:
        path, body = "/api/v1/hush/auth/login", {"email": "x" * 4000 + "@example.com", "password": "p"}
    else:
        path, body = "/api/v1/hush/auth/login", {"email": "admin@example.com", "password": "wrong password"}
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req).read()
    except urllib.error.HTTPError as e:
        e.read()
EOF
  # A graceful stop writes the open aggregate windows; the session survives it.
  kill -TERM "$PID"
  wait "$PID" 2>/dev/null || true
  start_server login_flood
  after=$(audit_size)
  # shellcheck disable=SC2086
  set -- $before $after
  echo "login_flood: 1,000 refused logins (oversized emails and client ids, a locked account) added $(( $3 - $1 )) audit events, $(( ($4 - $2) / 1024 )) KiB of them"
}

# Behind a trusted proxy, one client's bad logins must not lock out another.
attack_proxy_lockout() {
  start_server proxy_lockout --trusted-proxies 127.0.0.1/32 --auth-rate-limit off
  bootstrap
  # A spray over 25 accounts (one account alone locks after 5, and its
  # locked attempts do not count against the address).
  for i in $(seq 1 25); do
    curl -s -o /dev/null -H 'Content-Type: application/json' -H 'X-Forwarded-For: 203.0.113.7' \
      -d "{\"email\":\"user$i@example.com\",\"password\":\"wrong password\"}" "$URL/api/v1/hush/auth/login"
  done
  local own other
  own=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'X-Forwarded-For: 203.0.113.7' -d "{\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\"}" \
    "$URL/api/v1/hush/auth/login")
  other=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'X-Forwarded-For: 198.51.100.9' -d "{\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\"}" \
    "$URL/api/v1/hush/auth/login")
  echo "proxy_lockout: after bad logins for 25 accounts from 203.0.113.7 the admin's right password from there gets $own (want 429), from 198.51.100.9 $other (want 200)"
}

# Four parallel floods of bootstrap and invite attempts (each used to cost an
# argon2 hash on an async worker), each its own process, against a list's
# latency, with the default settings (the auth rate limit answers most 429).
attack_hash_flood() {
  start_server hash_flood
  bootstrap
  python3 - "$URL" "$TOKEN" <<'EOF'
import json, multiprocessing, statistics, sys, time, urllib.request, urllib.error
url, token = sys.argv[1], sys.argv[2]
def flood(path, body, seconds):
    end = time.time() + seconds
    while time.time() < end:
        req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req).read()
        except urllib.error.HTTPError as e:
            e.read()
def list_ms(n=200):
    times = []
    for _ in range(n):
        began = time.time()
        req = urllib.request.Request(url + "/api/v3/secrets/raw?workspaceId=default&environment=dev",
                                     headers={"Authorization": "Bearer " + token})
        urllib.request.urlopen(req).read()
        times.append((time.time() - began) * 1000)
    return statistics.median(times)
idle = list_ms()
floods = [
    ("/api/v1/hush/bootstrap", {"email": "eve@example.com", "password": "p" * 64, "bootstrapCode": "0000"}),
    ("/api/v1/hush/users/accept-invite", {"inviteToken": "hush_iv_" + "A" * 43, "password": "p" * 64}),
    ("/api/v1/hush/bootstrap", {"email": "eve@example.com", "password": "p" * 64}),
    ("/api/v1/hush/users/accept-invite", {"inviteToken": "hush_iv_" + "B" * 43, "password": "p" * 64}),
]
def under(floods):
    procs = [multiprocessing.Process(target=flood, args=(p, b, 8)) for p, b in floods]
    for p in procs:
        p.start()
    time.sleep(1)
    loaded = list_ms()
    for p in procs:
        p.join()
    return loaded
loaded = under(floods)
# The control: as many processes flooding a route that does no work, to tell
# the flooders' own share of the 2 cores from any stall of the server.
control = under([("/healthz", {})] * len(floods))
print(f"hash_flood: list median {idle:.2f} ms idle, {loaded:.2f} ms under 4 bootstrap/invite flood processes "
      f"({loaded / idle:.1f}x), {control:.2f} ms under 4 processes flooding /healthz instead "
      f"({control / idle:.1f}x; {multiprocessing.cpu_count()} cores shared by the floods, the server and this client)")
EOF
}

command -v curl >/dev/null || die "curl is not installed"
command -v python3 >/dev/null || die "python3 is not installed"
echo "==> building hush (release)" >&2
cargo build --release --quiet --bin hush || die "cargo build --release failed"

selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${ATTACKS[@]}")
for name in "${selected[@]}"; do
  declare -F "attack_$name" >/dev/null || die "no attack named $name (have: ${ATTACKS[*]})"
  "attack_$name"
done
