#!/usr/bin/env bash
# Builds Codecast (release) and serves it on http://127.0.0.1:3000 with the embedded SQLite
# database under ./data/ (override with CODECAST_ADDR, DATABASE_URL, … — see README).
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
cd "$root"
say "building Codecast (release)"
cargo leptos build --release
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$root/target/site}"
say "starting Codecast on http://${CODECAST_ADDR:-127.0.0.1:3000}"
exec "$CARGO_TARGET_DIR/release/codecast" serve
