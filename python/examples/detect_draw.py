#!/usr/bin/env python3
"""Detections drawn on a picture with OpenCV, written as a PNG.

    python3 detect_draw.py CFG WEIGHTS IMAGE OUT.png [--thresh 0.3] [--threads 2]

cv2 is Debian's python3-opencv or PyPI's opencv-python; detector is this
repository's package (pip install ./python, docs/PYTHON.md)."""
import argparse
import sys

import cv2

import detector


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cfg")
    p.add_argument("weights")
    p.add_argument("image")
    p.add_argument("out")
    p.add_argument("--thresh", type=float, default=0.3, help="score threshold (0.3)")
    p.add_argument("--threads", type=int, default=0, help="threads (0: OpenMP's default)")
    a = p.parse_args()
    img = cv2.imread(a.image, cv2.IMREAD_COLOR)  # BGR
    if img is None:
        sys.exit("%s: cannot read the image" % a.image)
    try:
        with detector.Model(a.cfg, a.weights, threads=a.threads, score_thresh=a.thresh) as m:
            r = m.detect(img, bgr=True)
    except detector.Error as e:
        sys.exit("error: %s" % e)
    for (x1, y1, x2, y2), score, name in zip(r.boxes, r.scores, r.names):
        p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)) - 1, int(round(y2)) - 1)
        cv2.rectangle(img, p1, p2, (0, 200, 255), 2)
        label = "%s %.2f" % (name, score)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(p1[1], th + base)
        cv2.rectangle(img, (p1[0], ty - th - base), (p1[0] + tw, ty), (0, 200, 255), -1)
        cv2.putText(img, label, (p1[0], ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
        print("%-12s %.3f  %7.1f %7.1f %7.1f %7.1f" % (name, score, x1, y1, x2, y2))
    if not cv2.imwrite(a.out, img):
        sys.exit("%s: cannot write the picture" % a.out)
    print("%d detections drawn into %s" % (len(r), a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
