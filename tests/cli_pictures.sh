#!/bin/sh
# The pieces of scripts/make_pictures.sh that its numbers rest on (the
# training and the pictures themselves are not run here):
#   1. tests/make_video.py -scene synth: every true box (-truth) is where its
#      shape's pixels are in the decoded frame (shapes of known colours, found
#      by colour in frames 0, 29 and 60): IoU >= 0.95 with their extent (the
#      sharp tips of a tilted triangle or square are partly covered pixels,
#      lost to the MJPG and the noise: up to ~3 px of a ~110 px box;
#      a box off by a tenth of its side has IoU 0.82);
#   2. scripts/pictures.py demo, the "found / match none" counts, on logs
#      made from those true boxes: the boxes themselves (all found), shifted
#      to IoU 1/3 (none found: VOC's IoU >= 0.5), the wrong class (none),
#      every box twice (all found, the second copy matches none: one
#      detection per box); and the frame it saves is the video's frame.
# Needs python3-opencv. Writes into a temp folder.
cd "$(dirname "$0")/.." || exit 2
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" tests/make_video.py "$T/v.avi" -n 90 -size 448x448 -fps 15 -scene synth -truth "$T/truth.txt" ||
    fail "make_video.py -scene synth"
"$PY" - "$T/v.avi" "$T/truth.txt" <<'EOF' || fail "true boxes are not the shapes' pixels"
import sys
import cv2
import numpy as np
sys.path.insert(0, "tests")
from make_video import SYNTH_SHAPES  # noqa: E402
video, truth = sys.argv[1], sys.argv[2]
rows = [l.split() for l in open(truth)]
assert len(rows) == 90 * 4, len(rows)
cap = cv2.VideoCapture(video)
frames = [cap.read()[1] for _ in range(61)]
def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0) * max(ih, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
worst = 1.0
for f in (0, 29, 60):
    img = frames[f].astype(np.int32)
    for cls, col, _, _ in SYNTH_SHAPES:
        # sum of |BGR difference| < 90: the noise (sigma 6 a channel) stays in
        mask = (np.abs(img - np.array(col)).sum(2) < 90).astype(np.uint8)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask)
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))  # the shape, not stray pixels
        x, y, w, h = stats[big, :4]
        got = np.array([x, y, x + w, y + h], float)
        want = [float(v) for r in rows if int(r[0]) == f and int(r[1]) == cls for v in r[2:]]
        o = iou(got, want)
        worst = min(worst, o)
        print("frame %d class %d: pixels %s, truth %s: IoU %.3f" % (f, cls, got, want, o))
        assert o >= 0.95, (f, cls, o)
print("true boxes: IoU >= %.3f with the shapes' pixels" % worst)
EOF

# detection logs made from the truth: frame class score x1 y1 x2 y2
awk '{print $1, $2, 0.9, $3, $4, $5, $6}' "$T/truth.txt" >"$T/exact.log"
# shifted right by half the width: IoU = 0.5 / 1.5 = 1/3
awk '{w = $5 - $3; print $1, $2, 0.9, $3 + w / 2, $4, $5 + w / 2, $6}' "$T/truth.txt" >"$T/shift.log"
awk '{print $1, ($2 + 1) % 4, 0.9, $3, $4, $5, $6}' "$T/truth.txt" >"$T/class.log"
cat "$T/exact.log" "$T/exact.log" >"$T/twice.log"
check() { # log, expected "found none" counts
    out=$("$PY" scripts/pictures.py demo "$T/v.avi" "$T/truth.txt" "$T/$1" 29 "$T/f.png") ||
        fail "pictures.py demo on $1"
    echo "$out"
    echo "$out" | grep -q "^demo video: 90 frames, 360 true shapes: $2 found (IoU >= 0.5, right class), $3 detections that match none$" ||
        fail "$1: expected $2 found, $3 matching none"
}
check exact.log 360 0
check shift.log 0 360
check class.log 0 360
check twice.log 360 360
"$PY" - "$T/v.avi" "$T/f.png" <<'EOF' || fail "the saved picture is not frame 29"
import sys
import cv2
import numpy as np
cap = cv2.VideoCapture(sys.argv[1])
for _ in range(30):
    ok, f = cap.read()
assert ok and np.array_equal(cv2.imread(sys.argv[2]), f)
EOF
echo "cli_pictures: PASS"
