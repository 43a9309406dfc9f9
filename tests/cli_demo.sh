#!/bin/sh
# detector demo end to end (docs/DEMO.md), on videos made by
# tests/make_video.py and a tiny SSD whose seeded initial weights fire on
# every frame (tests/data/demo-tiny.cfg; the class biases start at +1):
#   1. headless (-dont_show -out_filename) on a file: exit 0, read = processed
#      + dropped with every frame processed, the summary's FPS printed, the
#      written video (.avi MJPG and .mp4 mp4v) readable with the source's
#      size and frame count, and each frame's best box drawn where the -log
#      says (pixels on its edges have the class colour in the output and
#      not in the input);
#   2. -realtime (a file read like a camera) with a consumer kept slower
#      than the source (tests/demo_blocked_consumer.py: its log is not read
#      until the capture has ended): frames dropped, read = processed +
#      dropped, the newest frame processed; -compare
#      (the benchmark mode) processes and writes every frame and prints both
#      rates;
#   3. errors: missing file, a file that is not a video, a camera that does
#      not exist, no display without -dont_show, a cfg without [ssd]: a
#      clear message and a non-zero exit, never a crash or a hang;
#   4. under Xvfb (xvfb-run): the window opens, a screenshot is saved as
#      evidence, and the demo exits on its own at the end of the video;
#   5. memory: VmRSS sampled over 600 frames stays within 8 MiB of its value
#      after warm-up (the first second);
#   6. pictures: `anchors` (the lesson's 189) and `predgrid`.
# Outputs (videos, screenshot, logs) stay in $DEMO_OUT (default
# results/cli_demo). Needs python3-opencv, and xvfb + xauth + imagemagick
# for step 4 (skipped with a note when xvfb-run is missing).
cd "$(dirname "$0")/.." || exit 2
BIN=${BIN:-./detector}
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}
T=${DEMO_OUT:-results/cli_demo}
CFG=tests/data/demo-tiny.cfg
rm -rf "$T"
mkdir -p "$T" || exit 2

fail() {
    echo "FAIL: $*"
    exit 1
}
[ -x "$BIN" ] || fail "no binary $BIN (make first)"
[ -x "$BUILD/tests/test_demo" ] || fail "no $BUILD/tests/test_demo (make tests)"
if "$BIN" demo "$CFG" none none -dont_show 2>&1 | grep -q "built without OpenCV"; then
    echo "SKIP: $BIN was built without OpenCV (OPENCV=0): no video"
    exit 0
fi
"$PY" -c "import cv2" 2>/dev/null || fail "python3-opencv missing ($PY -c 'import cv2')"

"$PY" tests/make_video.py "$T/in.avi" -n 60 -size 640x480 -fps 30 || fail "make_video.py"
"$PY" tests/make_video.py "$T/in.mp4" -n 45 -size 320x240 -fps 25 || fail "make_video.py mp4"
"$BUILD/tests/test_demo" write-weights "$CFG" "$T/tiny.weights" 1 || fail "write-weights"

# "read R, processed P, dropped D" of the summary line -> "R P D"
counts() {
    sed -n 's/^demo summary: frames read \([0-9]*\), processed \([0-9]*\), dropped \([0-9]*\).*/\1 \2 \3/p' "$1"
}

