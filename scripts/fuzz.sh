#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets (fuzz/) with libFuzzer's coverage instrumentation on the
# stable toolchain (the same flags cargo-fuzz passes, without a sanitizer: the code under test is
# safe Rust) and runs each for FUZZ_SECONDS (default 60), one at a time.
#   FUZZ_SECONDS=600 make fuzz                 # longer
#   FUZZ_TARGETS="sse config" make fuzz        # some targets only
# New inputs go to a scratch corpus; what adds coverage is merged into fuzz/corpus/<target>/
# (committed, replayed by `cargo test`). A crash is saved under fuzz/artifacts/<target>/ and the
# run fails: fix it, then copy the file into the target's corpus so it stays fixed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation out of build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --bins --target "$host" --target-dir "$target_dir"
bin="$target_dir/$host/release"

seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-$(ls fuzz_targets | sed 's/\.rs$//')}"
summary=()
failed=0
for t in $targets; do
    work="$target_dir/corpus-work/$t"
    mkdir -p "$work" "artifacts/$t"
    log="$target_dir/fuzz-$t.log"
    echo "==> $t for ${seconds}s (log: $log)"
    status=0
    "$bin/$t" "$work" "corpus/$t" -max_total_time="$seconds" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    if [ "$status" -ne 0 ]; then
        failed=1
        summary+=("$t: FAILED after $runs runs (see $log and fuzz/artifacts/$t/)")
        tail -30 "$log"
        continue
    fi
    # Keep only what adds coverage to the committed corpus.
    "$bin/$t" -merge=1 "corpus/$t" "$work" >>"$log" 2>&1 || true
    summary+=("$t: $runs runs in ${seconds}s, 0 crashes, corpus $(ls "corpus/$t" | wc -l) files")
done
printf '\n'
printf '%s\n' "${summary[@]}"
exit "$failed"
