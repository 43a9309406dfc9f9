#!/bin/sh
# `detector export` (docs/EXPORT.md): tests/onnx/check_export.py runs every
# cfg's export through ONNX Runtime and OpenVINO against our own forward
# (the test venv's python: scripts/test_venv.sh); then the errors: a cfg
# without [ssd] with -decode, -decode at batch 2, missing arguments, a missing
# weights file, a -check_in file of the wrong size.
set -u
BIN=${BIN:-./detector}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_onnx.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$ROOT" || exit 2

if "$BIN" export cfg/ssd4x4.cfg -save_init "$T/w" 2>&1 | grep -q "no ONNX support"; then
    fail "this build has no ONNX support (ONNX=0): install libonnx-dev and libprotobuf-dev"
fi
PY=$(sh scripts/test_venv.sh) || fail "the test venv (scripts/test_venv.sh) is not available"
"$PY" tests/onnx/check_export.py "$BIN" "$T" || fail "check_export.py"

# expect STATUS TEXT args...: exit status and a message containing TEXT
expect() {
    want=$1 text=$2
    shift 2
    "$BIN" "$@" >"$T/log" 2>&1
    rc=$?
    [ "$rc" -eq "$want" ] || fail "export $*: status $rc, wanted $want: $(cat "$T/log")"
    grep -qF -- "$text" "$T/log" || fail "export $*: no '$text' in: $(cat "$T/log")"
}
"$BIN" export cfg/ssd4x4.cfg -save_init "$T/ssd.w" >/dev/null 2>&1 || fail "-save_init"
"$BIN" export cfg/multilabel.cfg -save_init "$T/ml.w" >/dev/null 2>&1 || fail "-save_init"
expect 1 "needs an [ssd] head as the last layer; this cfg ends in [multilabel]" \
    export cfg/multilabel.cfg "$T/ml.w" -o "$T/m.onnx" -decode
expect 2 "-batch must be 1" export cfg/ssd4x4.cfg "$T/ssd.w" -o "$T/m.onnx" -decode -batch 2
expect 2 "-o F.onnx is required" export cfg/ssd4x4.cfg "$T/ssd.w"
expect 2 "<weights> is required" export cfg/ssd4x4.cfg -o "$T/m.onnx"
expect 1 "$T/nope.weights" export cfg/ssd4x4.cfg "$T/nope.weights" -o "$T/m.onnx"
[ ! -e "$T/m.onnx" ] || fail "a failed export left $T/m.onnx"
printf 'abcd' >"$T/short.bin"
expect 1 "$T/short.bin: 4 bytes" export cfg/ssd4x4.cfg "$T/ssd.w" -o "$T/m.onnx" \
    -check_in "$T/short.bin" -check_out "$T/o.bin"
echo "cli_onnx: ok"
