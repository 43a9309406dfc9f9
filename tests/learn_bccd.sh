#!/bin/sh
# Learning test (docs/SEMANTICS.md §7): the SSD of cfg/ssd-bccd.cfg (ResNet34 body from
# scratch, the lesson's multi-head SSD with grids 7,4,2,1 = 630 anchors,
# focal loss, Adam 3e-3, CLR (20,10), batch 16, 224 squash, flip + lighting)
# trained on ../shared/data/bccd train (205 images) for a fixed budget of
# wall clock on 2 CPU threads, then scored on val (87 images) as PyTorch's
# reference run was: IoU 0.5 continuous, score > 0.05, NMS 0.45, top 100.
# Asserts val mAP@0.5 (VOC2007 11-point) >= 0.25 (PyTorch 1.13: 0.378 /
# 0.383 all-point in 12 minutes, 37 epochs, on docs/SEMANTICS.md §7's AVX-512 machine;
# untrained: 0.003). On the 2-vCPU AVX2 machine of this project's sessions
# and CI, 12 minutes hold 12 epochs for ours and for PyTorch alike, and the
# same recipe in PyTorch (scripts/ref_bccd_torch.py --epochs 12 --minutes 12
# --drop-last) reached 0.221 / 0.199 there; ours 0.200-0.246 (results/
# learn_bccd.txt). The threshold is the issue's; on that machine it fails.
#
# Not part of `make test` nor of .ci/run (it takes MINUTES + about 2
# minutes, and needs an otherwise idle 2-core machine: a loaded one gets
# fewer epochs into the budget): run `sh tests/learn_bccd.sh` after the build.
#   MINUTES   training budget (12)       MIN_MAP  threshold (0.25)
#   EPOCHS    the schedule's length (the cfg's epochs=, 37)
#   CFG       the model (cfg/ssd-bccd.cfg); issue 15's: CFG=cfg/ssd-bccd-fpn.cfg
#             MIN_MAP=0.55 MIN_PLATELETS=0.25 (results/beyond/README.md)
#   MIN_PLATELETS  threshold of the Platelets class's 11-point AP (0: none)
#   TEST=1    also score the test split (72 images)   SEED  train -seed (the default)
#   BIN       detector binary (./detector)  KEEP=1  keep the work folder
set -u
BIN=${BIN:-./detector}
MINUTES=${MINUTES:-12}
MIN_MAP=${MIN_MAP:-0.25}
MIN_PLATELETS=${MIN_PLATELETS:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/../shared/data/bccd
[ -d "$DATA/BCCD" ] || DATA=/work/shared/data/bccd
[ -d "$DATA/BCCD" ] || { echo "SKIP: no BCCD data at ../shared/data/bccd"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_learn_bccd.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$T/bccd.data" <<EOD
classes=3
names=$ROOT/data/bccd.names
train=$DATA/BCCD/ImageSets/Main/train.txt
valid=$DATA/BCCD/ImageSets/Main/val.txt
format=voc
backup=$T/backup
EOD
CFG=${CFG:-$ROOT/cfg/ssd-bccd.cfg}
NAME=$(basename "$CFG" .cfg)
sed -e "s|^data=.*|data=$T/bccd.data|" ${EPOCHS:+-e "s|^epochs=.*|epochs=$EPOCHS|"} \
    "$CFG" >"$T/$NAME.cfg"
for inc in $(awk -F= '/^file=/ {print $2}' "$CFG"); do # [include] is relative to the cfg
    cp "$(dirname "$CFG")/$inc" "$T/" || fail "copy $inc"
done
sed "s|^valid=.*|valid=$DATA/BCCD/ImageSets/Main/test.txt|" "$T/bccd.data" >"$T/bccd_test.data"

t0=$(date +%s)
# -valid_every 0: the budget goes to training; the final weights are scored below
"$BIN" train "$T/$NAME.cfg" -threads 2 -clear -quiet -minutes "$MINUTES" -valid_every 0 ${SEED:+-seed "$SEED"} 2>&1 |
    tee "$T/train.log"
t1=$(date +%s)
W=$T/backup/${NAME}_final.weights
[ -s "$W" ] || fail "no final weights ($W)"
epochs=$(awk '/^ *[0-9]+ +[0-9.]+ +[-0-9.]+/ {n++} END {print n+0}' "$T/train.log")
"$BIN" valid "$T/$NAME.cfg" "$W" -iou continuous -thresh 0.05 -nms 0.45 -threads 2 \
    -out "$T/valid" 2>&1 | tee "$T/valid.log"
[ -z "${TEST:-}" ] || "$BIN" valid "$T/$NAME.cfg" "$W" -data "$T/bccd_test.data" -iou continuous -thresh 0.05 \
    -nms 0.45 -threads 2 -out "$T/test" 2>&1 | tee "$T/test.log"
line=$(grep "^mAP@.5 11-point" "$T/valid.log") || fail "no mAP line"
m11=$(echo "$line" | awk '{print $3}')
mall=$(echo "$line" | awk '{print $5}')
echo "learn_bccd: $epochs epochs in $((t1 - t0)) s (budget $MINUTES min, 2 threads);" \
     "val mAP@.5 11-point $m11, all-point $mall (continuous IoU);" \
     "PyTorch: 0.378 / 0.383 (37 epochs, docs/SEMANTICS.md §7's AVX-512 machine), 0.221 / 0.199 (12 epochs, 2-vCPU AVX2)"
awk -v m="$m11" -v t="$MIN_MAP" 'BEGIN {exit !(m >= t)}' ||
    fail "mAP@.5 $m11 < $MIN_MAP"
pl=$(awk '$1 == "Platelets" {print $3}' "$T/valid.log")
awk -v m="$pl" -v t="$MIN_PLATELETS" 'BEGIN {exit !(m >= t)}' ||
    fail "Platelets AP@.5 $pl < $MIN_PLATELETS"
echo "learn_bccd: ok"
