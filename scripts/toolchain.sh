#!/usr/bin/env bash
# Sourced by scripts/run.sh and scripts/test.sh: installs what Codecast's build needs on a
# fresh machine and skips what is already there. Safe to run again and again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The build cache lives outside the clone, so fresh clones (and CI runs) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/codecast/target}"
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

command -v cargo >/dev/null || { echo "Rust is missing: install it with rustup (https://rustup.rs) first." >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos runs the first wasm-bindgen on PATH; it must be the version in Cargo.lock.
wasm_bindgen_version="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
  say "installing wasm-bindgen-cli $wasm_bindgen_version (about 5 minutes)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "0.3.10" ]; then
  say "installing cargo-leptos 0.3.10 (about 25 minutes on 2 cores)"
  cargo install cargo-leptos --version 0.3.10 --locked --force
fi

command -v npm >/dev/null || { say "installing Node.js"; $SUDO apt-get update -q && $SUDO apt-get install -y -q nodejs npm; }

# wasm-opt for release bundles, from npm's binaryen (Debian's is too old and breaks hydration).
if [ ! -x "$root/node_modules/.bin/wasm-opt" ]; then
  say "installing binaryen (wasm-opt) from npm"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi
