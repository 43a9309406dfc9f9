#!/bin/sh
# Data-parallel throughput on this machine (docs/DISTRIBUTED.md), for
# cfg/synth.cfg (on a generated synthetic set) and the lesson's cfg/ssd.cfg
# (ResNet34 body, 25.8 M parameters; on the tests' 32 VOC2012 images, listed
# REP times), one epoch each of
#   1 process x 2 OpenMP threads, batch 16
#   2 ranks x 1 thread, batch 8 per rank (the same global batch of 16)
#   2 ranks x 1 thread without the overlap
# with the gradient all-reduce time per step (DT_DIST_STATS=1); then
# MPI_Allreduce's time against size on this transport (bench_allreduce.c)
# and the scaling model's prediction beside the measurement
# (scripts/dist_model.py). Prints measured numbers only, and writes them to
# OUT (default results/dist/bench.md). A benchmark: never run by the tests.
#   N=synth images (640)  REP=voc list repeats (6)  BIN=./detector
#   BTL=self,vader (shared memory; default self,tcp)   CFGS="synth ssd"
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-./detector}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
N=${N:-640}
REP=${REP:-6}
OUT=${OUT:-results/dist/bench.md}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
BTL=${BTL:-self,tcp}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_bench_dist.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe --bind-to none --mca btl $BTL"
export DT_CONV_CACHE="$T/routes.txt"

# data: the synthetic set, and a list of the VOC sample's images REP times
"$BIN" synth "$T/synth" -n "$N" -size 112 -seed 1 >/dev/null 2>&1
V=$ROOT/tests/data/real/voc2012_sample
: >"$T/voc.txt"
for _ in $(seq "$REP"); do ls "$V"/images/*.jpg >>"$T/voc.txt"; done
cat >"$T/voc.data" <<EOD
classes=20
names=$V/voc.names
train=$T/voc.txt
valid=$T/voc.txt
annotations=$V/gts/pascalvoc_format
format=voc
backup=$T/backup
EOD
# cfg NAME DATA BATCH OUTNAME: one epoch at lr 1e-3, every layer trained, no validation
mk() {
    sed -e "s|^data=.*|data=$2|" -e "s|^batch=[0-9]*|batch=$3|" \
        -e "s|^file=\(.*\.cfg\)$|file=$ROOT/cfg/\1|" -e '/^\[stage\]/,$d' "$ROOT/cfg/$1.cfg" >"$T/$4.cfg"
    printf '[stage]\nepochs=1\nlr=1e-3\n' >>"$T/$4.cfg"
}
cd "$T"
one() { OMP_NUM_THREADS=2 "$BIN" train "$1_one.cfg" -clear -quiet -valid_every 0 -loader_threads 1 >/dev/null 2>one.err; }
two() { OMP_NUM_THREADS=1 DT_DIST_STATS=1 DT_DIST_NO_OVERLAP=$2 $MPIRUN -np 2 -x OMP_NUM_THREADS \
    -x DT_DIST_STATS -x DT_DIST_NO_OVERLAP -x DT_CONV_CACHE "$BIN" train "$1_two.cfg" -clear -quiet \
    -valid_every 0 -loader_threads 1 >/dev/null 2>"$3"; }
secs() { s=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $s" | bc; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN{printf "%.1f", n / s}'; }
ar() { grep -h 'gradient all-reduce' "$1" | sed 's/^train: //; s/^.*all-reduce/all-reduce/'; }
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
echo "# Data-parallel training on one machine: 1 process x 2 threads against 2 ranks x 1 thread"
echo
echo "$CPU, $(nproc) cores; Open MPI $(mpirun --version | sed -n 's/.*(Open MPI) //p'), btl $BTL;"
echo "\`sh scripts/bench_dist.sh\` on $(date -u +%Y-%m-%d). Wall clock of one epoch incl. start-up, the second of two runs."
echo
echo "| cfg | images | 1 x 2 threads img/s | 2 x 1 thread img/s | 2 x 1, no overlap img/s | all-reduce per step (overlapped) | all-reduce per step (after backward) |"
echo "|---|---|---|---|---|---|---|"
} >"$T/head.md"
: >"$T/rows.md"
for c in ${CFGS:-synth ssd}; do
    if [ "$c" = synth ]; then d=$T/synth/synth.data; imgs=$(( (N * 8 / 10) / 16 * 16 ))
    else d=$T/voc.data; imgs=$(( (32 * REP) / 16 * 16 )); fi
    mk "$c" "$d" 16 "${c}_one"; mk "$c" "$d" 8 "${c}_two"
    one "$c"; s1=$(secs one "$c")
    two "$c" 0 two.err; s2=$(secs two "$c" 0 two.err)
    s3=$(secs two "$c" 1 three.err)
    echo "| $c | $imgs | $(rate $imgs $s1) | $(rate $imgs $s2) | $(rate $imgs $s3) | $(ar two.err) | $(ar three.err) |" >>"$T/rows.md"
    [ "$c" = ssd ] && echo "$(rate $imgs $s2)/$(rate $imgs $s1)" >"$T/ssd_two_rate"
    [ "$c" = ssd ] && echo "$s1 $imgs" >"$T/ssd_one"
done
# MPI_Allreduce against size, and the model
mpicc -O2 "$ROOT/scripts/bench_allreduce.c" -o bench_allreduce
$MPIRUN -np 2 ./bench_allreduce 25792739 >allreduce.txt
# the model's T_c: one process's ssd step (2 threads, batch 16), measured by bench with its profile
prof=$(OMP_NUM_THREADS=2 DT_PROFILE=1 "$BIN" bench "$ROOT/cfg/ssd.cfg" -train -batch 16 -iters 3 -warmup 1 -threads 2 2>&1)
tc=$(echo "$prof" | sed -n 's/.*: [0-9.]* img\/s (\([0-9.]*\) ms\/iter.*/\1/p' | awk '{print $1 / 1000}')
fb=$(echo "$prof" | awk '/^[a-z]+ +[0-9]+ +[0-9.]+ +[0-9.]+ /{f += $3; b += $4} END{printf "%.2f", b / (f + b)}')
meas=$(cat ssd_two_rate 2>/dev/null || echo -)
{
cat head.md rows.md
echo
echo "## MPI_Allreduce of floats, 2 ranks, btl $BTL (median of repeats)"
echo
echo '```'
cat allreduce.txt
echo '```'
echo
echo "## The scaling model (scripts/dist_model.py; docs/DISTRIBUTED.md, \"Scaling\")"
echo
echo "T_c measured by \`detector bench cfg/ssd.cfg -train -batch 16 -threads 2\` with DT_PROFILE=1 (backward share from its profile)."
echo
echo '```'
python3 "$ROOT/scripts/dist_model.py" allreduce.txt "$tc" "$fb" 25792739 16 "$meas" | sed -n '1,/^$/p'
echo '```'
python3 "$ROOT/scripts/dist_model.py" allreduce.txt "$tc" "$fb" 25792739 16 "$meas" | sed '1,/^$/d'
} >"$T/out.md"
mkdir -p "$(dirname "$OUT")"
cp "$T/out.md" "$OUT"
cat "$T/out.md"
