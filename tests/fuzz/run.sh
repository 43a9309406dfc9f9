#!/bin/sh
# Runs every libFuzzer harness of tests/fuzz (docs/FUZZ.md) for a bounded
# time each, one after the other, under ASan + UBSan, and fails on any
# crash, leak, timeout or out-of-memory.
#   tests/fuzz/run.sh [SECONDS]   seconds per harness (default 30)
#   ONLY=cfg                      only harnesses whose name contains this
#   FUZZ_NO_BUILD=1               skip `make fuzz` (already built)
# First every saved reproducer in tests/fuzz/crashes/<harness>/ is run once
# (regressions), then the harness fuzzes from its seed corpus
# (tests/fuzz/corpus/<harness>) plus the inputs it found before
# (build-fuzz/corpus/<harness>, kept between local runs). Crash inputs land in
# build-fuzz/artifacts/<harness>/; logs in build-fuzz/logs/.
# Prints per harness the executions and the coverage (cov: edges, ft:
# features) libFuzzer reached.
cd "$(dirname "$0")/../.." || exit 2
SECS=${1:-30}
B=build-fuzz
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    make -j"$(nproc)" fuzz > "${TMPDIR:-/tmp}/dt_fuzz_build.$$.log" 2>&1 || {
        tail -40 "${TMPDIR:-/tmp}/dt_fuzz_build.$$.log"
        rm -f "${TMPDIR:-/tmp}/dt_fuzz_build.$$.log"
        echo "fuzz: make fuzz failed"
        exit 2
    }
    rm -f "${TMPDIR:-/tmp}/dt_fuzz_build.$$.log"
fi
export DT_QUIET=1 OMP_NUM_THREADS=1
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
mkdir -p "$B/logs" || exit 2
failed=""
for seeds in tests/fuzz/corpus/*/; do
    h=$(basename "$seeds")
    case "$h" in *"${ONLY:-}"*) ;; *) continue ;; esac
    bin=$B/fuzz/fuzz_$h
    [ -x "$bin" ] || { echo "fuzz: $bin missing"; failed="$failed $h"; continue; }
    log=$B/logs/$h.log
    repro=tests/fuzz/crashes/$h
    if [ -d "$repro" ] && [ -n "$(ls -A "$repro" 2>/dev/null)" ]; then
        if ! "$bin" -rss_limit_mb=2048 -timeout=10 "$repro"/* > "$B/logs/$h.repro.log" 2>&1; then
            echo "fuzz_$h: a saved reproducer in $repro still fails:"
            grep -aE "^(==[0-9]+==ERROR|SUMMARY|Running:|fuzz:)|runtime error|^    #[0-5] " \
                "$B/logs/$h.repro.log" | head -30
            failed="$failed $h(reproducer)"
        fi
    fi
    mkdir -p "$B/corpus/$h" "$B/artifacts/$h"
    dict=""
    [ -f "tests/fuzz/$h.dict" ] && dict="-dict=tests/fuzz/$h.dict"
    # shellcheck disable=SC2086 # $dict is one word or none
    "$bin" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$h/" $dict "$B/corpus/$h" "$seeds" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -aE '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(grep -aE '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    printf 'fuzz_%-8s %4ss  execs %-9s cov %-6s ft %-6s %s\n' "$h" "$SECS" "${execs:-?}" \
        "${cov:-?}" "${ft:-?}" "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")"
    if [ $rc != 0 ]; then
        grep -aE "^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|fuzz:)|runtime error|ALARM|out-of-memory|^    #[0-9] " \
            "$log" | head -30
        failed="$failed $h"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (logs in $B/logs, inputs in $B/artifacts)"
    exit 1
fi
echo "fuzz: all harnesses ran clean"
