#!/bin/sh
# detector train end to end on a tiny VOC set (24 train / 8 valid images of
# tests/data/real/voc2012_sample, the repository's subset, at 64x64, a small
# conv net classifying the largest object): 2 epochs print the table, write
# the checkpoints and the chart; then a run killed with SIGKILL after its
# first checkpoint and restarted must end with the same final weights, byte
# for byte, as an uninterrupted run with the same seed (one thread; the
# checkpoint holds Adam m/v/t, the RNG, the loss EMA and the schedule
# position, and an epoch's data depend on (seed, epoch) only). lr_find
# writes its table and plot.
set -u
BIN=${BIN:-./detector}
SRC=$(cd "$(dirname "$0")" && pwd)/data/real/voc2012_sample
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_train.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

. "$(dirname "$0")/voc_tiny.sh"
voc_tiny 24 32 "$SRC/images/"
cat >"$T/tiny.cfg" <<EOD
[net]
batch=8
width=64
height=64
optimizer=adam
seed=7
data=$T/tiny.data
flip=1
[convolutional]
filters=8
size=3
stride=2
pad=1
batch_normalize=1
activation=relu
[convolutional]
group=1
filters=16
size=3
stride=2
pad=1
batch_normalize=1
activation=relu
[avgpool]
[dropout]
p=0.25
[connected]
output=20
[softmax]
[stage]
epochs=1
lr=1e-2
clr=10,3
freeze_to=-1
[stage]
epochs=2
lr=1e-3,1e-2
clr=10,3
freeze_to=0
EOD

# 1. two epochs (-minutes is not used; a cfg with 3 epochs, run cut by a smaller cfg)
sed 's/^epochs=2$/epochs=1/' "$T/tiny.cfg" >"$T/two.cfg"
DT_QUIET=1 "$BIN" train "$T/two.cfg" -threads 1 >"$T/two.out" 2>"$T/two.err" ||
    { cat "$T/two.err"; fail "train exited non-zero"; }
cat "$T/two.out"
grep -q '^epoch  *trn_loss  *val_loss  *accuracy$' "$T/two.out" || fail "no table header"
[ "$(grep -c '^ *[0-9][0-9]* ' "$T/two.out")" -eq 2 ] || fail "expected 2 table rows"
for f in two_last.weights two_last.state two_best.weights two_final.weights two_chart.png; do
    [ -s "$T/backup/$f" ] || fail "missing $T/backup/$f"
done
head -c 8 "$T/backup/two_chart.png" | od -c | grep -q 'P   N   G' || fail "chart is not a PNG"

# 2. uninterrupted reference run (3 epochs)
DT_QUIET=1 "$BIN" train "$T/tiny.cfg" -threads 1 >"$T/ref.out" 2>"$T/ref.err" ||
    { cat "$T/ref.err"; fail "reference run failed"; }
cp "$T/backup/tiny_final.weights" "$T/ref.weights"
rm -f "$T"/backup/tiny_*

# 2b. -valid_every: validation only where asked (and after the last epoch);
#     skipping it changes nothing in training (same final weights)
DT_QUIET=1 "$BIN" train "$T/tiny.cfg" -threads 1 -valid_every 2 >"$T/ve.out" 2>"$T/ve.err" ||
    { cat "$T/ve.err"; fail "-valid_every 2 run failed"; }
cat "$T/ve.out"
grep -q '^ *0  *[0-9.]*  *-  *-$' "$T/ve.out" || fail "epoch 0 should show '-' (not validated)"
grep -q '^ *1  *[0-9.]*  *[0-9.][0-9.]*  *[0-9.][0-9.]*$' "$T/ve.out" || fail "epoch 1 not validated"
grep -q '^ *2  *[0-9.]*  *[0-9.][0-9.]*  *[0-9.][0-9.]*$' "$T/ve.out" || fail "last epoch not validated"
cmp "$T/backup/tiny_final.weights" "$T/ref.weights" || fail "-valid_every 2 changed the weights"
rm -f "$T"/backup/tiny_*
DT_QUIET=1 "$BIN" train "$T/tiny.cfg" -threads 1 -valid_every 0 >"$T/v0.out" 2>"$T/v0.err" ||
    { cat "$T/v0.err"; fail "-valid_every 0 run failed"; }
