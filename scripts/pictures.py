#!/usr/bin/env python3
"""The README's pictures (scripts/make_pictures.sh runs this; python3-opencv).

usage:
  pictures.py demo OUT_VIDEO TRUTH LOG FRAME OUT.png
      Saves frame FRAME (0-based) of the demo's annotated video OUT_VIDEO as
      OUT.png and scores the demo's detections (its -log: `frame class score
      x1 y1 x2 y2`) against the video's true boxes (tests/make_video.py
      -truth: `frame class x1 y1 x2 y2`): a true box is found when a
      detection of its class overlaps it with IoU >= 0.5 (each detection
      finds one box at most, highest score first, as in VOC). Prints the
      counts over all frames and for FRAME.
  pictures.py bccd ANNOTATIONS OUT.png DRAWN.jpg...
      Downscales `detector test`'s drawn detections DRAWN.jpg (same size as
      the source image) to TILE_W pixels wide, draws the image's ground truth
      (ANNOTATIONS/<name>.xml, VOC) over them in thin black lines, names the
      image in a corner, and tiles the four 2x2 into OUT.png (256 colours,
      median cut without dithering: a third of the bytes of full colour).
"""
import os
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np
from PIL import Image

TILE_W = 480


def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def read_rows(path, ncols):
    rows = []
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            v = line.split()
            if len(v) != ncols:
                sys.exit("pictures.py: %s:%d: expected %d columns" % (path, ln, ncols))
            rows.append([float(x) for x in v])
    return rows


def score_frame(truth, dets):
    """(true boxes found, detections that found none) of one frame."""
    used = [False] * len(truth)
    found = false = 0
    for d in sorted(dets, key=lambda r: -r[2]):
        best, bi = 0.5, -1
        for i, t in enumerate(truth):
            if not used[i] and int(t[1]) == int(d[1]):
                o = iou(t[2:6], d[3:7])
                if o >= best:
                    best, bi = o, i
        if bi >= 0:
            used[bi] = True
            found += 1
        else:
            false += 1
    return found, false


def demo(video, truth_path, log_path, frame, out):
    truth, dets = read_rows(truth_path, 6), read_rows(log_path, 7)
    frames = sorted({int(t[0]) for t in truth})
    n_true = found = false = 0
    at = None
    for f in frames:
        t = [r for r in truth if int(r[0]) == f]
        d = [r for r in dets if int(r[0]) == f]
        fo, fa = score_frame(t, d)
        n_true, found, false = n_true + len(t), found + fo, false + fa
        if f == frame:
            at = (len(t), fo, fa)
    cap = cv2.VideoCapture(video)
    img = None
    for _ in range(frame + 1):
        ok, img = cap.read()
        if not ok:
            sys.exit("pictures.py: %s has no frame %d" % (video, frame))
    cv2.imwrite(out, img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print("demo video: %d frames, %d true shapes: %d found (IoU >= 0.5, right class), "
          "%d detections that match none" % (len(frames), n_true, found, false))
    if at:
        print("frame %d (%s): %d shapes, %d found, %d detections that match none"
              % (frame, out, at[0], at[1], at[2]))


def voc_boxes(path):
    root = ET.parse(path).getroot()
    boxes = []
    for o in root.iter("object"):
        b = o.find("bndbox")
        # VOC: 1-based inclusive pixels -> continuous corners
        x1, y1 = float(b.find("xmin").text) - 1, float(b.find("ymin").text) - 1
        x2, y2 = float(b.find("xmax").text), float(b.find("ymax").text)
        boxes.append((o.find("name").text, x1, y1, x2, y2))
    return boxes


def bccd(ann_dir, out, drawn):
    if len(drawn) != 4:
        sys.exit("pictures.py bccd: 4 pictures, not %d" % len(drawn))
    tiles = []
    for p in drawn:
        img = cv2.imread(p)
        if img is None:
            sys.exit("pictures.py: cannot read %s" % p)
        name = os.path.splitext(os.path.basename(p))[0]
        k = TILE_W / img.shape[1]
        h = int(round(img.shape[0] * k))
        t = cv2.resize(img, (TILE_W, h), interpolation=cv2.INTER_AREA)
        for _, x1, y1, x2, y2 in voc_boxes(os.path.join(ann_dir, name + ".xml")):
            cv2.rectangle(t, (int(round(x1 * k)), int(round(y1 * k))),
                          (int(round(x2 * k)) - 1, int(round(y2 * k)) - 1), (0, 0, 0), 1)
        label = "%s (black: ground truth)" % name
        cv2.rectangle(t, (0, h - 22), (8 * len(label) + 10, h), (0, 0, 0), -1)
        cv2.putText(t, label, (5, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
        tiles.append(t)
    h = max(t.shape[0] for t in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT) for t in tiles]
    grid = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
    rgb = Image.fromarray(np.ascontiguousarray(grid[..., ::-1]))
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, optimize=True)
    print("wrote %s: %dx%d, %d KB" % (out, grid.shape[1], grid.shape[0],
                                       os.path.getsize(out) // 1024))


def main():
    a = sys.argv[1:]
    if len(a) == 6 and a[0] == "demo":
        demo(a[1], a[2], a[3], int(a[4]), a[5])
    elif len(a) >= 3 and a[0] == "bccd":
        bccd(a[1], a[2], a[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
