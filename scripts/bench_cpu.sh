#!/bin/sh
# CPU benchmark: images/s of our build beside PyTorch at its best, same run,
# same thread count. PyTorch is configured as PERF.md says is its best:
# channels-last, jemalloc without decay, threads pinned, set_num_threads.
#   usage: scripts/bench_cpu.sh [threads] [iters]
#   CFG=cfg/ssd.cfg TORCH_MODEL=ssd  the lesson's SSD instead of the ResNet34 body
#   CASES="infer 1|train 64" ...      other rows (mode batch, '|'-separated)
# Prints a table with the ratio ours / PyTorch per row.
set -eu
T=${1:-2}
N=${2:-10}
BIN=${BIN:-./detector}
CFG=${CFG:-cfg/resnet34.cfg}
TORCH_MODEL=${TORCH_MODEL:-resnet34}
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -x "$BIN" ] || { echo "build first: make" >&2; exit 1; }
[ -f "$JEMALLOC" ] || { echo "missing $JEMALLOC (apt-get install libjemalloc2)" >&2; exit 1; }

ours() { # mode batch
    flag=""; [ "$1" = train ] && flag="-train"
    OMP_NUM_THREADS=$T OMP_PROC_BIND=true OMP_PLACES=cores DT_QUIET=1 \
        "$BIN" bench "$CFG" -batch "$2" -iters "$N" $flag -threads "$T" |
        sed -n 's/.*: \([0-9.]*\) img\/s.*/\1/p'
}
torch() { # mode batch
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 LD_PRELOAD=$JEMALLOC \
        OMP_NUM_THREADS=$T OMP_PROC_BIND=true OMP_PLACES=cores \
        /usr/bin/python3 scripts/bench_torch.py "$TORCH_MODEL" "$1" "$2" "$T" "$N"
}

echo "model $CFG vs torch $TORCH_MODEL, $T threads, $N timed iterations, $(nproc) cores"
printf '%-22s %12s %12s %8s\n' "case" "ours img/s" "torch img/s" "ratio"
IFS_SAVE=$IFS
IFS="|"
set -- ${CASES:-infer 1|infer 16|train 16}
IFS=$IFS_SAVE
for c in "$@"; do
    set -- $c
    a=$(ours "$1" "$2")
    b=$(torch "$1" "$2")
    r=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')
    printf '%-22s %12s %12s %8s\n' "$1 batch $2" "$a" "$b" "$r"
done
