#!/usr/bin/env bash
# The desktop tray app (src-tauri/): system packages, run, test, bundle. Idempotent installs.
#
#   scripts/app.sh deps     # system packages to build, run and test the app (apt / Xcode tools)
#   scripts/app.sh run      # build and start the tray app (debug)
#   scripts/app.sh test     # fmt, clippy and every test of the app, the Xvfb end-to-end included
#   scripts/app.sh bundle   # installers with the pinned Tauri CLI: .deb on Linux, .app/.dmg on macOS
#
# Artifacts of the end-to-end test (screenshots, the app's log) go to $SWITCHBOARD_ARTIFACTS
# (default: target/app-artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so bundles do not change with a CLI release; keep in step with the `tauri` crate (2.12).
TAURI_CLI_VERSION=2.12.4

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
manifest=src-tauri/Cargo.toml

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing system packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

deps() {
    case "$(uname -s)" in
        Linux)
            if command -v apt-get >/dev/null; then
                # Build: WebKitGTK, the tray indicator, SVG icons, xdo (menu accelerators), TLS.
                apt_install build-essential pkg-config curl libwebkit2gtk-4.1-dev \
                    libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev
                # Run: the indicator library is loaded at run time.
                apt_install libayatana-appindicator3-1
                # Test: a virtual display, a private session bus, screenshots, clicks.
                apt_install xvfb xauth dbus dbus-x11 imagemagick xdotool xclip python3
            else
                say "not a Debian/Ubuntu system: install WebKitGTK 4.1, libayatana-appindicator3,"
                say "librsvg2, libxdo and OpenSSL development packages yourself"
            fi
            ;;
        Darwin)
            if ! xcode-select -p >/dev/null 2>&1; then
                say "installing the Xcode command-line tools (a dialog may appear)"
                xcode-select --install || true
            fi
            ;;
    esac
    if ! command -v cargo >/dev/null; then
        scripts/bootstrap.sh run
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
}

run() {
    deps
    cargo run --manifest-path "$manifest" --bin switchboard-app -- "$@"
}

test_app() {
    deps
    export SWITCHBOARD_ARTIFACTS=${SWITCHBOARD_ARTIFACTS:-$PWD/target/app-artifacts}
    say "cargo fmt --check (app)"
    cargo fmt --manifest-path "$manifest" -- --check
    say "cargo clippy (app, warnings are errors)"
    cargo clippy --manifest-path "$manifest" --all-targets -- -D warnings
    say "cargo test (app: unit, controller, Xvfb end-to-end)"
    cargo test --manifest-path "$manifest"
    say "screenshots and logs in $SWITCHBOARD_ARTIFACTS"
}

bundle() {
    deps
    if [ "$(cargo tauri --version 2>/dev/null)" != "tauri-cli $TAURI_CLI_VERSION" ]; then
        say "installing the Tauri CLI $TAURI_CLI_VERSION (builds from source; takes a while)"
        cargo install tauri-cli --version "$TAURI_CLI_VERSION" --locked
    fi
    local bundles
    case "$(uname -s)" in
        Linux) bundles=deb ;;      # AppImage would download linuxdeploy at build time
        Darwin) bundles=app,dmg ;;
        *) bundles=msi ;;
    esac
    (cd src-tauri && cargo tauri build --bundles "$bundles" "$@")
    say "bundles in $CARGO_TARGET_DIR/release/bundle/"
}

command=${1:-run}
shift || true
case "$command" in
    deps) deps ;;
    run) run "$@" ;;
    test) test_app ;;
    bundle) bundle "$@" ;;
    *)
        echo "usage: scripts/app.sh [deps|run|test|bundle]" >&2
        exit 2
        ;;
esac
