#!/usr/bin/env bash
# The whole test suite: formatting, lints, architecture invariants, unit and end-to-end tests
# (real SQLite, a real mock upstream over TCP, the official OpenAI Python SDK, the desktop app
# on a virtual display).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cache=${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}
# A current Node that bootstrap.sh installed because the system's was too old for the dashboard.
[ -x "$cache/node/node_modules/.bin/node" ] && export PATH="$cache/node/node_modules/.bin:$PATH"
export SWITCHBOARD_PYTHON="$cache/venv/bin/python"
SWITCHBOARD_NODE="$(command -v node)"
export SWITCHBOARD_NODE

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "dashboard (ui/): type check, lint, unit tests, build with the 60 KB initial-JS budget"
# Built before cargo so the binaries below embed this exact build (crates/gateway/build.rs
# skips its own build when ui/dist is newer than the sources).
(cd ui && npm run --silent check && npm run --silent lint && npm test --silent && npm run --silent build)

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
# The module layering of ARCHITECTURE.md ("Layering"): no forbidden `crate::` edge, no cycle.
cargo test --locked -p switchboard-gateway --test layering
# The LiteLLM importer (and its YAML parser) is the CLI's alone: not in the core or the tray.
if cargo tree -p switchboard-gateway -e normal --prefix none | grep -Eq '^(serde_yaml|serde_yaml_ng|yaml-rust2?|unsafe-libyaml) '; then
    echo "switchboard-gateway must not depend on a YAML parser (the importer is crates/import-litellm)" >&2
    exit 1
fi
echo "ok: switchboard-gateway has no YAML parser"

step "cargo test"
cargo test --workspace --locked

step "fuzz regression: every fuzz target over its committed corpus (fuzz/corpus/)"
# Also part of `cargo test` above; named here so a fixed fuzz crash that comes back is called
# out as such. `make fuzz` runs the fuzzer itself.
cargo test --locked -p switchboard-gateway --test reliability_fuzz

step "dashboard end to end in headless Chromium (Debian's chromium, driven by playwright-core)"
# The real `switchboard serve` and mock upstream on free ports, a temp HOME; screenshots of
# every page go to an artifacts folder whose paths the script prints.
cargo build --locked -p switchboard-cli -p mock-upstream
(cd ui && node e2e/run.mjs)

if [ "$(uname -s)" = Linux ]; then
    step "desktop app end to end (the real app binary on Xvfb with a private D-Bus session)"
    # Built by the step above (same packages and profile, so nothing is compiled again). Each
    # test runs `xvfb-run -a dbus-run-session` with a temporary HOME and a free port; the
    # screenshots and the app's log go to an artifacts directory whose paths the test prints.
    cargo test --workspace --locked --test desktop -- --ignored --test-threads=1 --nocapture

    step "keychain tests (real Secret Service: gnome-keyring under a private D-Bus session)"
    # A throwaway keyring in a temp dir: the user's own keychain is never touched.
    keyring_home=$(mktemp -d)
    trap 'rm -rf "$keyring_home"' EXIT
    mkdir -p "$keyring_home/data" "$keyring_home/run" && chmod 700 "$keyring_home/run"
    XDG_DATA_HOME="$keyring_home/data" XDG_RUNTIME_DIR="$keyring_home/run" dbus-run-session -- sh -c '
        eval "$(printf switchboard-test | gnome-keyring-daemon --unlock --components=secrets)"
        cargo test --workspace --locked --test keychain -- --ignored --test-threads=1
        cargo test --locked -p switchboard-gateway --test admin_providers -- --ignored --test-threads=1'
fi

step "all tests passed"
