#!/bin/sh
# oneDNN 2.x (Debian's, what we link) against 3.x (PyPI's wheels) on
# ResNet34's convolution shapes and the im2col sgemm of our default route:
# scripts/bench_onednn.c built once per library, run with the same threads.
#   usage: scripts/bench_onednn.sh [threads=2] [reps=5] [rounds=3]
# Writes results/bench_onednn.md (OUT=... elsewhere) and its raw text beside it.
# Downloads into ${XDG_CACHE_HOME:-$HOME/.cache}/detector/ on first use (pip
# download: ~100 MB for oneDNN 3.2 with GNU OpenMP, ~630 MB for the newest 3.x
# and its SYCL/TBB runtime). A benchmark: never for CI or tests.
#   - onednn-devel-cpu-gomp (oneDNN 3.2, 2023, OpenMP like Debian's 2.6):
#     convolutions and sgemm.
#   - onednn-devel (the newest 3.x, built for SYCL with TBB threading): sgemm
#     only, unless a SYCL CPU device exists (no PyPI wheel provides one, so its
#     CPU engine cannot be created; the program then says so).
# Each library runs `rounds` times, alternating; a line's figure is its best
# time over the rounds (interference on a shared machine only adds).
set -eu
cd "$(dirname "$0")/.."
T=${1:-2}
REPS=${2:-5}
ROUNDS=${3:-3}
OUT=${OUT:-results/bench_onednn.md}
RAW=${OUT%.md}.txt
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/detector
BIN=build/bench_onednn
mkdir -p "$BIN" "$CACHE"
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || { echo "missing libdnnl-dev (scripts/install_deps.sh)" >&2; exit 1; }

fetch() { # dir package: pip download the wheels once and unpack them into dir/x
    if [ ! -f "$1/.done" ]; then
        mkdir -p "$1"
        python3 -m pip download --quiet -d "$1" "$2"
        for w in "$1"/*.whl; do python3 -m zipfile -e "$w" "$1/x"; done
        touch "$1/.done"
    fi
}
fetch "$CACHE/onednn3-gomp" onednn-devel-cpu-gomp
fetch "$CACHE/onednn3-newest" onednn-devel

CFLAGS="-O2 -std=gnu11 -Wall -Wextra"
SRC=scripts/bench_onednn.c
cc $CFLAGS $SRC -ldnnl -o "$BIN/v2"
G=$CACHE/onednn3-gomp/x
GI=$(dirname "$(dirname "$(find "$G" -path '*include/oneapi/dnnl/dnnl.h' | head -1)")")/..
GL=$(dirname "$(find "$G" -name 'libdnnl.so.3' | head -1)")
cc $CFLAGS -I"$GI" $SRC -L"$GL" -l:libdnnl.so.3 -Wl,-rpath,"$GL" -o "$BIN/v3gomp"
N=$CACHE/onednn3-newest/x
NI=$(dirname "$(dirname "$(find "$N" -path '*include/oneapi/dnnl/dnnl.h' | head -1)")")/..
NL=$(find "$N" -type d -path '*data/lib' | tr '\n' ':')
NL=${NL%:}
# its runtime libraries (SYCL, TBB, SVML) are needed by libdnnl itself: an
# old-style RPATH reaches them, a RUNPATH would not
cc $CFLAGS -I"$NI" $SRC -L"$(dirname "$(find "$N" -name 'libdnnl.so.3' | head -1)")" \
    -l:libdnnl.so.3 -Wl,--disable-new-dtags -Wl,-rpath-link,"$NL" -Wl,-rpath,"$NL" \
    -o "$BIN/v3new" 2>&1 | grep -v 'warning: .*needed by' >&2 || true
[ -x "$BIN/v3new" ] || { echo "failed to build against $N" >&2; exit 1; }

CPUS=$(seq -s, 0 $((T - 1)))
run() { # name: one run of one build, pinned to the first T cores
    case $1 in
    v3new) # TBB threads: the affinity mask bounds them
        taskset -c "$CPUS" "$BIN/$1" "$REPS" 2>/dev/null | grep -v '^onednn_verbose' ;;
    *) OMP_NUM_THREADS=$T OMP_PROC_BIND=true OMP_PLACES=cores taskset -c "$CPUS" \
        "$BIN/$1" "$REPS" ;;
    esac
}
: >"$RAW.tmp"
LOAD0=$(uptime)
r=1
while [ $r -le "$ROUNDS" ]; do
    for v in v2 v3gomp v3new; do
        run $v | sed "s/^/$v $r /" >>"$RAW.tmp"
    done
    r=$((r + 1))
done
LOAD1=$(uptime)
mv "$RAW.tmp" "$RAW"

{
    echo "# oneDNN 2.x vs 3.x on ResNet34's convolutions (batch 16, NHWC, $T threads)"
    echo
    echo "- command: \`scripts/bench_onednn.sh $T $REPS $ROUNDS\` (commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) logical CPUs; ISA: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512.*|amx.*)$' | tr '\n' ' ')"
    echo "- load before: \`$LOAD0\`; after: \`$LOAD1\`"
    for v in v2 v3gomp v3new; do
        echo "- $v: $(grep -m1 "^$v 1 oneDNN" "$RAW" | cut -d' ' -f3-)"
    done
    echo "- v2 = Debian's libdnnl 2.6 (OpenMP); v3gomp = PyPI onednn-cpu-gomp (OpenMP); v3new = PyPI onednn (SYCL runtime, TBB threads; sgemm only without a SYCL CPU device)"
    echo "- figures: GFLOP/s, the best of $REPS runs x $ROUNDS rounds; ratio = 3.x GFLOP/s / 2.6 GFLOP/s (> 1: 3.x faster)"
    echo
    /usr/bin/python3 scripts/bench_onednn_table.py "$RAW"
} >"$OUT"
cat "$OUT"