[ "$(grep -c '^ *[0-9]  *[0-9.]*  *-  *-$' "$T/v0.out")" -eq 3 ] || fail "-valid_every 0 validated"
[ -f "$T/backup/tiny_best.weights" ] && fail "a best checkpoint without validation"
cmp "$T/backup/tiny_final.weights" "$T/ref.weights" || fail "-valid_every 0 changed the weights"
"$BIN" train "$T/tiny.cfg" -valid_every x >/dev/null 2>"$T/vx.err" && fail "-valid_every x accepted"
grep -q "valid_every 'x'" "$T/vx.err" || fail "no message for -valid_every x"
rm -f "$T"/backup/tiny_*
echo "valid_every: validated where asked, weights unchanged"

# 3. killed with SIGKILL after its first checkpoint, then restarted
DT_QUIET=1 "$BIN" train "$T/tiny.cfg" -threads 1 >"$T/k1.out" 2>"$T/k1.err" &
pid=$!
i=0
while [ ! -f "$T/backup/tiny_last.state" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f "$T/backup/tiny_last.state" ] || fail "no checkpoint before the kill"
[ -f "$T/backup/tiny_final.weights" ] && echo "note: the run finished before the kill"
"$BIN" train "$T/tiny.cfg" -threads 1 >"$T/k2.out" 2>"$T/k2.err" ||
    { cat "$T/k2.err"; fail "resumed run failed"; }
grep -q "resuming from" "$T/k2.err" || fail "the restart did not resume"
cmp "$T/backup/tiny_final.weights" "$T/ref.weights" ||
    fail "resumed final weights differ from the uninterrupted run"
echo "resume: final weights identical to the uninterrupted run"

# 4. -clear starts again; a different seed gives other weights
DT_QUIET=1 "$BIN" train "$T/tiny.cfg" -threads 1 -clear -seed 8 >"$T/c.out" 2>"$T/c.err" ||
    { cat "$T/c.err"; fail "-clear run failed"; }
grep -q "resuming" "$T/c.err" && fail "-clear resumed"
cmp -s "$T/backup/tiny_final.weights" "$T/ref.weights" && fail "-seed 8 gave the same weights"

# 4b. a diverging run stops on the NaN loss, names the iteration, exits non-zero
#     and leaves its last checkpoint as it was
cat >"$T/nan.cfg" <<EOD
[net]
batch=8
width=64
height=64
optimizer=sgd
momentum=0
data=$T/tiny.data
[connected]
output=4
[cost]
type=l2
target=box
[stage]
epochs=1
lr=1e-9
[stage]
epochs=2
lr=1e5
EOD
"$BIN" train "$T/nan.cfg" -threads 1 >"$T/nan.out" 2>"$T/nan.err" && fail "NaN run exited 0"
grep -q "iteration [0-9]* (stage 2, epoch [23]" "$T/nan.err" || { cat "$T/nan.err"; fail "NaN message"; }
[ -f "$T/backup/nan_final.weights" ] && fail "final weights written by a failed run"
cp "$T/backup/nan_last.state" "$T/nan.state"
"$BIN" train "$T/nan.cfg" -threads 1 >/dev/null 2>&1 && fail "NaN run exited 0 (resumed)"
cmp "$T/backup/nan_last.state" "$T/nan.state" || fail "the last checkpoint changed"
grep error "$T/nan.err"

# 5. lr_find
DT_QUIET=1 "$BIN" lr_find "$T/tiny.cfg" -threads 1 -iters 12 -out "$T/lr.png" >"$T/lr.out" \
    2>"$T/lr.err" || { cat "$T/lr.err"; fail "lr_find failed"; }
[ "$(grep -c '^ *[0-9.]*e[-+][0-9]* ' "$T/lr.out")" -ge 5 ] || { cat "$T/lr.out"; fail "lr_find table"; }
[ -s "$T/lr.png" ] || fail "no lr_find plot"
echo "cli_train: PASS"
