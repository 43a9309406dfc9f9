#!/bin/sh
# Runs every test: writes the PyTorch references (tests/ref), then every
# $BUILD/tests/test_* program (cmocka) and every tests/cli_*.sh script, from
# the repository root. Counts individual test cases (cmocka's per-test
# results; a CLI script is one case) and prints, last, exactly
#   N passed, N failed
# Exits non-zero on any failure. A program that crashes or exits non-zero
# without a cmocka summary counts its unreported tests as failed.
#   BUILD    build folder holding tests/ (default build)
#   BIN      detector binary, passed to the CLI scripts (default ./detector)
#   TEST_TIMEOUT  seconds per program (default 1800: cli_default trains ~8-14 min)
#   SANITIZED     1 under AddressSanitizer: learning runs shrink to a smoke run
#   ONLY     run only programs/scripts whose name contains this text
#   EMU_BUILD     the CUDA emulator's build folder (default build-emu)

cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
BIN=${BIN:-./detector}
TEST_TIMEOUT=${TEST_TIMEOUT:-1800}
PY=${PYTHON:-/usr/bin/python3}
export BUILD BIN
# Leaks that system libraries keep for the process's life (Qt, D-Bus under
# Xvfb) are not ours: tests/lsan.supp names those libraries.
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

passed=0
failed=0
failed_names=""
log_dir=${TMPDIR:-/tmp}/dt_run_all.$$
mkdir -p "$log_dir" || exit 2
trap 'rm -rf "$log_dir"' EXIT
# The convolution route cache (docs/CONV_ROUTES.md) of this run, shared by
# its tests: none writes into the user's own cache folder.
DT_CONV_CACHE=${DT_CONV_CACHE:-$log_dir/conv_routes.txt}
export DT_CONV_CACHE

note_fail() { failed_names="$failed_names
  $1"; }

echo "== references: $PY scripts/make_refs.py tests/ref"
if ! "$PY" scripts/make_refs.py tests/ref; then
    echo "FAILED: scripts/make_refs.py (parity tests will fail without references)"
    failed=$((failed + 1))
    note_fail "scripts/make_refs.py"
fi

run_timed() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 10 "$TEST_TIMEOUT" "$@"
    else
        "$@"
    fi
}

# cmocka programs; then the GPU parity test built on the CUDA emulator
# (make EMU=1, tests/cuda_emu: our kernels and the GPU code paths run without a
# GPU; scripts/test.sh builds it), once: not again under AddressSanitizer
EMU_BUILD=${EMU_BUILD:-build-emu}
set -- "$BUILD"/tests/test_*
if [ "${SANITIZED:-0}" != 1 ] && [ "$BUILD" != "$EMU_BUILD" ] && [ -x "$EMU_BUILD/tests/test_gpu_parity" ]; then
    set -- "$@" "$EMU_BUILD/tests/test_gpu_parity"
fi
found=0
for t in "$@"; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    # a program whose source is gone (renamed or removed) is a stale build output
    case "$name" in test_*) [ -f "tests/$name.c" ] || continue ;; esac
    case "$name" in *.d|*.o) continue ;; esac
    case "$t" in "$EMU_BUILD"/*) name="emu_$name" ;; esac
    if [ -n "$ONLY" ]; then case "$name" in *"$ONLY"*) ;; *) continue ;; esac; fi
    found=$((found + 1))
    echo "== $name"
    log="$log_dir/$name.log"
    run_timed "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    # cmocka: "[==========] Running N test(s).", "[       OK ] x", "[  FAILED  ] x",
    # summary "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
    total=$(sed -n 's/^\[==========\] Running \([0-9][0-9]*\) test.*/\1/p' "$log" | head -1)
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s), listed below.*/\1/p' "$log" | tail -1)
    crashed=0
    if [ -n "$p" ]; then
        f=${f:-0}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "FAILED: $name exited with status $rc after its tests passed"
            f=1
            crashed=1
        fi
    else
        # no summary: crashed, killed, timed out or not a cmocka program
        p=$(grep -c '^\[       OK \]' "$log")
        total=${total:-0}
        f=$((total - p))
        [ "$f" -lt 1 ] && f=1
        crashed=1
        if [ "$rc" -ge 128 ]; then
            echo "FAILED: $name killed by signal $((rc - 128)) (crash?)"
        elif [ "$rc" -eq 124 ]; then
            echo "FAILED: $name timed out after ${TEST_TIMEOUT}s"
        else
            echo "FAILED: $name exited with status $rc without a test summary"
        fi
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
        for n in $(sed -n 's/^\[  FAILED  \] \([A-Za-z_][A-Za-z0-9_.-]*\)$/\1/p' "$log" | sort -u); do
            note_fail "$name: $n"
        done
        [ "$crashed" -eq 1 ] && note_fail "$name (status $rc, no cmocka summary)"
    fi
    echo "-- $name: $p passed, $f failed"
done
if [ "$found" -eq 0 ] && [ -z "$ONLY" ]; then
    echo "FAILED: no test programs in $BUILD/tests (run make BUILD=$BUILD tests)"
    failed=$((failed + 1))
    note_fail "no test programs"
fi

# CLI scripts: one case each
for s in tests/cli_*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s")
    if [ -n "$ONLY" ]; then case "$name" in *"$ONLY"*) ;; *) continue ;; esac; fi
    echo "== $name"
    BIN="$BIN" BUILD="$BUILD" run_timed sh "$s"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "-- $name: PASS"
    else
        failed=$((failed + 1))
        note_fail "$name (status $rc)"
        echo "-- $name: FAIL (status $rc)"
    fi
done

if [ "$failed" -gt 0 ]; then
    echo "== failures:$failed_names"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
