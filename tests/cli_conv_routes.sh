#!/bin/sh
# The convolution route on the command line (docs/CONV_ROUTES.md): summary's
# "conv route" column and routes line, bench's routes line; the first run
# measures and writes the cache, the second reads it; a damaged cache is
# reported once and rewritten; DT_CONV forces the route. Whichever route the
# measurement picks, the checks hold (no check depends on speed). The two
# ungrouped layers have one shape: it is measured once.
set -u
BIN=${BIN:-./detector}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_conv_routes.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset DT_CONV DT_QUIET
export DT_CONV_CACHE="$T/routes.txt"

cat >"$T/net.cfg" <<'CFG'
[net]
batch=2
height=16
width=16
channels=8

[convolutional]
filters=8
size=3
pad=1
batch_normalize=1
activation=relu

[convolutional]
filters=8
size=3
pad=1
batch_normalize=1
activation=relu

[convolutional]
filters=8
size=3
pad=1
groups=2
activation=relu
CFG

"$BIN" summary "$T/net.cfg" >"$T/1.out" 2>"$T/1.err" || fail "summary: $(cat "$T/1.err")"
grep -q "conv route" "$T/1.out" || fail "no route column: $(cat "$T/1.out")"
grep -q "^conv routes: .* (2 measured: 1 shape in [0-9.]* s, 1 oneDNN only (groups or dilation), cache $T/routes.txt)" "$T/1.out" ||
    fail "first run's routes line: $(grep 'conv routes' "$T/1.out")"
[ "$(head -1 "$T/routes.txt")" = "detector conv-route cache 1" ] || fail "cache not written"
# the grouped layer's row says onednn
grep -E "^ +2 convolutional +8 3x3/1 g2 +onednn " "$T/1.out" >/dev/null || fail "grouped row: $(cat "$T/1.out")"
route=$(sed -n 's/.* route=\([a-z]*\) .*/\1/p' "$T/routes.txt")
grep -E "^ +0 convolutional +8 3x3/1 +$route " "$T/1.out" >/dev/null || fail "row 0 is not $route"

"$BIN" summary "$T/net.cfg" >"$T/2.out" 2>&1 || fail "second summary"
grep -q "^conv routes: .* (2 from the cache, 1 oneDNN only" "$T/2.out" ||
    fail "second run's routes line: $(grep 'conv routes' "$T/2.out")"

echo "garbage" >>"$T/routes.txt"
"$BIN" summary "$T/net.cfg" >"$T/3.out" 2>"$T/3.err" || fail "summary on a damaged cache"
[ "$(grep -c "convolution route cache $T/routes.txt not used" "$T/3.err")" -eq 1 ] ||
    fail "damaged cache not reported once: $(cat "$T/3.err")"
grep -q "(2 measured" "$T/3.out" || fail "damaged cache trusted"
"$BIN" summary "$T/net.cfg" >"$T/4.out" 2>"$T/4.err" || fail "summary after the rewrite"
grep -q "not used" "$T/4.err" && fail "rewritten cache still refused: $(cat "$T/4.err")"
grep -q "(2 from the cache" "$T/4.out" || fail "rewritten cache not read"

DT_CONV=gemm "$BIN" summary "$T/net.cfg" >"$T/5.out" 2>&1 || fail "DT_CONV=gemm summary"
grep -q "^conv routes: 1 onednn, 2 gemm (2 forced by DT_CONV=gemm, 1 oneDNN only" "$T/5.out" ||
    fail "DT_CONV=gemm: $(grep 'conv routes' "$T/5.out")"
DT_CONV=onednn "$BIN" bench "$T/net.cfg" -iters 1 -warmup 0 -train >"$T/6.out" 2>&1 || fail "bench"
grep -q "^conv routes: 3 onednn, 0 gemm (2 forced by DT_CONV=onednn, 1 oneDNN only" "$T/6.out" ||
    fail "bench's routes line: $(cat "$T/6.out")"
DT_CONV_CACHE=off "$BIN" bench "$T/net.cfg" -iters 1 -warmup 0 >"$T/7.out" 2>&1 || fail "bench off"
grep -q "^conv routes: .* (2 measured: 1 shape in [0-9.]* s, 1 oneDNN only (groups or dilation), cache off)" "$T/7.out" ||
    fail "bench without a cache: $(cat "$T/7.out")"
echo "cli_conv_routes: ok"
