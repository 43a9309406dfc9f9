#!/bin/sh
# The Python package (python/, docs/PYTHON.md) as a user gets it: pip-installed
# from this checkout (into a temporary folder: nothing in the test venv or
# the user's site changes) and run by pytest (tests/python/) in the test venv
# (scripts/test_venv.sh: numpy, pytest), against this build's libdetector, on
# a model trained here (cfg/synth.cfg's layers, one short epoch, as
# tests/cli_capi.sh makes it). Prints pytest's summary.
set -u
BIN=${BIN:-./detector}
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_python.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

PY=$(sh "$ROOT/scripts/test_venv.sh") || fail "no test venv (scripts/test_venv.sh)"
[ -e "$ROOT/$BUILD/libdetector.so.0" ] || fail "$BUILD/libdetector.so.0 not built (make)"
# an offline install (setuptools and wheel of the venv), out of tree:
# python/build goes to $T
"$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
    --target "$T/site" "$ROOT/python" >"$T/pip.log" 2>&1 || fail "pip install ./python: $(tail -5 "$T/pip.log")"

# a model: synthetic set, one short epoch (as tests/cli_capi.sh)
"$BIN" synth "$T/s" -n 24 -size 112 -seed 7 >/dev/null 2>&1 || fail "synth"
sed -e "s|^data=.*|data=$T/s/synth.data|" -e "s|^batch=.*|batch=8|" -e '/^\[stage\]/,$d' \
    "$ROOT/cfg/synth.cfg" >"$T/m.cfg"
printf '[stage]\nepochs=1\nlr=1e-3\n' >>"$T/m.cfg"
DT_CONV=gemm "$BIN" train "$T/m.cfg" -clear -quiet -loader_threads 2 >"$T/train.out" 2>"$T/train.log" ||
    fail "train: $(tail -5 "$T/train.log")"
[ -s "$T/s/backup/m_final.weights" ] || fail "no final weights"

# pictures for `detector test` (PNG) and numpy (PPM), lossless both
/usr/bin/python3 - "$T" "$T/s/JPEGImages/000003.jpg" "$ROOT/tests/data/real/bccd/BCCD/JPEGImages/BloodImage_00000.jpg" <<'PYEOF' || fail "writing the pictures"
import sys
from PIL import Image
out = sys.argv[1]
for i, src in enumerate(sys.argv[2:]):
    im = Image.open(src).convert("RGB")
    im.save(f"{out}/im{i}.png")
    with open(f"{out}/im{i}.ppm", "wb") as f:
        f.write(b"P6 %d %d 255\n" % im.size + im.tobytes())
PYEOF

# under AddressSanitizer the library needs the runtime loaded first
if [ "${SANITIZED:-0}" = 1 ]; then
    LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
    # the interpreter frees little at exit: no leak check here (last, over a caller's detect_leaks=1)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    # pytest captures stderr: undefined behaviour must stop the process to be seen
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
fi
cd "$T" || exit 2 # not the checkout: `import detector` must find the installed copy
DT_TEST_DIR="$T" DT_TEST_ROOT="$ROOT" DT_TEST_BIN="$(cd "$ROOT" && cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" \
    DT_TEST_BUILD="$BUILD" DETECTOR_LIB="$ROOT/$BUILD/libdetector.so.0" PYTHONPATH="$T/site" \
    "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/python" >"$T/pytest.log" 2>&1
rc=$?
tail -40 "$T/pytest.log"
[ $rc = 0 ] || fail "pytest exited $rc"
echo "python: pytest passed (detections = detector test's, RGB = BGR, strides, errors, train_step, train)"
