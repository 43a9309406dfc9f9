#!/bin/sh
# The embedded default run (scripts/run_default.sh without install/build):
# synth -> train cfg/synth.cfg on 2 threads -> valid -> test, in a temp
# folder; asserts the held-out mAP@.5 (VOC2007 11-point, VOC pixel IoU)
# >= MIN_MAP and that `test` drew its pictures. The cfg trains a fixed
# number of epochs (seeded: the same numbers on any machine); MINUTES is
# only a safety cap for a machine far slower than 2 idle cores.
#   MINUTES (default 30)  MIN_MAP (default 0.5). Takes 14 minutes on a busy
# 2-core machine: run_all.sh needs TEST_TIMEOUT above 900 there.
set -u
BIN=${BIN:-./detector}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${MINUTES:-30}
MIN_MAP=${MIN_MAP:-0.5}
N_IMAGES=2500
# Under AddressSanitizer (make asan) training runs several times slower: the
# same pipeline runs on a small set for one minute and is checked for memory
# errors and for completing (weights, table, pictures); the mAP is asserted
# by the normal build's run only.
if [ "${SANITIZED:-0}" = 1 ]; then
    MINUTES=1
    N_IMAGES=2010
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_default.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/cfg" "$T/data"
cp "$ROOT/cfg/synth.cfg" "$T/cfg/" && cp "$ROOT/data/synth.data" "$ROOT/data/synth.names" "$T/data/" ||
    fail "copy"
cd "$T" || exit 2
"$BIN" synth data/synth -n "$N_IMAGES" -size 112 -seed 1 >synth.log 2>&1 || fail "synth: $(cat synth.log)"
t0=$(date +%s)
"$BIN" train cfg/synth.cfg -threads 2 -clear -quiet -minutes "$MINUTES" >train.log 2>&1 ||
    fail "train: $(tail -5 train.log)"
t1=$(date +%s)
cat train.log | grep -E "^ *[0-9]+ +[0-9.]+ " || true
W=backup/synth/synth_final.weights
[ -s "$W" ] || fail "no $W"
"$BIN" valid cfg/synth.cfg "$W" -threads 2 -loss -out results/valid >valid.log 2>&1 || fail "valid: $(cat valid.log)"
cat valid.log
"$BIN" test cfg/synth.cfg "$W" -threads 2 -out results data/synth/JPEGImages/002000.jpg \
    data/synth/JPEGImages/002001.jpg >test.log 2>&1 || fail "test: $(cat test.log)"
[ -s results/002000.jpg ] && [ -s results/002001.jpg ] || fail "test pictures missing"
m=$(grep "^mAP@.5 11-point" valid.log | awk '{print $3}')
[ -n "$m" ] || fail "no mAP line"
# train's last val_loss (the final weights, lesson units: ssd_loss of one
# batch) is valid's per-image loss times the batch
tv=$(grep -E "^ *[0-9]+ +[0-9.]+ +[0-9.]+" train.log | tail -1 | awk '{print $3}')
vv=$(sed -n 's/^loss .*(\([0-9.]*\) per batch of .*/\1/p' valid.log)
[ -n "$tv" ] && [ -n "$vv" ] || fail "no val_loss in train.log ($tv) or per-batch loss in valid.log ($vv)"
awk -v a="$tv" -v b="$vv" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(d <= 1e-3 * b + 1e-4)}' ||
    fail "train's last val_loss $tv != valid's loss per batch $vv"
echo "cli_default: last val_loss $tv = valid's loss per batch $vv"
if [ "${SANITIZED:-0}" = 1 ]; then
    echo "cli_default: sanitized build: pipeline ran ($((t1 - t0)) s, mAP $m, not asserted)"
    exit 0
fi
echo "cli_default: trained $((t1 - t0)) s, held-out mAP@.5 11-point $m (>= $MIN_MAP asserted)"
awk -v m="$m" -v t="$MIN_MAP" 'BEGIN {exit !(m >= t)}' || fail "mAP $m < $MIN_MAP"
echo "cli_default: ok"
