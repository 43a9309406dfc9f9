#!/usr/bin/env python3
"""Writes a short synthetic video for the demo tests (python3-opencv).

Each frame: a grey-blue gradient background with three moving shapes of
known colours (a red rectangle, a green circle, a yellow triangle) and the
frame number. Deterministic: the same arguments give the same frames.

usage: make_video.py OUT.{avi,mp4} [-n 60] [-size 640x480] [-fps 30]
MJPG for .avi, mp4v for .mp4 (both read back by OpenCV's FFmpeg backend).
Prints "wrote OUT: N frames WxH at F fps".
"""
import argparse
import sys

import cv2
import numpy as np


def frame(i, n, w, h):
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (90 + 60 * x + 20 * y).astype(np.uint8)  # B
    img[..., 1] = (80 + 40 * y + 0 * x).astype(np.uint8)  # G
    img[..., 2] = (70 + 30 * x * y).astype(np.uint8)  # R
    t = i / max(n - 1, 1)
    s = min(w, h)
    # red rectangle moving right
    x0 = int(0.05 * w + t * 0.5 * w)
    cv2.rectangle(img, (x0, int(0.15 * h)), (x0 + s // 4, int(0.15 * h) + s // 5), (40, 40, 220), -1)
    # green circle moving down
    cy = int(0.3 * h + t * 0.4 * h)
    cv2.circle(img, (int(0.7 * w), cy), s // 8, (60, 200, 60), -1)
    # yellow triangle moving left
    cx = int(0.6 * w - t * 0.4 * w)
    pts = np.array([[cx, int(0.6 * h)], [cx - s // 8, int(0.9 * h)], [cx + s // 8, int(0.9 * h)]])
    cv2.fillPoly(img, [pts], (40, 220, 230))
    cv2.putText(img, "%d" % i, (w - 60, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=60)
    ap.add_argument("-size", default="640x480")
    ap.add_argument("-fps", type=float, default=30.0)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    ext = a.out.rsplit(".", 1)[-1].lower()
    cc = {"avi": "MJPG", "mp4": "mp4v"}.get(ext)
    if cc is None:
        sys.exit("make_video.py: %s: use .avi (MJPG) or .mp4 (mp4v)" % a.out)
    wr = cv2.VideoWriter(a.out, cv2.VideoWriter_fourcc(*cc), a.fps, (w, h))
    if not wr.isOpened():
        sys.exit("make_video.py: cannot write %s" % a.out)
    for i in range(a.n):
        wr.write(frame(i, a.n, w, h))
    wr.release()
    print("wrote %s: %d frames %dx%d at %g fps" % (a.out, a.n, w, h, a.fps))


if __name__ == "__main__":
    main()
