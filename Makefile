# The two quick-start commands (README): `make run` and `make test`. Both install what they need.
# `make bench` runs the benchmark (README, Performance).
CARGO_TARGET_DIR ?= $(HOME)/.cache/switchboard-target
export CARGO_TARGET_DIR
# Tools bootstrap.sh may install outside the system: Rust (rustup) and, where the system's Node.js
# is too old for the dashboard's build, a current Node in the cache.
TOOLS_PATH := $(or $(SWITCHBOARD_CACHE),$(HOME)/.cache/switchboard)/node/node_modules/.bin:$(HOME)/.cargo/bin

.PHONY: run test bench check build app bundle ui-dev fuzz soak

# Bundle formats `make bundle` builds: .deb and .AppImage on Linux, .app and .dmg on macOS.
# AppImage bundling downloads linuxdeploy from GitHub; offline, use `make bundle BUNDLES=deb`.
ifeq ($(shell uname -s),Darwin)
BUNDLES ?= app,dmg
else
BUNDLES ?= deb,appimage
endif

## Start Switchboard on 127.0.0.1:4000 (writes the commented default config on first start).
run:
	@scripts/bootstrap.sh run
	@PATH="$(TOOLS_PATH):$$PATH" cargo run --release --locked -p switchboard-cli -- serve

## Run the whole test suite (fmt, clippy, unit, end-to-end, OpenAI SDK).
test:
	@scripts/test.sh

## The dashboard with hot reload (http://localhost:5173/) against a running gateway
## (SWITCHBOARD_URL, default http://127.0.0.1:4000).
ui-dev:
	@scripts/bootstrap.sh run
	@cd ui && export PATH="$(TOOLS_PATH):$$PATH" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run dev

## Validate the config file.
check:
	@PATH="$(TOOLS_PATH):$$PATH" cargo run --release --locked -q -p switchboard-cli -- check

## Benchmark against direct, nginx and the LiteLLM proxy (bench/README.md); BENCH_QUICK=1 for a smoke run.
bench:
	@scripts/bootstrap.sh bench
	@PATH="$(TOOLS_PATH):$$PATH" python3 bench/run.py

## Run every fuzz target for FUZZ_SECONDS (default 60) each, one at a time (README, Reliability).
fuzz:
	@scripts/fuzz.sh

## The soak: 80% of the measured max rate for SOAK_MINUTES (default 10) with reloads and a flapping backend.
## Installs the toolchain and the pinned oha (bench/loadgen.py) first.
soak:
	@scripts/bootstrap.sh run
	@PATH="$(TOOLS_PATH):$$PATH" python3 scripts/soak.py

## Release build of the `switchboard` binary.
build:
	@scripts/bootstrap.sh run
	@PATH="$(TOOLS_PATH):$$PATH" cargo build --release --locked -p switchboard-cli

## Start the desktop tray app (debug build; installs the system packages it needs).
app:
	@scripts/bootstrap.sh app
	@PATH="$(TOOLS_PATH):$$PATH" cargo run --locked -p switchboard-app

## Installable desktop bundles with the pinned Tauri CLI (src-tauri/package-lock.json).
bundle:
	@scripts/bootstrap.sh bundle
	@cd src-tauri && PATH="$(TOOLS_PATH):$$PATH" node_modules/.bin/tauri build --ci --bundles $(BUNDLES) -- --locked
	@echo "bundles in $(CARGO_TARGET_DIR)/release/bundle/"
