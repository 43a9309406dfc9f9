#!/bin/sh
# FPS of `detector demo` on a 640x480 video beside the model's inference
# rate alone (`detector bench <cfg> -batch 1`), same threads, and their
# ratio. The demo must lose at most 10% to capture, drawing, encoding and
# display (docs/DEMO.md).
#
#   BIN=./detector BUILD=build CFG=cfg/ssd.cfg THREADS=2 FRAMES=40 ROUNDS=2 \
#     sh scripts/bench_demo.sh
# Random initial weights (the seeded init; speed does not depend on them),
# written by $BUILD/tests/test_demo. Rounds alternate bench and demo so that
# load from other work on the machine hits both alike; the best of each is
# compared. With xvfb-run installed, one more demo round shows the window.
cd "$(dirname "$0")/.." || exit 2
BIN=${BIN:-./detector}
BUILD=${BUILD:-build}
CFG=${CFG:-cfg/ssd.cfg}
THREADS=${THREADS:-2}
FRAMES=${FRAMES:-40}
ROUNDS=${ROUNDS:-2}
PY=${PYTHON:-/usr/bin/python3}
T=${BENCH_OUT:-results/bench_demo}
mkdir -p "$T" || exit 2
[ -x "$BIN" ] || { echo "no $BIN (make first)"; exit 2; }
[ -x "$BUILD/tests/test_demo" ] || { echo "no $BUILD/tests/test_demo (make tests)"; exit 2; }

"$PY" tests/make_video.py "$T/in.avi" -n "$FRAMES" -size 640x480 -fps 30 || exit 1
W="$T/$(basename "$CFG" .cfg).weights"
[ -f "$W" ] || "$BUILD/tests/test_demo" write-weights "$CFG" "$W" 1 || exit 1

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $THREADS threads"
best_bench=0
best_demo=0
best_inf=0
for r in $(seq 1 "$ROUNDS"); do
    b=$("$BIN" bench "$CFG" -batch 1 -threads "$THREADS" -iters 20 -warmup 3 -weights "$W" 2>/dev/null |
        sed -n 's/.*: \([0-9.]*\) img\/s.*/\1/p')
    "$BIN" demo "$CFG" "$W" "$T/in.avi" -dont_show -threads "$THREADS" \
        -out_filename "$T/out.avi" >"$T/demo_$r.log" 2>&1 || { cat "$T/demo_$r.log"; exit 1; }
    d=$(sed -n 's/.*average \([0-9.]*\) FPS.*/\1/p' "$T/demo_$r.log")
    i=$(sed -n 's/.*inference alone (forward + detections) \([0-9.]*\) img\/s.*/\1/p' "$T/demo_$r.log")
    echo "round $r: bench $b img/s | demo $d FPS (its inference alone $i img/s, in-process ratio $(echo "$d $i" | awk '{printf "%.3f", $1 / $2}')) | load $(cut -d' ' -f1 /proc/loadavg)"
    best_bench=$(echo "$b $best_bench" | awk '{print ($1 > $2) ? $1 : $2}')
    best_demo=$(echo "$d $best_demo" | awk '{print ($1 > $2) ? $1 : $2}')
    best_inf=$(echo "$i $best_inf" | awk '{print ($1 > $2) ? $1 : $2}')
done
grep "^demo summary" "$T/demo_$ROUNDS.log"
echo "$best_bench $best_demo $best_inf" | awk '{
    printf "best: bench %.2f img/s, demo %.2f FPS (-dont_show, writing MJPG), ratio %.3f (%s: at most 10%% lost); demo inference alone %.2f img/s\n",
        $1, $2, $2 / $1, ($2 / $1 >= 0.9) ? "PASS" : "FAIL", $3 }'
if command -v xvfb-run >/dev/null 2>&1; then
    xvfb-run -a -s "-screen 0 800x600x24" "$BIN" demo "$CFG" "$W" "$T/in.avi" \
        -threads "$THREADS" >"$T/demo_x.log" 2>&1
    d=$(sed -n 's/.*average \([0-9.]*\) FPS.*/\1/p' "$T/demo_x.log")
    echo "$d $best_bench" | awk '{printf "with a window (Xvfb): demo %.2f FPS, ratio %.3f to the best bench\n", $1, $1 / $2}'
fi
echo "$best_bench $best_demo" | awk '{exit ($2 / $1 >= 0.9) ? 0 : 1}'
