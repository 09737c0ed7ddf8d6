#!/usr/bin/env bash
# The whole test suite: formatting, lints, architecture invariants, unit and end-to-end tests
# (real SQLite, a real mock upstream over TCP, the official OpenAI Python SDK).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cache=${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}
export SWITCHBOARD_PYTHON="$cache/venv/bin/python"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "architecture invariants"
# The gateway core is a library any shell can embed: it must never depend on a GUI toolkit.
if cargo tree -p switchboard-gateway -e normal --prefix none | grep -Eq '^(tauri|wry|tao|gtk)[ -]'; then
    echo "switchboard-gateway must not depend on tauri/wry/tao/gtk" >&2
    exit 1
fi
echo "ok: switchboard-gateway has no GUI dependency"

step "cargo test"
cargo test --workspace --locked

step "all tests passed"
