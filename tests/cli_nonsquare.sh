#!/bin/sh
# Non-square, letterboxed SSD inputs end to end (docs/DETECT.md, docs/MODELS.md
# "Non-square inputs"): a 320x240 letterbox=1 model whose stride-32 and
# stride-64 heads are 10x8 and 5x4 (240 -> 120 -> 60 -> 30 -> 15 -> 8 -> 4:
# 3x3 pad 1 stride 2 rounds up). `summary` names the grids read from the heads
# (no grids= key), grids=10x8,5x4 builds the same 900 anchors, a grid that
# disagrees with its head is refused naming file:line; `anchors` draws the
# 10x8 and 5x4 panels and -kmeans runs on the BCCD boxes; `train` runs 2 steps
# on 4 BCCD images of the tests' subset (640x480 pictures) with a finite loss;
# `valid` scores 2 validation images; `test` reports the source's 640x480
# and boxes in its pixels. The numbers (anchors, loss and gradient, the
# letterbox map and back) are test_ssd_math's, test_parity's
# (ssd_10x8_5x4_*) and test_valid's.
set -u
BIN=${BIN:-./detector}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/tests/data/real/bccd/BCCD
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_nonsquare.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

. "$ROOT/tests/bccd_tiny.sh"
bccd_tiny "$T/ns.data"
# a small body: five stride-2 convolutions to stride 32 (10x8), one more to 5x4
conv() {
    printf '[convolutional]\nfilters=%s\nsize=3\nstride=2\npad=1\nbias=0\nbatch_normalize=1\nactivation=relu\n\n' "$1"
}
{
    printf '[net]\nbatch=2\nwidth=320\nheight=240\nchannels=3\noptimizer=adam\nletterbox=1\nflip=1\n'
    printf 'data=%s\n\n' "$T/ns.data"
    conv 8; conv 16; conv 16; conv 32; conv 32
    printf '[outconv]\nclasses=3\nanchors_per_cell=9\nbias=-4\n\n'
    printf '[route]\nlayers=-2\n\n[stdconv]\nfilters=32\nstride=2\n\n'
    printf '[outconv]\nclasses=3\nanchors_per_cell=9\nbias=-4\n\n'
    printf '[ssd]\nlayers=-4,-1\nclasses=3\nGRIDS\nzooms=0.75,1,1.3\nratios=1,1,1,0.5,0.5,1\n\n'
    printf '[stage]\nepochs=1\nlr=3e-3\n'
} >"$T/tmpl.cfg"
sed '/^GRIDS$/d' "$T/tmpl.cfg" >"$T/ns.cfg"
sed 's/^GRIDS$/grids=10x8,5x4/' "$T/tmpl.cfg" >"$T/ns-grids.cfg"
sed 's/^GRIDS$/grids=10x7,5x4/' "$T/tmpl.cfg" >"$T/ns-bad.cfg"
sed 's/^GRIDS$/grids=10x8,5/' "$T/tmpl.cfg" >"$T/ns-bad2.cfg"

for c in ns ns-grids; do
    "$BIN" summary "$T/$c.cfg" >"$T/$c.summary" 2>&1 || fail "summary $c: $(cat "$T/$c.summary")"
    grep -Eq "ssd +900 anchors k9 grids 10x8,5x4" "$T/$c.summary" ||
        fail "$c: no [ssd] with 900 anchors on 10x8, 5x4: $(cat "$T/$c.summary")"
    grep -q "240x320x3 -> 120x160x8" "$T/$c.summary" || fail "$c: not a 320x240 input"
done
line=$(grep -n '^grids=' "$T/ns-bad.cfg" | cut -d: -f1)
"$BIN" summary "$T/ns-bad.cfg" >"$T/bad.log" 2>&1 && fail "grids=10x7 against a 10x8 head accepted"
grep -q "ns-bad.cfg:[0-9]*: \[ssd\] key 'layers'" "$T/bad.log" || fail "bad grid: no file:line: $(cat "$T/bad.log")"
grep -q "is 10x8, but grids= gives it the 10x7 grid (grid 1 of 2)" "$T/bad.log" ||
    fail "bad grid: $(cat "$T/bad.log")"
