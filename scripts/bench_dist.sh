#!/bin/sh
# Data-parallel throughput on this machine (docs/DISTRIBUTED.md): cfg/synth.cfg
# on a generated synthetic set, one epoch each of
#   1 process x 2 OpenMP threads, batch 16
#   2 ranks x 1 thread, batch 8 per rank (the same global batch of 16)
# and the gradient all-reduce time per step, with how much of it backward
# hid (DT_DIST_STATS=1), with and without the overlap. Prints measured
# numbers only; nothing is asserted (speed depends on the machine).
#   N=images (default 640)   BIN=./detector   BTL=self,vader (shared memory; default self,tcp)
set -eu
BIN=${BIN:-./detector}
case "$BIN" in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
CFG=$(pwd)/cfg/synth.cfg
N=${N:-640}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_bench_dist.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe --bind-to none --mca btl ${BTL:-self,tcp}"
"$BIN" synth "$T/synth" -n "$N" -size 112 -seed 1 >/dev/null 2>&1
# one epoch, no validation; batch set per run
mk() {
    sed -e "s|^data=.*|data=$T/synth/synth.data|" -e "s|^batch=16|batch=$1|" \
        -e '/^\[stage\]/,$d' "$CFG" >"$T/$2.cfg"
    printf '[stage]\nepochs=1\nlr=3e-3\n' >>"$T/$2.cfg"
}
mk 16 one
mk 8 two
cd "$T"
rate() { # seconds of the run -> images/s of the trained batches
    awk -v n="$1" -v s="$2" 'BEGIN{printf "%.1f", n / s}'
}
imgs=$(( (N * 8 / 10) / 16 * 16 )) # the training split's full global batches (80%)
# Each run twice, the second timed: the first measures the convolution
# routes of its shapes into this bench's route cache (docs/CONV_ROUTES.md).
export DT_CONV_CACHE="$T/routes.txt"
one() { OMP_NUM_THREADS=2 "$BIN" train one.cfg -clear -quiet -valid_every 0 -loader_threads 1 >/dev/null 2>one.err; }
two() { OMP_NUM_THREADS=1 DT_DIST_STATS=1 DT_DIST_NO_OVERLAP=$1 $MPIRUN -np 2 -x OMP_NUM_THREADS \
    -x DT_DIST_STATS -x DT_DIST_NO_OVERLAP -x DT_CONV_CACHE "$BIN" train two.cfg -clear -quiet \
    -valid_every 0 -loader_threads 1 >/dev/null 2>$2; }
one; t0=$(date +%s.%N); one; t1=$(date +%s.%N)
two 0 two.err; t1b=$(date +%s.%N); two 0 two.err; t2=$(date +%s.%N)
t2b=$(date +%s.%N); two 1 three.err; t3=$(date +%s.%N)
s1=$(echo "$t1 - $t0" | bc); s2=$(echo "$t2 - $t1b" | bc); s3=$(echo "$t3 - $t2b" | bc)
echo "cfg/synth.cfg, $imgs training images per epoch (of $N made), one epoch, wall clock incl. start-up:"
echo "  1 process x 2 threads, batch 16:        $(rate $imgs $s1) img/s ($s1 s)"
echo "  2 ranks x 1 thread, batch 8 x 2:        $(rate $imgs $s2) img/s ($s2 s)"
echo "  2 ranks x 1 thread, no overlap:         $(rate $imgs $s3) img/s ($s3 s)"
echo "  all-reduce, overlapped:  $(grep -h 'gradient all-reduce' two.err | sed 's/^train: //')"
echo "  all-reduce, after backward: $(grep -h 'gradient all-reduce' three.err | sed 's/^train: //')"
