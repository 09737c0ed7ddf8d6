#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets (fuzz/) with libFuzzer's coverage instrumentation on the
# stable toolchain (the same flags cargo-fuzz passes, without a sanitizer: the code under test is
# safe Rust) and runs each for FUZZ_SECONDS (default 60), FUZZ_JOBS (default 1) at a time, at
# FUZZ_NICE (default 19: the fuzzers take idle cycles only).
#   FUZZ_SECONDS=600 make fuzz                 # longer
#   FUZZ_TARGETS="sse config" make fuzz        # some targets only
#   FUZZ_RUNS=10000000 FUZZ_JOBS=2 make fuzz   # a set number of executions instead of a time
#   FUZZ_RUNS=10000000 FUZZ_SECONDS=900 make fuzz  # 10 M executions or 15 minutes, whichever first
#   FUZZ_SKIP_BUILD=1 make fuzz                # reuse the last build
# New inputs go to a scratch corpus; what adds coverage is merged into fuzz/corpus/<target>/
# (committed, replayed by `cargo test`; inputs over FUZZ_MAX_LEN bytes are not kept). A crash is
# saved under fuzz/artifacts/<target>/ and the run fails: fix it, then copy the file into the
# target's corpus so it stays fixed. One summary line per target (executions, exec/s, coverage,
# corpus, crashes) goes to the terminal and to $target_dir/fuzz-summary.txt.
set -euo pipefail
# A panic with a symbolized backtrace can outlast -timeout on a loaded machine and be saved as
# a "timeout"; without one it is saved as the crash it is.
export RUST_BACKTRACE=0
cd "$(dirname "$0")/../fuzz"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation out of build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    # Not --locked: fuzz/ is its own workspace, and its lock file falls behind whenever the
    # gateway gains a dependency; cargo then only adds what is missing.
    cargo build --release --bins --target "$host" --target-dir "$target_dir"
fi
bin="$target_dir/$host/release"

seconds="${FUZZ_SECONDS:-60}"
runs="${FUZZ_RUNS:-}"
jobs="${FUZZ_JOBS:-1}"
max_len="${FUZZ_MAX_LEN:-16384}"
targets="${FUZZ_TARGETS:-$(ls fuzz_targets | sed 's/\.rs$//')}"
summary_file="$target_dir/fuzz-summary.txt"
: >"$summary_file"

stat() { grep -o "stat::$1: *[0-9]*" "$2" | grep -o '[0-9]*$' | tail -1 || true; }

run_one() {
    local t=$1 work="$target_dir/corpus-work/$1" log="$target_dir/fuzz-$1.log" status=0
    mkdir -p "$work" "artifacts/$t"
    # FUZZ_RUNS alone: that many executions; with FUZZ_SECONDS too, whichever comes first.
    local limit=(-max_total_time="$seconds")
    if [ -n "$runs" ]; then
        limit=(-runs="$runs")
        [ -n "${FUZZ_SECONDS:-}" ] && limit+=(-max_total_time="$seconds")
    fi
    local what="${seconds}s"
    [ -n "$runs" ] && what="$runs runs${FUZZ_SECONDS:+ or ${seconds}s}"
    echo "==> $t: $what (log: $log)"
    nice -n "${FUZZ_NICE:-19}" "$bin/$t" "$work" "corpus/$t" "${limit[@]}" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    local execs rate cov ft
    execs=$(stat number_of_executed_units "$log")
    rate=$(stat average_exec_per_sec "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    if [ "$status" -ne 0 ]; then
        echo "$t: FAILED after ${execs:-?} executions (see $log and fuzz/artifacts/$t/)" >>"$summary_file"
        tail -30 "$log"
        return 1
    fi
    # Keep only what adds coverage to the committed corpus, and nothing large.
    find "$work" -type f -size +"$max_len"c -delete
    "$bin/$t" -merge=1 -max_len="$max_len" "corpus/$t" "$work" >>"$log" 2>&1 || true
    echo "$t: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?} ft ${ft:-?}, corpus $(ls "corpus/$t" | wc -l) files, 0 crashes" >>"$summary_file"
}

failed=0
running=0
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    run_one "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
printf '\n'
cat "$summary_file"
exit "$failed"
