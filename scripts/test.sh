#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (on SQLite and on PostgreSQL), then the
# Playwright suite against a real server in Debian's Chromium (hydrated and without JavaScript).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
cd "$root"

if ! command -v chromium >/dev/null; then
  say "installing Debian's chromium"
  $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium
fi

# The browser tests' fake SMS provider is WireMock's standalone jar (from npm), run by Java.
if ! command -v java >/dev/null; then
  say "installing a Java runtime for WireMock"
  $SUDO apt-get update -q && $SUDO apt-get install -y -q default-jre-headless
fi

# The integration tests create one database per test on this server.
pg_url="${CODECAST_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
if ! pg_isready -q -d "$pg_url/postgres" 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    say "starting PostgreSQL"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  pg_isready -q -t 30 -d "$pg_url/postgres" || { echo "PostgreSQL is not reachable at $pg_url" >&2; exit 1; }
fi

say "Rust tests (unit, and integration on SQLite and PostgreSQL)"
cargo test -p app -p server -p migrations

say "building the site for the browser tests"
cargo leptos build

say "Playwright"
(cd end2end && { [ -d node_modules/@playwright/test ] && [ -d node_modules/wiremock ] || npm ci --no-audit --no-fund --loglevel=error; } && CODECAST_BIN="$CARGO_TARGET_DIR/debug/codecast" npx playwright test)
