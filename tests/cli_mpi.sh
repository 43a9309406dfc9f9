#!/bin/sh
# Data-parallel training under Open MPI (docs/DISTRIBUTED.md), on the tiny
# VOC set of cli_train.sh (24 train / 8 valid images at 64x64, a small conv
# net classifying the largest object), one thread per rank:
#  1. equivalence: 3 steps of `mpirun -np 2` with batch 8 per rank end with
#     the weights of one process with batch 16 over the same samples (each
#     sample's flip is drawn from (seed, epoch, its index): both see the same
#     augmented images), within 2e-6 per value (float sums in another order):
#     without batch norm, and with batch norm and sync_bn=1 (running
#     statistics too). Per-rank batch norm (the default) must differ: the
#     test can tell the two apart.
#  2. rank 0 alone writes: one table, one "done" line, the checkpoint files.
#  3. resume: a 2-rank run whose rank 1 is killed (SIGKILL) after the first
#     checkpoint ends both ranks within 60 s with a non-zero status and a
#     message naming the rank; the checkpoint is intact, and the restarted
#     2-rank run ends with the uninterrupted run's weights, byte for byte. A
#     resume with 1 rank from a 2-rank checkpoint runs to its end.
#  4. `make MPI=0`-style single process (no mpirun) is unchanged: it is
#     test 1's reference.
# Skips (passes, with the reason) only when mpirun cannot start at all or
# the binary was built without MPI.
set -u
BIN=${BIN:-./detector}
case "$BIN" in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/data/real/voc2012_sample
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_mpi.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$HERE/mpi_common.sh"
# Open MPI's and PMIx's components stay loaded to the end, and stacks are
# unwound in full: under ASan their leaks keep names for tests/lsan.supp
export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
[ "${SANITIZED:-0}" = 1 ] && export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
mpi_skip "$BIN" " (MPI=0)"
voc_tiny 24 32 "$SRC/images/"
# mk NAME BATCH EPOCHS BN(0/1) NETEXTRA
mk() {
    bn=""
    [ "$4" = 1 ] && bn="batch_normalize=1
bias=0"
    cat >"$T/$1.cfg" <<EOD
[net]
batch=$2
width=64
height=64
optimizer=adam
seed=7
data=$T/tiny.data
flip=1
$5
[convolutional]
filters=8
size=3
stride=2
pad=1
$bn
activation=relu
[convolutional]
filters=16
size=3
stride=2
pad=1
$bn
activation=relu
[avgpool]
[connected]
output=20
[softmax]
[stage]
epochs=$3
lr=1e-2
EOD
}
cd "$T" || exit 2

# 1. equivalence
mk one 16 3 0 ""; mk two 8 3 0 ""
mk onebn 16 3 1 ""; mk twobn 8 3 1 "sync_bn=1"; mk twobnlocal 8 3 1 ""
for c in one onebn; do
    "$BIN" train $c.cfg -quiet >$c.out 2>$c.err || { cat $c.err; fail "1 process: $c"; }
done
for c in two twobn twobnlocal; do
    timeout 120 $MPIRUN -np 2 "$BIN" train $c.cfg -quiet >$c.out 2>$c.err ||
        { cat $c.err; fail "mpirun -np 2: $c"; }
done
$WDIFF backup/one_final.weights backup/two_final.weights 2e-6 ||
    fail "2 ranks x 8 differ from 1 process x 16 (no batch norm)"
$WDIFF backup/onebn_final.weights backup/twobn_final.weights 2e-6 ||
    fail "2 ranks x 8 with sync_bn=1 differ from 1 process x 16 (batch norm)"
if $WDIFF backup/onebn_final.weights backup/twobnlocal_final.weights 1e-3 --skip-running; then
    fail "per-rank batch norm gave the whole batch's: the comparison cannot tell"
fi
echo "equivalence: 2 x 8 == 1 x 16 (plain, sync_bn); per-rank BN differs as it must"

# 2. rank 0 alone writes
[ "$(grep -c '^epoch  *trn_loss' two.out)" -eq 1 ] || { cat two.out; fail "not one table header"; }
[ "$(grep -c '^ *[0-9][0-9]* ' two.out)" -eq 3 ] || { cat two.out; fail "not 3 table rows"; }
[ "$(grep -c 'train: done' two.err)" -eq 1 ] || { cat two.err; fail "not one 'done' line"; }
grep -q 'data-parallel over 2 ranks' two.err || fail "no data-parallel line"
for f in two_last.weights two_last.state two_best.weights two_final.weights two_chart.png; do
    [ -s backup/$f ] || fail "missing backup/$f"
done
echo "rank 0 output: one table, one done line, checkpoints written"

