#!/bin/sh
# The README's main command: installs the dependencies if missing, builds,
# and runs the main job on an embedded default (nothing downloaded):
#   1. `detector synth` renders a VOC-format set of shapes (2500 images,
#      112x112, 4 classes) into data/synth;
#   2. `detector train` trains cfg/synth.cfg (a small SSD, grids 7,4,2,1,
#      focal loss) from scratch on 2 CPU threads, 12 epochs (MINUTES caps it);
#   3. `detector valid` prints per-class AP and the mAP on the 500 held-out
#      images (VOC 11-point / all-point and COCO AP) and writes the result
#      files into results/valid/synth/;
#   4. `detector test` draws the detections of a few held-out images into
#      results/*.jpg.
# Ends with the line "default run: mAP@.5 ...".
# RESULTS (default results) is the folder of steps 3 and 4.
set -eu
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-30} # a cap only: the cfg trains a fixed 12 epochs
THREADS=${THREADS:-2}
RESULTS=${RESULTS:-results}
sh scripts/install_deps.sh
make -j"$(nproc)"
./detector synth data/synth -n 2500 -size 112 -seed 1
./detector train cfg/synth.cfg -threads "$THREADS" -clear -quiet -minutes "$MINUTES"
W=backup/synth/synth_final.weights
mkdir -p "$RESULTS"
./detector valid cfg/synth.cfg "$W" -threads "$THREADS" -out "$RESULTS/valid/synth" | tee "$RESULTS/valid_synth.txt"
./detector test cfg/synth.cfg "$W" -threads "$THREADS" -out "$RESULTS" \
    data/synth/JPEGImages/002000.jpg data/synth/JPEGImages/002001.jpg \
    data/synth/JPEGImages/002002.jpg data/synth/JPEGImages/002003.jpg
line=$(grep "^mAP@.5 11-point" "$RESULTS/valid_synth.txt")
echo "default run: $line; pictures in $RESULTS/002000.jpg .. $RESULTS/002003.jpg"
