#!/usr/bin/env bash
# API fuzzing with schemathesis (PyPI) against a live hush server, driven by
# the server's own OpenAPI document (GET /api/docs/openapi.json).
#
# Builds hush, starts a server on a free 127.0.0.1 port with a fresh data
# dir, bootstraps it, and runs schemathesis with the admin's token on every
# route. Fails unless there are no 5xx answers and no answer that breaks the
# document (status, content type, headers, body schema). Prints the number of
# test cases run. Not part of the test command (scripts/test.sh).
#
#   scripts/api-fuzz.sh                 # 100 examples an operation (~4 min on 2 cores)
#   MAX_EXAMPLES=200 scripts/api-fuzz.sh
#   SEED=1234 scripts/api-fuzz.sh       # replay a run
#
# The token is a throwaway on a loopback-only server that lives as long as
# this script; the data dir is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${MAX_EXAMPLES:-100}"
# A bound on the whole run, whatever the machine's load.
TIME_LIMIT="${TIME_LIMIT:-600}"
VENV="${TMPDIR:-/tmp}/hush-api-fuzz-venv"

echo "==> schemathesis in $VENV"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'schemathesis>=4.32,<5'
fi
"$VENV/bin/schemathesis" --version

echo "==> building hush"
cargo build --quiet
HUSH="${CARGO_TARGET_DIR:-$PWD/target}/debug/hush"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hush-api-fuzz.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The login rate limit is off: the fuzzer calls the login routes far more
# often than a person, and its 429s would hide the routes' own answers.
HUSH_LOG=warn "$HUSH" server --data-dir "$WORK/data" --listen 127.0.0.1:0 \
  --auth-rate-limit off >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
  sleep 0.1
done
URL=$(sed -n 's/^hush server listening on //p' "$WORK/server.out")
[ -n "$URL" ] || { echo "the server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
echo "==> server at $URL"

# Bootstrap: the first admin, with the one-time code the server wrote.
read -r TOKEN PROJECT < <(python3 - "$URL" "$WORK/data/bootstrap-code" <<'PY'
import json, sys, urllib.request
url, code_file = sys.argv[1], sys.argv[2]
body = json.dumps({
    "email": "fuzz@example.com",
    "password": "api-fuzz-password-0",
    "bootstrapCode": open(code_file).read().strip(),
}).encode()
req = urllib.request.Request(url + "/api/v1/hush/bootstrap", data=body,
                             headers={"Content-Type": "application/json"})
answer = json.load(urllib.request.urlopen(req))
print(answer["accessToken"], answer["project"]["id"])
PY
)

# Most generated requests name the real project, its environments and a few
# folders and keys, so they reach the routes' logic instead of a 404; the
# rest stay random.
cat >"$WORK/schemathesis.toml" <<TOML
[dictionaries.project]
values = ["$PROJECT", "default"]
[dictionaries.env]
values = ["dev", "staging", "prod"]
[dictionaries.folder]
values = ["/", "/app", "/app/api", "/legacy"]
[dictionaries.key]
values = ["API_KEY", "DATABASE_URL", "TOKEN_1"]

[parameters]
"query.workspaceId" = { dictionary = "project", probability = 0.8 }
"query.projectId" = { dictionary = "project", probability = 0.8 }
"query.project" = { dictionary = "project", probability = 0.8 }
"query.environment" = { dictionary = "env", probability = 0.8 }
"query.secretPath" = { dictionary = "folder", probability = 0.8 }
"query.path" = { dictionary = "folder", probability = 0.8 }
"path.project" = { dictionary = "project", probability = 0.8 }
"path.name" = { dictionary = "key", probability = 0.7 }
"body.workspaceId" = { dictionary = "project", probability = 0.8 }
"body.projectId" = { dictionary = "project", probability = 0.8 }
"body.environment" = { dictionary = "env", probability = 0.8 }
"body.secretPath" = { dictionary = "folder", probability = 0.8 }
"body.path" = { dictionary = "folder", probability = 0.8 }
"body.secrets[*].secretKey" = { dictionary = "key", probability = 0.7 }
TOML

# Logout would revoke the fuzzer's own token and leave every later case a 401.
# Checks: no 5xx, and every answer as documented. One worker: with two,
# Python 3.11's ast module, which Hypothesis calls from each worker thread,
# now and then fails ("AST constructor recursion depth mismatch").
set +e
# From the work dir: schemathesis keeps a cache (.schemathesis/) where it runs.
(cd "$WORK" && timeout "$TIME_LIMIT" "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" \
  run "$URL/api/docs/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --exclude-path /api/v1/hush/auth/logout \
  --max-examples "$MAX_EXAMPLES" \
  --workers 1 \
  --request-timeout 70 \
  --suppress-health-check all \
  ${SEED:+--seed "$SEED"} \
  --no-color 2>&1) | tee "$WORK/schemathesis.out"
status=${PIPESTATUS[0]}
set -e

# The number of test cases schemathesis ran, and how many failed.
echo
echo "==> summary"
grep -A1 "^Test cases:" "$WORK/schemathesis.out" | tail -1 || true
if grep -q "5xx\|Server error" "$WORK/schemathesis.out"; then
  echo "server errors found; the server log follows" >&2
  tail -50 "$WORK/server.err" >&2
fi
if [ "$status" -eq 124 ]; then
  echo "schemathesis ran past ${TIME_LIMIT}s and was stopped" >&2
fi
exit "$status"
