#!/bin/sh
# detector anchors -kmeans K (docs/DETECT.md "Anchors from the data") on the
# tests' BCCD subset (705 training boxes): tests/anchors_ref.py recomputes in
# numpy, from the VOC files, the box count, the mean best IoU against the
# cfg's anchors (the lesson's cfg/ssd.cfg and cfg/ssd-bccd.cfg) and against
# the printed sizes, checks that k-means beats the cfg's anchors and stopped at
# a fixed point. Then: the same seed prints the same sizes, -out writes them,
# a cfg with the printed anchor_sizes= builds and has exactly those anchors,
# and bad input fails with a clear message.
set -u
BIN=${BIN:-./detector}
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/tests/data/real/bccd.data
VOC=$ROOT/tests/data/real/bccd/BCCD
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_anchors.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for c in ssd ssd-bccd; do
    "$BIN" anchors "$ROOT/cfg/$c.cfg" -kmeans 9 -data "$DATA" >"$T/$c.log" 2>"$T/$c.err" ||
        fail "anchors -kmeans on $c.cfg: $(cat "$T/$c.err")"
    cat "$T/$c.log"
    "$PY" "$ROOT/tests/anchors_ref.py" "$VOC" "$ROOT/cfg/$c.cfg" "$T/$c.log" ||
        fail "$c.cfg: the numpy reference disagrees"
done

# deterministic: the same seed, the same sizes; -out writes the [ssd] line
"$BIN" anchors "$ROOT/cfg/ssd.cfg" -kmeans 9 -data "$DATA" -seed 1 -out "$T/sizes.txt" \
    >"$T/again.log" 2>&1 || fail "anchors -out: $(cat "$T/again.log")"
line=$(grep "^anchor_sizes=" "$T/ssd.log")
[ "$(grep "^anchor_sizes=" "$T/again.log")" = "$line" ] || fail "seed 1 twice gave other sizes"
[ "$(grep "^anchor_sizes=" "$T/sizes.txt")" = "$line" ] || fail "-out: $(cat "$T/sizes.txt")"

# a cfg with those sizes: 630 anchors (49 + 16 + 4 + 1 cells, k 9), and its
# anchors' mean best IoU is the k-means one
sed -e "/^zooms=/d" -e "s/^ratios=.*/$line/" -e "s|^data=.*|data=$DATA|" \
    "$ROOT/cfg/ssd-bccd.cfg" >"$T/sized.cfg"
cp "$ROOT/cfg/resnet34.cfg" "$T/" || fail "copy resnet34.cfg"
"$BIN" summary "$T/sized.cfg" >"$T/sum.log" 2>&1 || fail "summary: $(cat "$T/sum.log")"
grep -Eq " ssd +630 anchors k9" "$T/sum.log" || fail "anchor_sizes cfg: $(tail -3 "$T/sum.log")"
"$BIN" anchors "$T/sized.cfg" -kmeans 9 >"$T/sized.log" 2>&1 || fail "$(cat "$T/sized.log")"
km=$(sed -n "s/.*k-means K=9 .*mean best IoU //p" "$T/ssd.log")
grep -q "the cfg's 9 anchor sizes: mean best IoU $km" "$T/sized.log" ||
    fail "the anchor_sizes cfg's IoU is not $km: $(cat "$T/sized.log")"
"$BIN" anchors "$T/sized.cfg" -out "$T/sized.png" >"$T/draw.log" 2>&1 && [ -s "$T/sized.png" ] ||
    fail "drawing the anchor_sizes anchors: $(cat "$T/draw.log")"

# bad input
expect() { # what, substring of stderr, command...
    what=$1 want=$2
    shift 2
    if "$@" >"$T/bad.log" 2>&1; then fail "$what: succeeded"; fi
    grep -qF -- "$want" "$T/bad.log" || fail "$what: no '$want' in: $(cat "$T/bad.log")"
    echo "  $what: $(grep -F -- "$want" "$T/bad.log" | head -1)"
}
expect "K above the boxes" "K <= the number of boxes (K 1000, 705 boxes)" \
    "$BIN" anchors "$ROOT/cfg/ssd.cfg" -kmeans 1000 -data "$DATA"
expect "missing .data" "nowhere.data" \
    "$BIN" anchors "$ROOT/cfg/ssd.cfg" -kmeans 3 -data "$T/nowhere.data"
sed -e "s/^ratios=.*/ratios=1,1\n$line/" "$ROOT/cfg/ssd-bccd.cfg" >"$T/both.cfg"
expect "anchor_sizes with ratios" "[ssd] key 'anchor_sizes': give either anchor_sizes or zooms/ratios" \
    "$BIN" summary "$T/both.cfg"
sed -e "/^zooms=/d" -e "s/^ratios=.*/anchor_sizes=0.1,0.2,0.3/" "$ROOT/cfg/ssd-bccd.cfg" >"$T/odd.cfg"
expect "odd anchor_sizes" "odd.cfg:" "$BIN" summary "$T/odd.cfg"
grep -q "(width, height) pairs" "$T/bad.log" || fail "odd anchor_sizes: $(cat "$T/bad.log")"
echo "cli_anchors: ok"