# --- 1. headless on files -----------------------------------------------------
for v in in.avi:out.avi:60:640:480 in.mp4:out.mp4:45:320:240; do
    src=${v%%:*}; rest=${v#*:}; dst=${rest%%:*}; rest=${rest#*:}
    n=${rest%%:*}; rest=${rest#*:}; w=${rest%%:*}; h=${rest#*:}
    timeout 120 "$BIN" demo "$CFG" "$T/tiny.weights" "$T/$src" -dont_show -fps -thresh 0.7 \
        -out_filename "$T/$dst" -log "$T/$dst.dets" -threads 2 >"$T/$dst.log" 2>&1
    rc=$?
    cat "$T/$dst.log"
    [ $rc -eq 0 ] || fail "demo on $src exited with $rc"
    set -- $(counts "$T/$dst.log")
    [ $# -eq 3 ] || fail "no summary line for $src"
    [ "$1" -eq "$n" ] && [ "$2" -eq "$n" ] && [ "$3" -eq 0 ] ||
        fail "$src: read $1 processed $2 dropped $3, want $n $n 0 (a file: every frame)"
    grep -q "average [0-9.]* FPS; inference alone .* img/s" "$T/$dst.log" || fail "no FPS printed"
    "$PY" - "$T/$src" "$T/$dst" "$T/$dst.dets" "$n" "$w" "$h" <<'EOF' || fail "output video check ($dst)"
import sys
import cv2
import numpy as np
src, dst, dets, n, w, h = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])
# class colours (B, G, R) of src/media/draw.c
pal = [(75, 25, 230), (75, 180, 60), (25, 225, 255), (200, 130, 0)]
def frames(p):
    c = cv2.VideoCapture(p)
    out = []
    while True:
        ok, f = c.read()
        if not ok:
            return out
        out.append(f)
a, b = frames(src), frames(dst)
assert len(b) == n, "%s: %d frames, want %d" % (dst, len(b), n)
assert b[0].shape == (h, w, 3), "%s: %s, want %dx%d" % (dst, b[0].shape, w, h)
best = {}
for line in open(dets):
    f, c, s, x1, y1, x2, y2 = line.split()
    best.setdefault(int(f), (int(c), float(x1), float(y1), float(x2), float(y2)))
assert len(best) == n, "detections on %d of %d frames" % (len(best), n)
good = checked = 0
for f, (c, x1, y1, x2, y2) in best.items():
    x1, y1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    x2, y2 = min(w, int(np.ceil(x2))) - 1, min(h, int(np.ceil(y2))) - 1
    col = np.array(pal[c % len(pal)], np.float32)
    # the middle half of the left and right edges (2 px thick, inside the
    # box); away from the top-left corner, where labels and the FPS sit
    ys = slice(y1 + (y2 - y1) // 4, y2 - (y2 - y1) // 4 + 1)
    for xs in (slice(x1, x1 + 2), slice(x2 - 1, x2 + 1)):
        out = np.abs(b[f][ys, xs].astype(np.float32) - col).mean()
        inp = np.abs(a[f][ys, xs].astype(np.float32) - col).mean()
        checked += 1
        good += out < 45 and inp > out + 30
assert good >= 0.9 * checked, "box edges in the class colour at %d of %d places" % (good, checked)
# and away from every box the picture is the source's (MJPG/mp4v noise aside)
print("%s: %d frames %dx%d, box edges drawn at %d of %d places" % (dst, len(b), w, h, good, checked))
EOF
done

# --- 2. -realtime: a file read at its rate, as from a camera -------------------
# The consumer is made slower than the producer by construction, not by
# this machine's speed: tests/demo_blocked_consumer.py gives the demo a -log
# that nobody reads until the capture has read the whole file, so the
# display blocks after a few frames and the frames read meanwhile must be
# dropped (it fails if the capture waits instead). Then: read = processed +
# dropped, the log has exactly the processed frames in order, the newest
# frame (the last, 89) is among them, and the output video has them all.
"$PY" tests/make_video.py "$T/fast.avi" -n 90 -size 320x240 -fps 600 >/dev/null || fail "make_video"
timeout 300 "$PY" tests/demo_blocked_consumer.py "$T/fast.fifo" "$T/fast.log" \
    "$BIN" demo "$CFG" "$T/tiny.weights" "$T/fast.avi" -realtime -dont_show -threads 1 \
    -out_filename "$T/fast_out.avi" || { cat "$T/fast.log"; fail "-realtime run"; }
cat "$T/fast.log"
set -- $(counts "$T/fast.log")
[ $# -eq 3 ] || fail "no summary line (-realtime)"
[ "$1" -eq 90 ] && [ $(($2 + $3)) -eq 90 ] || fail "-realtime: read $1 != processed $2 + dropped $3"
[ "$3" -gt 0 ] || fail "-realtime with a blocked consumer dropped nothing (read $1 processed $2)"
# every processed frame has detections (the tiny SSD fires on every frame)
frames=$(cut -d' ' -f1 "$T/fast.fifo.txt" | uniq)
[ "$(echo "$frames" | wc -l)" -eq "$2" ] ||
    fail "-realtime: the log has $(echo "$frames" | wc -l) frames, processed $2"
[ "$(echo "$frames" | sort -n -u | tr '\n' ' ')" = "$(echo "$frames" | tr '\n' ' ')" ] ||
    fail "-realtime: frames logged out of order or twice: $(echo $frames)"
[ "$(echo "$frames" | tail -1)" -eq 89 ] || fail "-realtime: the newest frame (89) was not processed"
got=$("$PY" -c "import cv2,sys; c=cv2.VideoCapture(sys.argv[1]); n=0
while c.read()[0]: n+=1
print(n)" "$T/fast_out.avi")
[ "$got" -eq "$2" ] || fail "-realtime: output has $got frames, processed $2"
echo "realtime: read $1 = processed $2 + dropped $3; frames processed: $(echo $frames); output $got frames"

# --- 2b. -compare: blocks of the demo and of inference alone, same process --------
timeout 120 "$BIN" demo "$CFG" "$T/tiny.weights" "$T/in.avi" -dont_show -compare 5 -threads 2 \
    -out_filename "$T/cmp_out.avi" >"$T/cmp.log" 2>&1 || { cat "$T/cmp.log"; fail "-compare run"; }
grep "^demo compare\|^demo cpu" "$T/cmp.log"
set -- $(counts "$T/cmp.log")
[ "$1" -eq 60 ] && [ "$2" -eq 60 ] && [ "$3" -eq 0 ] || fail "-compare: read $1 processed $2 dropped $3"
line=$(grep "^demo compare: 12 blocks of 5 frames: the demo [0-9.]* FPS; inference alone .* [0-9.]* img/s; ratio [0-9.]*$" "$T/cmp.log") ||
    fail "-compare: no line 'demo compare: 12 blocks of 5 frames ...'"
echo "$line" | awk '{ r = $NF; exit (r > 0 && r < 1.5) ? 0 : 1 }' || fail "-compare: ratio out of range: $line"
got=$("$PY" -c "import cv2,sys; c=cv2.VideoCapture(sys.argv[1]); n=0
while c.read()[0]: n+=1
print(n)" "$T/cmp_out.avi")
[ "$got" -eq 60 ] || fail "-compare: output has $got frames, want 60"

# --- 3. errors -------------------------------------------------------------------
expect_error() { # name, expected text, command...
    name=$1 want=$2
    shift 2
    timeout 60 "$@" >"$T/err.log" 2>&1
    rc=$?
    [ $rc -eq 124 ] && fail "$name: hung (killed after 60 s)"
    [ $rc -ge 128 ] && fail "$name: crashed (signal $((rc - 128)))"
    [ $rc -ne 0 ] || fail "$name: exit status 0"
    grep -q -e "$want" "$T/err.log" || { cat "$T/err.log"; fail "$name: no '$want' in the message"; }
    echo "error case '$name': exit $rc, $(grep -m1 -e "$want" "$T/err.log")"
}
expect_error "missing file" "cannot open video $T/nope.mp4: No such file" \
    "$BIN" demo "$CFG" "$T/tiny.weights" "$T/nope.mp4" -dont_show
printf 'this is not a video\n' >"$T/garbage.avi"
expect_error "not a video" "garbage.avi: cannot be opened as a video source" \
    "$BIN" demo "$CFG" "$T/tiny.weights" "$T/garbage.avi" -dont_show
expect_error "bad camera" "camera 63: /dev/video63 does not exist" \
    "$BIN" demo "$CFG" "$T/tiny.weights" -c 63 -dont_show
expect_error "camera index" "demo: -c 'abc': expected an integer" \
    "$BIN" demo "$CFG" "$T/tiny.weights" -c abc -dont_show
expect_error "no display" "cannot open a window: no display" \
    env -u DISPLAY -u WAYLAND_DISPLAY "$BIN" demo "$CFG" "$T/tiny.weights" "$T/in.avi"
expect_error "dead display" "cannot open a window: no X server answers" \
    env DISPLAY=:97 "$BIN" demo "$CFG" "$T/tiny.weights" "$T/in.avi"
expect_error "not a detector" "demo needs a detection model (\[ssd\] layer)" \
    "$BIN" demo cfg/largest.cfg "$T/tiny.weights" "$T/in.avi" -dont_show
expect_error "compare live" "-compare needs a video file read frame by frame" \
    "$BIN" demo "$CFG" "$T/tiny.weights" "$T/in.avi" -dont_show -realtime -compare 5
expect_error "compare block" "demo: -compare '0': expected an integer" \
    "$BIN" demo "$CFG" "$T/tiny.weights" "$T/in.avi" -dont_show -compare 0
expect_error "bad output" "unknown video extension" \
    "$BIN" demo "$CFG" "$T/tiny.weights" "$T/in.avi" -dont_show -out_filename "$T/x.gif"

# --- 4. a window under Xvfb ------------------------------------------------------
if command -v xvfb-run >/dev/null 2>&1 && command -v import >/dev/null 2>&1; then
    # 6 s of video read at its rate; screenshots every 0.5 s while it runs
    # (Qt may take a while to map the window on a busy machine)
    "$PY" tests/make_video.py "$T/x.avi" -n 180 -size 640x480 -fps 30 >/dev/null || fail "make_video"
    mkdir -p "$T/shots"
    timeout 120 xvfb-run -a -s "-screen 0 800x600x24" sh -c '
        "$1" demo "$2" "$3" "$4" -realtime -thresh 0.7 >"$5/x.log" 2>&1 &
        p=$!
        i=0
        while sleep 0.5 && kill -0 $p 2>/dev/null; do
            i=$((i + 1))
            import -window root "$5/shots/$i.png" 2>/dev/null
        done
        wait $p' sh "$BIN" "$CFG" "$T/tiny.weights" "$T/x.avi" "$T"
    rc=$?
    cat "$T/x.log"
    [ $rc -eq 0 ] || fail "demo under Xvfb exited with $rc (124: did not stop at the end)"
    grep -q "^demo summary: frames read 180" "$T/x.log" || fail "Xvfb run did not read the video"
    "$PY" - "$T/shots" "$T/xvfb_screenshot.png" <<'EOF' || fail "screenshot shows no window"
import glob, shutil, sys
import cv2
best, lit_best = None, 0.0
for f in glob.glob(sys.argv[1] + "/*.png"):
    im = cv2.imread(f)
    if im is None:
        continue
    # the frame's blue-grey background covers most of the window's 640x480
    lit = (im.astype(int).sum(axis=2) > 60).mean()
    if lit > lit_best:
        best, lit_best = f, lit
assert best and lit_best > 0.3, "no screenshot shows the window (best %.0f%% lit)" % (100 * lit_best)
shutil.copy(best, sys.argv[2])
print("screenshot %s (from %s): %.0f%% of the 800x600 screen shows the window" %
      (sys.argv[2], best, 100 * lit_best))
EOF
else
    echo "SKIP: Xvfb window test (install xvfb xauth imagemagick)"
fi

# --- 5. memory over a long video -------------------------------------------------
# 600 frames read at 120 fps (-realtime: 5 s whatever the load); RSS sampled
# from the first per-second line on (warm-up: libraries, network, codecs and
# the first frames are done by then) to the end.
"$PY" tests/make_video.py "$T/long.avi" -n 600 -size 320x240 -fps 120 >/dev/null || fail "make_video"
"$BIN" demo "$CFG" "$T/tiny.weights" "$T/long.avi" -dont_show -realtime -fps -threads 1 \
    -out_filename "$T/long_out.avi" >"$T/long.log" 2>&1 &
pid=$!
: >"$T/rss.txt"
while kill -0 $pid 2>/dev/null; do
    if grep -q " FPS  read" "$T/long.log"; then
        sed -n 's/^VmRSS:[^0-9]*\([0-9]*\) kB/\1/p' /proc/$pid/status 2>/dev/null >>"$T/rss.txt"
    fi
    sleep 0.02
done
wait $pid || { cat "$T/long.log"; fail "long video run"; }
tail -2 "$T/long.log"
set -- $(counts "$T/long.log")
[ "$1" -eq 600 ] && [ $(($2 + $3)) -eq 600 ] || fail "long video: read $1 processed $2 dropped $3"
if [ "${SANITIZED:-0}" = 1 ]; then
    # AddressSanitizer keeps freed memory in quarantine (up to 256 MiB), so
    # RSS says nothing here; LeakSanitizer checks for leaks at exit instead.
    echo "memory: sanitized build: RSS bound not asserted (LeakSanitizer checks leaks)"
    RSS_CHECK=/dev/null
else
    RSS_CHECK="$T/rss.txt"
fi
[ "$RSS_CHECK" = /dev/null ] || "$PY" - "$RSS_CHECK" <<'EOF' || fail "memory grows"
import sys
rss = [int(v) for v in open(sys.argv[1]).read().split()]
assert len(rss) >= 20, "only %d RSS samples after warm-up (machine too slow?)" % len(rss)
grow = (max(rss) - rss[0]) / 1024
print("RSS over 600 frames: %d samples after warm-up from %.1f MiB, max growth %.2f MiB (bound 8)" %
      (len(rss), rss[0] / 1024, grow))
assert grow < 8, "RSS grew by %.1f MiB after warm-up" % grow
EOF

# --- 6. pictures: anchors and ground truth | predictions --------------------------
"$BIN" anchors cfg/ssd.cfg -out "$T/anchors.png" >"$T/anchors.log" 2>&1 || { cat "$T/anchors.log"; fail "anchors"; }
grep -q "189 anchors, 9 per cell" "$T/anchors.log" || fail "anchors: not the lesson's 189"
"$BIN" anchors cfg/largest.cfg -out "$T/x.png" >"$T/err.log" 2>&1 && fail "anchors of a cfg without [ssd]"
grep -q "needs a detection model" "$T/err.log" || fail "anchors: no message for a cfg without [ssd]"
"$BIN" synth "$T/synth" -n 24 -size 112 -seed 1 >/dev/null 2>&1 || fail "synth (for predgrid)"
"$BUILD/tests/test_demo" write-weights cfg/synth.cfg "$T/synth.weights" 3 || fail "write-weights synth"
"$BIN" predgrid cfg/synth.cfg "$T/synth.weights" -data "$T/synth/synth.data" -n 6 -cols 3 \
    -thresh 0.0195 -out "$T/predgrid.png" >"$T/pg.log" 2>&1 || { cat "$T/pg.log"; fail "predgrid"; }
"$PY" -c "
import cv2, sys
im = cv2.imread(sys.argv[1])
assert im is not None and im.shape[1] > 3 * 2 * 224 and im.shape[0] > 2 * 224, im.shape
print('pictures: anchors.png, predgrid.png %dx%d' % (im.shape[1], im.shape[0]))" "$T/predgrid.png" ||
    fail "predgrid picture"

echo "cli_demo: all passed (outputs in $T)"
