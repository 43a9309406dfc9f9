#!/bin/sh
# Loader throughput: our loader (1 and 2 worker threads) beside a
# Python/OpenCV reference pipeline (decode + linear resize + normalise, one
# core), on ../shared/data/bccd (640x480 JPEGs) and voc2012_sample (~500x375),
# at 224x224.
# Usage: sh scripts/bench_loader.sh [images per run, default 2000]
# The reference needs python3-opencv (apt-get install python3-opencv).
set -eu
cd "$(dirname "$0")/.."
N=${1:-2000}
make -s detector
export DT_QUIET=1
echo "== $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
BCCD=../shared/data/bccd/BCCD/JPEGImages
VOC=../shared/data/voc2012_sample/images
if /usr/bin/python3 -c 'import cv2, numpy' 2>/dev/null; then
    /usr/bin/python3 scripts/bench_loader_ref.py $(sed "s|^|$BCCD/|; s|$|.jpg|" ../shared/data/bccd/BCCD/ImageSets/Main/train.txt) -images "$N"
else
    echo "python  reference skipped: /usr/bin/python3 lacks cv2/numpy (apt-get install python3-opencv)"
fi
./detector bench_loader data/bccd.data -threads 1,2 -images "$N" -augment 0
./detector bench_loader data/bccd.data -threads 1,2 -images "$N" -augment 1
if /usr/bin/python3 -c 'import cv2, numpy' 2>/dev/null; then
    /usr/bin/python3 scripts/bench_loader_ref.py "$VOC" -images "$N"
fi
./detector bench_loader data/voc2012_sample.data -threads 1,2 -images "$N" -augment 0
