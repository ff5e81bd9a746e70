#!/usr/bin/env bash
# The one test command: formatting, lints, and every test.
# PostgreSQL tests run when TEST_DATABASE_URL is set; otherwise they are skipped
# and this script says so, unless HUSH_REQUIRE_PG_TESTS=1 (.ci/run sets it)
# makes a missing database a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "== PostgreSQL tests: TEST_DATABASE_URL is set"
elif [ "${HUSH_REQUIRE_PG_TESTS:-}" = 1 ] || [ "${HUSH_REQUIRE_POSTGRES_TESTS:-}" = 1 ]; then
  echo "== PostgreSQL tests REQUIRED but TEST_DATABASE_URL is not set: they will fail"
else
  echo "== PostgreSQL tests SKIPPED: TEST_DATABASE_URL is not set (SQLite tests still run)"
fi

if [ -n "${TEST_MARIADB_URL:-}" ]; then
  echo "== MariaDB rotation test: TEST_MARIADB_URL is set"
else
  echo "== MariaDB rotation test SKIPPED: TEST_MARIADB_URL is not set (e.g. mysql://root@127.0.0.1:3306/)"
fi

if [ "${HUSH_REQUIRE_REDIS_TESTS:-}" = 1 ]; then
  echo "== Redis tests REQUIRED (dynamic ACL users; TEST_REDIS_ADDR, default 127.0.0.1:6379)"
else
  echo "== Redis tests run when a Redis answers at TEST_REDIS_ADDR (default 127.0.0.1:6379), else are SKIPPED"
fi

if [ "${HUSH_REQUIRE_BROWSER_TESTS:-}" = 1 ]; then
  echo "== dashboard browser tests REQUIRED (/usr/bin/chromium + python3 playwright)"
else
  echo "== dashboard browser tests run when /usr/bin/chromium and python3's playwright exist, else are SKIPPED"
fi

echo "== cargo test"
cargo test --all-targets --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/hush-test-output.txt"
status=${PIPESTATUS[0]}
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  echo "note: PostgreSQL backend tests were skipped (set TEST_DATABASE_URL=postgres://... to run them)"
fi
exit "$status"
