#!/bin/sh
# The embedding API (docs/API.md) as a user gets it: `make install` into a
# temporary prefix, tests/capi/capi_test.c compiled with nothing but
# `pkg-config --cflags --libs detector` (no -Isrc, no internal header), on a
# model trained here (cfg/synth.cfg's layers, one short epoch), on a
# synthetic picture and a real one (BCCD, 640x480: not the input's shape).
# It checks the boxes against `detector test`'s for the same pictures,
# cfg, weights and thresholds; RGB = BGR; two handles on two threads; a
# batch; save and reopen; errors naming the file. Then: the shared library
# exports exactly the functions of include/detector.h.
set -u
BIN=${BIN:-./detector}
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_capi.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make -s -C "$ROOT" install BUILD="$BUILD" ASAN="${SANITIZED:-0}" PREFIX="$T/inst" >"$T/install.log" 2>&1 ||
    fail "make install: $(tail -5 "$T/install.log")"
for f in include/detector.h lib/libdetector.so lib/libdetector.so.0 lib/libdetector.a \
    lib/pkgconfig/detector.pc; do
    [ -e "$T/inst/$f" ] || fail "make install did not write $f"
done
[ "$(readlink "$T/inst/lib/libdetector.so")" = "$(readlink "$T/inst/lib/libdetector.so.0")" ] ||
    fail "libdetector.so and .so.0 point at different files"
readelf -d "$T/inst/lib/libdetector.so" | grep -q 'SONAME.*\[libdetector\.so\.0\]' || fail "soname"

# exports: exactly the functions the header declares (outside its comments)
grep -v '^ *\*\|^ */\*' "$T/inst/include/detector.h" | grep -oE '\bdt_[a-z0-9_]+\(' | tr -d '(' |
    sort -u >"$T/api.txt"
nm -D --defined-only "$T/inst/lib/libdetector.so" | awk '$2 ~ /^[TWDBRVi]$/ {print $3}' | sort -u >"$T/exports.txt"
diff "$T/api.txt" "$T/exports.txt" >"$T/exports.diff" ||
    fail "the exports differ from include/detector.h's functions (< header, > library): $(cat "$T/exports.diff")"
echo "exports: $(wc -l <"$T/exports.txt") symbols, exactly include/detector.h's functions"

# the test program: the installed header and library only
export PKG_CONFIG_PATH="$T/inst/lib/pkgconfig"
SAN=""
[ "${SANITIZED:-0}" = 1 ] && SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
# shellcheck disable=SC2046,SC2086
${CC:-cc} -std=c11 -Wall -Wextra -Werror -O1 -g $SAN "$ROOT/tests/capi/capi_test.c" -o "$T/capi_test" \
    $(pkg-config --cflags --libs detector) -lpthread -lm >"$T/cc.log" 2>&1 ||
    fail "compiling against the installed library: $(cat "$T/cc.log")"

# a model: synthetic set, one short epoch
"$BIN" synth "$T/s" -n 24 -size 112 -seed 7 >/dev/null 2>&1 || fail "synth"
sed -e "s|^data=.*|data=$T/s/synth.data|" -e "s|^batch=.*|batch=8|" -e '/^\[stage\]/,$d' \
    "$ROOT/cfg/synth.cfg" >"$T/m.cfg"
printf '[stage]\nepochs=1\nlr=1e-3\n' >>"$T/m.cfg"
"$BIN" train "$T/m.cfg" -clear -quiet -threads 2 >"$T/train.log" 2>&1 || fail "train: $(tail -5 "$T/train.log")"
W=$T/s/backup/m_final.weights
[ -s "$W" ] || fail "no final weights"

# the pictures, lossless twice: PNG for `detector test`, PPM for the program
"$PY" - "$T" "$T/s/JPEGImages/000003.jpg" "$ROOT/tests/data/real/bccd/BCCD/JPEGImages/BloodImage_00000.jpg" <<'PYEOF' || fail "writing the pictures"
import sys
from PIL import Image
out = sys.argv[1]
for i, src in enumerate(sys.argv[2:]):
    im = Image.open(src).convert("RGB")
    im.save(f"{out}/im{i}.png")
    with open(f"{out}/im{i}.ppm", "wb") as f:
        f.write(b"P6 %d %d 255\n" % im.size + im.tobytes())
PYEOF

TH=0.002
NMS=0.45
ARGS=""
for i in 0 1; do
    DT_CONV=gemm "$BIN" test "$T/m.cfg" "$W" "$T/im$i.png" -thresh $TH -nms $NMS -out "$T/out" \
        >"$T/test$i.log" 2>&1 || fail "detector test: $(cat "$T/test$i.log")"
    grep ' box ' "$T/test$i.log" >"$T/ref$i.txt"
    ARGS="$ARGS $T/im$i.ppm $T/ref$i.txt"
done
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$T/inst/lib" "$T/capi_test" "$T/m.cfg" "$W" $TH $NMS "$T/no/such.cfg" "$T/saved.weights" \
    $ARGS >"$T/capi.log" 2>&1
rc=$?
cat "$T/capi.log"
[ $rc = 0 ] || fail "capi_test exited $rc"
# the program ran against the installed library, not another one
LD_LIBRARY_PATH="$T/inst/lib" ldd "$T/capi_test" | grep -q "$T/inst/lib/libdetector.so.0" ||
    fail "capi_test does not load the installed libdetector.so.0"
echo "embedding API: boxes equal to detector test's, RGB = BGR, threads, batch, save"
