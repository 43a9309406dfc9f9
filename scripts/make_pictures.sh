#!/bin/sh
# The README's pictures of trained models, into results/pictures/:
#   demo_synth.png       a frame of `detector demo` running the embedded
#                        default's trained model (scripts/run_default.sh:
#                        cfg/synth.cfg trained on `detector synth` shapes) on
#                        a video of the same four shapes (tests/make_video.py
#                        -scene synth, 448x448, 90 frames); prints the model's
#                        held-out mAP and how many of the video's shapes it
#                        found (scripts/pictures.py); the frame's FPS label
#                        is the one thing that differs between runs
#   bccd_detections.png  `detector test` on 4 fixed BCCD validation images
#                        (the first 4 of val.txt), ground truth drawn thinly
#                        in black, tiled 2x2
# usage: scripts/make_pictures.sh [BCCD_CFG [BCCD_WEIGHTS]]
#   BCCD_CFG      default cfg/ssd-bccd.cfg
#   BCCD_WEIGHTS  default backup/bccd/ssd-bccd_final.weights; without them
#                 (or without the BCCD data) that picture is skipped with a
#                 message
# Environment: THREADS (2); THRESH, the BCCD picture's score threshold (0.25); FRAME, the demo frame saved (30); TRAIN=0 reuses
# backup/synth/synth_final.weights instead of training it again; BCCD, the
# data set's VOC folder (../shared/data/bccd/BCCD); WORK, the scratch folder
# (results/pictures/work, removed at the end).
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
FRAME=${FRAME:-30}
THRESH=${THRESH:-0.25} # the BCCD picture's score threshold (detector test -thresh)
TRAIN=${TRAIN:-1}
BCCD=${BCCD:-../shared/data/bccd/BCCD}
BCCD_CFG=${1:-cfg/ssd-bccd.cfg}
BCCD_W=${2:-backup/bccd/ssd-bccd_final.weights}
PY=/usr/bin/python3
OUT=results/pictures
WORK=${WORK:-$OUT/work}
mkdir -p "$OUT" "$WORK"

# 1. The embedded default, trained as the README's main command trains it.
W=backup/synth/synth_final.weights
if [ "$TRAIN" = 1 ]; then
    RESULTS="$WORK/default" THREADS="$THREADS" sh scripts/run_default.sh
else
    [ -f "$W" ] || { echo "make_pictures: TRAIN=0 but no $W" >&2; exit 1; }
    ./detector valid cfg/synth.cfg "$W" -threads "$THREADS" -out "$WORK/default/valid/synth" \
        >"$WORK/valid_synth.txt"
    echo "default model: $(grep '^mAP@.5 11-point' "$WORK/valid_synth.txt")"
fi
"$PY" tests/make_video.py "$WORK/shapes.avi" -n 90 -size 448x448 -fps 15 -scene synth \
    -truth "$WORK/shapes_truth.txt"
./detector demo cfg/synth.cfg "$W" "$WORK/shapes.avi" -dont_show -threads "$THREADS" \
    -out_filename "$WORK/shapes_demo.avi" -log "$WORK/shapes_demo.log"
"$PY" scripts/pictures.py demo "$WORK/shapes_demo.avi" "$WORK/shapes_truth.txt" \
    "$WORK/shapes_demo.log" "$FRAME" "$OUT/demo_synth.png"

# 2. BCCD: the first 4 validation images through `detector test`.
if [ ! -f "$BCCD/ImageSets/Main/val.txt" ]; then
    echo "make_pictures: no BCCD data in $BCCD (data/bccd.data reads it there): bccd_detections.png skipped"
elif [ ! -f "$BCCD_W" ]; then
    echo "make_pictures: no weights $BCCD_W for $BCCD_CFG: bccd_detections.png skipped"
else
    ids=$(head -n 4 "$BCCD/ImageSets/Main/val.txt")
    imgs=""
    drawn=""
    for id in $ids; do
        imgs="$imgs $BCCD/JPEGImages/$id.jpg"
        drawn="$drawn $WORK/bccd/$id.jpg"
    done
    # shellcheck disable=SC2086 # the lists are space-separated file names
    ./detector test "$BCCD_CFG" "$BCCD_W" $imgs -threads "$THREADS" -thresh "$THRESH" -out "$WORK/bccd"
    # shellcheck disable=SC2086
    "$PY" scripts/pictures.py bccd "$BCCD/Annotations" "$OUT/bccd_detections.png" $drawn
    echo "bccd_detections.png: $BCCD_CFG with $BCCD_W on" $ids
fi
rm -rf "$WORK"
