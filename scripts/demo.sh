#!/usr/bin/env bash
# Quick start: build hush, start a server on a temporary directory, bootstrap
# it, store secrets, show versions and the audit log, run a program with its
# output masked, and clean up.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building hush"
cargo build --quiet
HUSH="${CARGO_TARGET_DIR:-$PWD/target}/debug/hush"

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

export XDG_CONFIG_HOME="$WORK/config" XDG_CACHE_HOME="$WORK/cache" HUSH_LOG=warn
echo "==> starting hush server (data in $WORK/data)"
"$HUSH" server --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
  sleep 0.1
done
URL=$(sed -n 's/^hush server listening on //p' "$WORK/server.out")
export HUSH_SERVER="$URL"
echo "    listening on $URL"

run() { echo; echo "\$ hush $*"; "$HUSH" "$@"; }

# A new server prints a one-time bootstrap code and writes it to its data dir;
# only whoever holds it can create the first admin.
echo; echo "\$ hush bootstrap --code-file $WORK/data/bootstrap-code --email admin@example.com --password-stdin"
echo "demo-password-change-me" | "$HUSH" bootstrap --code-file "$WORK/data/bootstrap-code" \
  --email admin@example.com --password-stdin >/dev/null
echo "(admin created; session stored in \$XDG_CONFIG_HOME/hush/credentials.json)"

run set STRIPE_KEY=sk_test_51Hdemo0000secret --no-history-hint
echo "postgres://app:s3cr3t-pa55@db.internal/app" | "$HUSH" set DATABASE_URL - && echo "(DATABASE_URL read from stdin)"
run set STRIPE_KEY=sk_test_51Hdemo1111rotated --tag service=payments --no-history-hint
run list
run history STRIPE_KEY
run get STRIPE_KEY --version 1 --plain; echo
run rollback STRIPE_KEY --version 1
run delete DATABASE_URL
run deleted
run restore DATABASE_URL

if "$HUSH" run --help >/dev/null 2>&1; then
  run run -- sh -c 'echo "connecting with $DATABASE_URL"; echo "stripe key: $STRIPE_KEY"'
fi

run audit --limit 12
run audit verify
echo; echo "==> demo finished; the server and its data are removed"
