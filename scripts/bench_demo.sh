#!/bin/sh
# FPS of `detector demo` on a 640x480 video beside the model's inference
# rate alone (`detector bench <cfg> -batch 1`), same threads, and their
# ratio. The demo must lose at most 10% to capture, drawing and display
# (docs/DEMO.md).
#
#   BIN=./detector BUILD=build CFG=cfg/ssd.cfg THREADS=2 FRAMES=60 ROUNDS=7 \
#     sh scripts/bench_demo.sh
# Random initial weights (the seeded init; speed does not depend on them),
# written by $BUILD/tests/test_demo. They put the most boxes the [ssd] layer
# emits (100) on every frame: the drawing is the worst case.
#
# Each round runs, back to back and in an order that rotates from round to
# round: bench; the demo showing its window (on a private Xvfb display when
# Xvfb is installed, else headless without output: capture and drawing only);
# the demo headless writing the annotated MJPG video (-out_filename), which
# adds encoding. The verdict is the median of the rounds' window/bench ratios:
# on a shared 2-core VM either side moves by 10-20% between runs a minute
# apart, and a round's runs are seconds apart.
cd "$(dirname "$0")/.." || exit 2
BIN=${BIN:-./detector}
BUILD=${BUILD:-build}
CFG=${CFG:-cfg/ssd.cfg}
THREADS=${THREADS:-2}
FRAMES=${FRAMES:-60}
ROUNDS=${ROUNDS:-7}
PY=${PYTHON:-/usr/bin/python3}
T=${BENCH_OUT:-results/bench_demo}
mkdir -p "$T" || exit 2
[ -x "$BIN" ] || { echo "no $BIN (make first)"; exit 2; }
[ -x "$BUILD/tests/test_demo" ] || { echo "no $BUILD/tests/test_demo (make tests)"; exit 2; }

"$PY" tests/make_video.py "$T/in.avi" -n "$FRAMES" -size 640x480 -fps 30 || exit 1
W="$T/$(basename "$CFG" .cfg).weights"
[ -f "$W" ] || "$BUILD/tests/test_demo" write-weights "$CFG" "$W" 1 || exit 1

XPID=
if command -v Xvfb >/dev/null 2>&1; then
    n=90
    while [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
    Xvfb ":$n" -screen 0 800x600x24 -nolisten tcp >/dev/null 2>&1 &
    XPID=$!
    trap 'kill $XPID 2>/dev/null' EXIT INT TERM
    sleep 1
    SHOW="a window on Xvfb :$n"
    DISPLAY_FLAGS=
    export DISPLAY=":$n"
else
    SHOW="headless, no output (no Xvfb here)"
    DISPLAY_FLAGS=-dont_show
fi

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $THREADS threads; $FRAMES frames a run"
echo "display: $SHOW"
bench_once() {
    "$BIN" bench "$CFG" -batch 1 -threads "$THREADS" -iters "$FRAMES" -warmup 3 -weights "$W" 2>/dev/null |
        sed -n 's/.*: \([0-9.]*\) img\/s.*/\1/p'
}
demo_once() { # log, flags...
    log=$1
    shift
    "$BIN" demo "$CFG" "$W" "$T/in.avi" -threads "$THREADS" "$@" >"$log" 2>&1 ||
        { cat "$log" >&2; return 1; }
    sed -n 's/.*average \([0-9.]*\) FPS.*/\1/p' "$log"
}
run_one() { # what round
    case $1 in
    b) b=$(bench_once) ;;
    s) s=$(demo_once "$T/demo_show_$2.log" $DISPLAY_FLAGS) ;;
    w) w=$(demo_once "$T/demo_write_$2.log" -dont_show -out_filename "$T/out.avi") ;;
    esac
}
: >"$T/rounds.txt"
for r in $(seq 1 "$ROUNDS"); do
    case $((r % 3)) in
    1) order="b s w" ;;
    2) order="s w b" ;;
    0) order="w b s" ;;
    esac
    for x in $order; do run_one "$x" "$r" || exit 1; done
    [ -n "$b" ] && [ -n "$s" ] && [ -n "$w" ] || { echo "round $r: a run gave no rate"; exit 1; }
    echo "$b $s $w" >>"$T/rounds.txt"
    echo "$r $b $s $w" | awk -v l="$(cut -d' ' -f1 /proc/loadavg)" '{
        printf "round %d: bench %.2f img/s | demo shown %.2f FPS (%.3f) | demo writing MJPG %.2f FPS (%.3f) | load %s\n",
               $1, $2, $3, $3 / $2, $4, $4 / $2, l }'
done
grep -h "^demo summary" "$T/demo_show_$ROUNDS.log"
med() { sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
ms=$(awk '{ printf "%.4f\n", $2 / $1 }' "$T/rounds.txt" | med)
mw=$(awk '{ printf "%.4f\n", $3 / $1 }' "$T/rounds.txt" | med)
n=$(wc -l <"$T/rounds.txt")
echo "$ms $mw" | awk -v n="$n" '{
    printf "median of %d rounds, demo / bench: shown %.3f (%s: at most 10%% lost to capture, drawing, display); writing MJPG %.3f\n",
           n, $1, ($1 >= 0.9) ? "PASS" : "FAIL", $2 }'
echo "$ms" | awk '{ exit ($1 >= 0.9) ? 0 : 1 }'
