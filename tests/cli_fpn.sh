#!/bin/sh
# cfg/ssd-fpn.cfg (the FPN top-down pathway: [upsample], [route] mode=sum)
# parses, builds and trains: `summary` lists the pyramid (2349 anchors on
# 14x14, 7x7, 4x4), then `train` runs 2 steps (4 BCCD images of the tests'
# subset, batch 2, 1 epoch) and writes finite weights. Layer numerics are
# test_parity's (PyTorch) and test_gpu_parity's.
set -u
BIN=${BIN:-./detector}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_fpn.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" summary "$ROOT/cfg/ssd-fpn.cfg" -batch 2 >"$T/summary.log" 2>&1 ||
    fail "summary: $(cat "$T/summary.log")"
grep -Eq "^ +60 upsample +x2 nearest +7x7x256 -> 14x14x256" "$T/summary.log" ||
    fail "no upsample 7x7 -> 14x14 at layer 60: $(cat "$T/summary.log")"
grep -Eq "^ +61 route +60,58 sum +14x14x256 -> 14x14x256" "$T/summary.log" ||
    fail "no route sum at layer 61"
grep -Eq "^ +70 ssd +2349 anchors k9" "$T/summary.log" || fail "no [ssd] with 2349 anchors"

# 4 training images (a VOC folder of links), 2 steps
. "$ROOT/tests/bccd_tiny.sh"
bccd_tiny "$T/fpn.data"
sed -e "s|^data=.*|data=$T/fpn.data|" -e "s|^batch=.*|batch=2|" -e "s|^epochs=.*|epochs=1|" \
    "$ROOT/cfg/ssd-fpn.cfg" >"$T/ssd-fpn.cfg"
cp "$ROOT/cfg/resnet34.cfg" "$T/" || fail "copy resnet34.cfg"
"$BIN" train "$T/ssd-fpn.cfg" -threads 2 -clear -quiet -valid_every 0 -seed 3 >"$T/train.log" 2>&1 ||
    fail "train: $(cat "$T/train.log")"
W=$T/backup/ssd-fpn_final.weights
[ -s "$W" ] || fail "no final weights: $(cat "$T/train.log")"
loss=$(awk '$1 == "0" && NF == 6 {print $2}' "$T/train.log")
echo "$loss" | grep -Eq '^[0-9]+[.][0-9]+$' || fail "epoch 0's loss '$loss' is not a finite number"
cat "$T/train.log"
echo "cli_fpn: ok"
