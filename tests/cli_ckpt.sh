#!/bin/sh
# Weights and checkpoints know what they belong to (docs/TRAIN.md, "File
# formats"), at the command line, on a small synthetic set (cfg/synth.cfg's
# layers, batch 8, one short epoch):
#  1. valid with the same weights and images but the class names listed in
#     another order gives the same numbers (the data are renumbered to the
#     weights' order, with a message); names the weights lack are an error;
#  2. a save cut by kill -9 leaves <name>_*.tmp.<pid>: the next train removes
#     those of dead (or foreign) processes and keeps other runs' files;
#  3. another cfg with the same file name and backup folder does not
#     "resume" the other run: refused, saying what differs, its final
#     weights untouched; -clear starts it;
#  4. lr_find refuses an output it cannot write before its sweep.
set -u
# It reads the library's informational lines (the renumbering, the removed
# temp files): CI's DT_QUIET=1 would silence them.
unset DT_QUIET
BIN=${BIN:-./detector}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_ckpt.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" synth "$T/s" -n 24 -size 112 -seed 5 >/dev/null 2>&1 || fail "synth"
sed -e "s|^data=.*|data=$T/s/synth.data|" -e "s|^batch=.*|batch=8|" -e '/^\[stage\]/,$d' \
    "$ROOT/cfg/synth.cfg" >"$T/m.cfg"
printf '[stage]\nepochs=1\nlr=1e-3\n' >>"$T/m.cfg"
"$BIN" train "$T/m.cfg" -clear -quiet -threads 2 >"$T/train.log" 2>&1 || fail "train: $(tail -5 "$T/train.log")"
W=$T/s/backup/m_final.weights
[ -s "$W" ] || fail "no final weights"

# 1. the class order of the data set
"$BIN" valid "$T/m.cfg" "$W" -out "$T/v1" -thresh 0.0 >"$T/v1.log" 2>&1 || fail "valid: $(cat "$T/v1.log")"
tac "$T/s/synth.names" >"$T/perm.names"
sed "s|^names=.*|names=$T/perm.names|" "$T/s/synth.data" >"$T/s/perm.data"
"$BIN" valid "$T/m.cfg" "$W" -data "$T/s/perm.data" -out "$T/v2" -thresh 0.0 >"$T/v2.log" 2>&1 ||
    fail "valid (permuted names): $(cat "$T/v2.log")"
grep "^mAP" "$T/v1.log"
grep "^mAP" "$T/v2.log"
[ "$(grep '^mAP' "$T/v1.log")" = "$(grep '^mAP' "$T/v2.log")" ] ||
    fail "another class order gave other numbers"
grep -q "renumbered to the model's order" "$T/v2.log" || fail "no message about the renumbering"
sed 's/^cross$/hexagon/' "$T/s/synth.names" >"$T/other.names"
sed "s|^names=.*|names=$T/other.names|" "$T/s/synth.data" >"$T/s/other.data"
"$BIN" valid "$T/m.cfg" "$W" -data "$T/s/other.data" -out "$T/v3" >"$T/v3.log" 2>&1 &&
    fail "a data set with a class the weights lack was accepted"
grep -q "'hexagon'" "$T/v3.log" || fail "the unknown class is not named: $(cat "$T/v3.log")"
# test: labels are the weights' names; a names file in another order follows
# them, one with another class is refused
I=$T/s/JPEGImages/000000.jpg
"$BIN" test "$T/m.cfg" "$W" "$I" -thresh 0.0 -out "$T/t1" >"$T/t1.log" 2>&1 || fail "test: $(cat "$T/t1.log")"
"$BIN" test "$T/m.cfg" "$W" "$I" -thresh 0.0 -names "$T/perm.names" -out "$T/t2" >"$T/t2.log" 2>&1 ||
    fail "test -names (another order): $(cat "$T/t2.log")"
[ "$(grep ' box ' "$T/t1.log")" = "$(grep ' box ' "$T/t2.log")" ] || fail "labels changed with the names' order"
grep -q "labels follow the weights' order" "$T/t2.log" || fail "no message about the labels' order"
"$BIN" test "$T/m.cfg" "$W" "$I" -names "$T/other.names" -out "$T/t3" >"$T/t3.log" 2>&1 &&
    fail "test with names the weights lack was accepted"
grep -q "hexagon" "$T/t3.log" || fail "the unknown label is not named: $(cat "$T/t3.log")"
echo "class order: same numbers, renumbered with a message; unknown classes refused"

# 2. temp files left by kill -9 during a save (a dead pid stands in for the race)
sh -c 'exit 0' &
dead=$!
wait $dead
B=$T/s/backup
head -c 1048576 /dev/zero >"$B/m_last.state.tmp.$dead"
head -c 1000 /dev/zero >"$B/m_best.weights.tmp.$$" # alive, but this shell: not detector
head -c 1000 /dev/zero >"$B/other_last.state.tmp.$dead" # another run's
"$BIN" train "$T/m.cfg" -clear -quiet -threads 2 >"$T/t2.log" 2>&1 || fail "train 2: $(tail -5 "$T/t2.log")"
[ -e "$B/m_last.state.tmp.$dead" ] && fail "stale temp file of a dead process kept"
[ -e "$B/m_best.weights.tmp.$$" ] && fail "stale temp file of another program kept"
[ -e "$B/other_last.state.tmp.$dead" ] || fail "another run's temp file removed"
grep -q "removed .*m_last.state.tmp.$dead" "$T/t2.log" || fail "removal not reported: $(cat "$T/t2.log")"
echo "stale temp files: removed (ours), kept (another run's)"

# 3. another cfg under the same name in another folder, same backup folder
mkdir -p "$T/other"
sed 's/^lr=1e-3$/lr=2e-3/' "$T/m.cfg" >"$T/other/m.cfg"
cp "$W" "$T/final.before"
"$BIN" train "$T/other/m.cfg" -quiet -threads 2 >"$T/t3.log" 2>&1 && fail "another cfg resumed the run"
grep -q "another recipe" "$T/t3.log" || fail "no 'another recipe': $(cat "$T/t3.log")"
grep -q "lr=0.001' in the checkpoint, 'stage 1: epochs=1 lr=0.002' now" "$T/t3.log" ||
    fail "what differs is not said: $(cat "$T/t3.log")"
grep -q -- "-clear" "$T/t3.log" || fail "no hint about -clear"
cmp "$W" "$T/final.before" || fail "the other run's final weights were overwritten"
"$BIN" train "$T/other/m.cfg" -clear -quiet -threads 2 >"$T/t4.log" 2>&1 || fail "-clear: $(tail -3 "$T/t4.log")"
echo "checkpoint identity: another recipe refused, -clear starts it"

# 4. lr_find checks its output first
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ ! -w "$T/ro" ]; then # (root writes anywhere: then a folder in the way instead)
    OUT=$T/ro/lr.png
else
    OUT=$T/ro/lr.png && mkdir -p "$OUT"
fi
"$BIN" lr_find "$T/m.cfg" -threads 2 -iters 400 -out "$OUT" >"$T/lr.out" 2>"$T/lr.err" &&
    fail "lr_find with an unwritable output exited 0"
grep -q "lr.png" "$T/lr.err" || fail "the output is not named: $(cat "$T/lr.err")"
grep -q "lr_find [0-9]" "$T/lr.err" && fail "the sweep ran before the output was checked"
chmod 755 "$T/ro"
echo "lr_find: unwritable output refused before the sweep"
echo "cli_ckpt: ok"