"$BIN" summary "$T/ns-bad2.cfg" >"$T/bad2.log" 2>&1 && fail "grids=...,5 against a 5x4 head accepted"
grep -q "is 5x4, but grids= gives it the 5x5 grid (grid 2 of 2)" "$T/bad2.log" ||
    fail "bad square grid: $(cat "$T/bad2.log")"
sed 's/^GRIDS$/grids=10x8,5y4/' "$T/tmpl.cfg" >"$T/ns-bad3.cfg"
line=$(grep -n '^grids=' "$T/ns-bad3.cfg" | cut -d: -f1)
"$BIN" summary "$T/ns-bad3.cfg" >"$T/bad3.log" 2>&1 && fail "grids=10x8,5y4 accepted"
grep -q "ns-bad3.cfg:$line: \[ssd\] key 'grids': bad grid '5y4' (expected g or WxH" "$T/bad3.log" ||
    fail "bad grid text: $(cat "$T/bad3.log")"

"$BIN" anchors "$T/ns.cfg" -out "$T/anchors.png" >"$T/anchors.log" 2>&1 ||
    fail "anchors: $(cat "$T/anchors.log")"
grep -q "900 anchors, 9 per cell" "$T/anchors.log" || fail "anchors: $(cat "$T/anchors.log")"
[ -s "$T/anchors.png" ] || fail "no anchors picture"
# -kmeans against tests/anchors_ref.py's numpy (the 18 distinct sizes of the
# 10x8 and 5x4 grids, z*w/W by z*h/H, and the mean best IoU of the 4 images' boxes)
"$BIN" anchors "$T/ns-grids.cfg" -kmeans 3 -out "$T/km.txt" >"$T/km.log" 2>&1 ||
    fail "anchors -kmeans: $(cat "$T/km.log")"
grep -q "the cfg's 18 anchor sizes: mean best IoU" "$T/km.log" || fail "kmeans: $(cat "$T/km.log")"
"${PYTHON:-/usr/bin/python3}" "$ROOT/tests/anchors_ref.py" "$T/BCCD" "$T/ns-grids.cfg" "$T/km.log" ||
    fail "anchors -kmeans: the numpy reference disagrees"

"$BIN" train "$T/ns.cfg" -threads 2 -clear -quiet -valid_every 0 -seed 3 >"$T/train.log" 2>&1 ||
    fail "train: $(cat "$T/train.log")"
W=$T/backup/ns_final.weights
[ -s "$W" ] || fail "no final weights: $(cat "$T/train.log")"
loss=$(awk '$1 == "0" && NF == 6 {print $2}' "$T/train.log")
echo "$loss" | grep -Eq '^[0-9]+[.][0-9]+$' || fail "epoch 0's loss '$loss' is not a finite number: $(cat "$T/train.log")"

"$BIN" valid "$T/ns.cfg" "$W" -out "$T/v" -thresh 0.0 >"$T/v.log" 2>&1 || fail "valid: $(cat "$T/v.log")"
grep -q "validation: 2 images" "$T/v.log" || fail "2 validation images expected: $(cat "$T/v.log")"
grep -q "^mean (" "$T/v.log" || fail "valid: no mean row: $(cat "$T/v.log")"

img=$SRC/JPEGImages/$(head -1 "$SRC/ImageSets/Main/val.txt").jpg
"$BIN" test "$T/ns.cfg" "$W" "$img" -thresh 0.01 -out "$T/t" >"$T/t.log" 2>&1 || fail "test: $(cat "$T/t.log")"
grep -q "jpg: 640x480" "$T/t.log" || fail "test: the source's size not reported: $(cat "$T/t.log")"
# boxes in the source's pixels: at least one coordinate past the 320x240
# input, none far outside the 640x480 picture (an anchor reaches 1.5x its
# size from its cell)
awk '/ box / { for (i = NF - 3; i <= NF; i++) { v = $i + 0; if (v > 330) big = 1; if (v < -400 || v > 1100) bad = 1 }; n++ }
     END { if (n == 0 || !big || bad) exit 1 }' "$T/t.log" ||
    fail "test: boxes not in the source's pixels: $(cat "$T/t.log")"
echo "cli_nonsquare: ok"