# 2b. sharded validation: `mpirun -np 2 valid` writes what one process
#     writes (metrics, per-class detections, COCO results: detections
#     gathered in the data set's order); a 2-rank train's in-loop mAP is the
#     single-process valid of its weights
{ printf '[net]\nbatch=4\nheight=64\nwidth=64\nchannels=3\noptimizer=adam\nseed=3\n'
  printf 'data=%s\nsync_bn=1\n' "$T/tiny.data"
  sed -n '/^# body/,$p' "$HERE/data/demo-tiny.cfg" | sed 's/classes=2/classes=20/; s/^bias=1$/bias=-3/'
  printf '[stage]\nepochs=2\nlr=3e-3\n'; } >ssd.cfg
timeout 120 $MPIRUN -np 2 "$BIN" train ssd.cfg -quiet >ssd.out 2>ssd.err || { cat ssd.err; fail "2-rank ssd train"; }
"$BIN" valid ssd.cfg backup/ssd_final.weights -out v1 >v1.log 2>&1 || { cat v1.log; fail "valid"; }
timeout 120 $MPIRUN -np 2 "$BIN" valid ssd.cfg backup/ssd_final.weights -out v2 >v2.log 2>&1 ||
    { cat v2.log; fail "mpirun -np 2 valid"; }
[ -s v1/coco_results.json ] && [ "$(ls v1 | wc -l)" -gt 2 ] || fail "valid wrote no results"
diff -r -x metrics.txt v1 v2 || fail "2-rank valid results differ from one process's"
grep -v '^validation: .* images in ' v1/metrics.txt >m1.txt # the line with the time
grep -v '^validation: .* images in ' v2/metrics.txt >m2.txt
diff m1.txt m2.txt || fail "2-rank valid metrics differ from one process's"
m1=$(sed -n 's/^mAP@.5 11-point \([0-9.]*\).*/\1/p' v1/metrics.txt)
m2=$(awk '/^ *1 /{print $4}' ssd.out)
[ -n "$m1" ] && awk -v a="$m1" -v b="$m2" 'BEGIN{d=a-b; exit !(d < 5e-5 && d > -5e-5)}' ||
    fail "in-loop sharded mAP $m2 != valid's $m1"
echo "sharded validation: 2-rank valid == 1-process valid (all files); train's mAP $m2 == $m1"

# 3. a killed rank, and resume. Larger images: steps slow enough that the
#    kill lands in an epoch.
mk long 8 8 0 ""
sed -i 's/^width=64$/width=256/; s/^height=64$/height=256/' long.cfg
timeout 300 $MPIRUN -np 2 "$BIN" train long.cfg -quiet >ref.out 2>ref.err ||
    { cat ref.err; fail "uninterrupted 2-rank run"; }
cp backup/long_final.weights ref.weights
rm -f backup/long_*
$MPIRUN -np 2 "$BIN" train long.cfg -quiet >k1.out 2>k1.err &
mp=$!
i=0
while [ ! -f backup/long_last.state ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
[ -f backup/long_last.state ] || { kill $mp; cat k1.err; fail "no checkpoint before the kill"; }
# rank 1: the child of this mpirun whose environment says so
r1=""
for p in $(pgrep -P $mp); do
    tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && r1=$p
done
[ -n "$r1" ] || { kill $mp; fail "rank 1's process not found among mpirun's children"; }
t0=$(date +%s)
kill -9 "$r1"
i=0 # the job must end within 60 s
while kill -0 $mp 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $mp 2>/dev/null; then kill -9 $mp; fail "the job still runs 60 s after rank 1 died"; fi
wait $mp
rc=$?
t1=$(date +%s)
[ $rc -ne 0 ] || fail "the job exited 0 after a rank was killed"
tail -4 k1.err
grep -q "rank 1" k1.err || fail "no message naming rank 1"
[ -f backup/long_final.weights ] && fail "the killed run finished before the kill"
echo "fault: the job ended $((t1 - t0)) s after rank 1 was killed, status $rc"
cp backup/long_last.state kept.state
cp backup/long_last.weights kept.weights
timeout 300 $MPIRUN -np 2 "$BIN" train long.cfg -quiet >k2.out 2>k2.err ||
    { cat k2.err; fail "resumed 2-rank run failed (checkpoint damaged?)"; }
grep -q "resuming from" k2.err || fail "the restart did not resume"
cmp backup/long_final.weights ref.weights || fail "resumed weights differ from the uninterrupted run"
echo "resume (2 ranks): final weights identical to the uninterrupted run"
# another N: the 2-rank checkpoint resumed by one process runs to the end
rm -f backup/long_final.weights
cp kept.state backup/long_last.state
cp kept.weights backup/long_last.weights
"$BIN" train long.cfg -quiet >n1.out 2>n1.err || { cat n1.err; fail "1-process resume of a 2-rank checkpoint"; }
grep -q "resuming from" n1.err || fail "1 process did not resume the 2-rank checkpoint"
[ -s backup/long_final.weights ] || fail "no final weights after the 1-process resume"
echo "resume with another N (2 ranks -> 1 process): ran to the end"
exit 0
