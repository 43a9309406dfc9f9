#!/usr/bin/env python3
"""Writes a short synthetic video for the demo tests (python3-opencv).

Scene "demo" (default): a grey-blue gradient background with three moving
shapes of known colours (a red rectangle, a green circle, a yellow triangle)
and the frame number.
Scene "synth": the four classes of `detector synth` (circle, square,
triangle, cross; src/data/synth.c), drawn as it draws them: filled, side
0.18-0.32 of the frame, tilted up to 17 degrees, over a two-colour gradient
with faint stripes, thin clutter lines and sensor noise. Each shape circles
in its own quadrant and slowly grows and shrinks. -truth F writes their
boxes, one line each: `frame class x1 y1 x2 y2` (continuous pixels; class:
0 circle, 1 square, 2 triangle, 3 cross, the order of data/synth.names).
Deterministic: the same arguments give the same frames.

usage: make_video.py OUT.{avi,mp4} [-n 60] [-size 640x480] [-fps 30]
                     [-scene demo|synth] [-truth F]
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


# scene "synth": per shape (class, BGR colour, quadrant centre, phase)
SYNTH_SHAPES = ((0, (40, 40, 225), (0.27, 0.27), 0.0),   # circle, red
                (1, (235, 235, 245), (0.73, 0.27), 1.6),  # square, white
                (2, (30, 215, 240), (0.27, 0.73), 3.1),   # triangle, yellow
                (3, (205, 70, 30), (0.73, 0.73), 4.7))    # cross, blue


def synth_outline(cls, side, ang):
    """Vertices of class cls with extent `side` around (0, 0), turned by ang
    (shape_outline of src/data/synth.c; the cross's arms 0.35 of the side)."""
    h = 0.5 * side
    if cls == 0:
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return np.stack([h * np.cos(t), h * np.sin(t)], 1)
    if cls == 1:
        p = [(-h, -h), (h, -h), (h, h), (-h, h)]
    elif cls == 2:
        p = [(0, -h), (h, h), (-h, h)]
    else:
        a = 0.35 * h
        p = [(-a, -h), (a, -h), (a, -a), (h, -a), (h, a), (a, a),
             (a, h), (-a, h), (-a, a), (-h, a), (-h, -a), (-a, -a)]
    p = np.array(p, np.float64)
    c, s = np.cos(ang), np.sin(ang)
    return p @ np.array([[c, s], [-s, c]])


def synth_background(w, h):
    y = np.arange(h, dtype=np.float64)[:, None]
    x = np.arange(w, dtype=np.float64)[None, :]
    u = (0.8 * (x - w / 2) + 0.6 * (y - h / 2)) / max(w, h) + 0.5
    c0, c1 = np.array([150.0, 110.0, 60.0]), np.array([70.0, 140.0, 120.0])  # BGR
    img = c0 + (c1 - c0) * u[..., None] + 10 * np.sin(0.15 * (0.5 * x + 0.87 * y))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(7)
    for _ in range(5):  # clutter: thin lines that are not objects
        p0 = rng.uniform(0, 1, 2) * (w, h)
        p1 = p0 + rng.uniform(-0.6, 0.6, 2) * (w, h)
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in p1), col, 2, cv2.LINE_AA)
    return img


def synth_frame(i, n, w, h, bg, truth):
    img = bg.copy()
    s = min(w, h)
    t = 2 * np.pi * i / max(n, 1)
    for cls, col, (qx, qy), ph in SYNTH_SHAPES:
        side = s * (0.25 + 0.07 * np.sin(t + ph))
        ang = 0.0 if cls == 0 else 0.3 * np.sin(0.7 * t + ph)
        cx = qx * w + 0.07 * s * np.cos(t + ph)
        cy = qy * h + 0.07 * s * np.sin(t + ph)
        pts = synth_outline(cls, side, ang) + (cx, cy)
        cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], col, cv2.LINE_AA, shift=4)
        lo, hi = pts.min(0), pts.max(0)
        truth.append("%d %d %.2f %.2f %.2f %.2f" % (i, cls, lo[0], lo[1], hi[0], hi[1]))
    noise = np.random.default_rng(1000 + i).normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=60)
    ap.add_argument("-size", default="640x480")
    ap.add_argument("-fps", type=float, default=30.0)
    ap.add_argument("-scene", choices=("demo", "synth"), default="demo")
    ap.add_argument("-truth")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    ext = a.out.rsplit(".", 1)[-1].lower()
    cc = {"avi": "MJPG", "mp4": "mp4v"}.get(ext)
    if cc is None:
        sys.exit("make_video.py: %s: use .avi (MJPG) or .mp4 (mp4v)" % a.out)
    wr = cv2.VideoWriter(a.out, cv2.VideoWriter_fourcc(*cc), a.fps, (w, h))
    if not wr.isOpened():
        sys.exit("make_video.py: cannot write %s" % a.out)
    truth = []
    bg = synth_background(w, h) if a.scene == "synth" else None
    for i in range(a.n):
        wr.write(frame(i, a.n, w, h) if bg is None else synth_frame(i, a.n, w, h, bg, truth))
    wr.release()
    if a.truth:
        with open(a.truth, "w") as f:
            f.write("".join(line + "\n" for line in truth))
    print("wrote %s: %d frames %dx%d at %g fps" % (a.out, a.n, w, h, a.fps))


if __name__ == "__main__":
    main()
