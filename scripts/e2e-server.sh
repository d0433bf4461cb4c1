#!/usr/bin/env bash
# Starts Codecast for one Playwright project: a fresh SQLite database on the given port.
set -euo pipefail
port="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CODECAST_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/codecast}"
data="$(mktemp -d "${TMPDIR:-/tmp}/codecast-e2e-$port.XXXXXX")"
trap 'rm -rf "$data"' EXIT
cd "$root"
export CODECAST_ADDR="127.0.0.1:$port" CODECAST_DATA_DIR="$data" CODECAST_LOG="${CODECAST_LOG:-warn}"
export DATABASE_URL="sqlite://$data/codecast.db?mode=rwc"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$root/target/site}"
"$bin" serve &
child=$!
trap 'kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; rm -rf "$data"' EXIT INT TERM
wait "$child"
