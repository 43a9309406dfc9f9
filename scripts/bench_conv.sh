#!/bin/sh
# Convolution benchmark: ResNet34's conv shapes at batch 16, 224x224.
#   sh scripts/bench_conv.sh [threads=2] [reps=5] [conv|layer]
# Builds the library in $BUILD (default build) and tests/bench_conv.c
# against it, then runs it with the threads pinned, as docs/BENCHMARKS.md describes.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${1:-2}
make -s BUILD="$BUILD" "$BUILD/libdetector.a"
mkdir -p "$BUILD/tests"
cc -O3 -march=native -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fopenmp -D_GNU_SOURCE \
    -Iinclude -Isrc tests/bench_conv.c "$BUILD/libdetector.a" -o "$BUILD/tests/bench_conv" \
    -ldnnl -linih -lcjson -lxml2 -lpthread -lm -fopenmp -lstdc++ \
    $(pkg-config --libs opencv4 2>/dev/null)
OMP_NUM_THREADS=$THREADS OMP_PROC_BIND=${OMP_PROC_BIND:-true} OMP_PLACES=${OMP_PLACES:-cores} \
    "$BUILD/tests/bench_conv" "$THREADS" "${2:-5}" "${3:-conv}"
