#!/usr/bin/env python3
"""Independent check of `detector anchors -kmeans` (tests/cli_anchors.sh).

usage: anchors_ref.py VOC_ROOT CFG LOG
Reads the train split of a VOC folder with xml.etree (VOC's 1-based pixels:
[xmin-1, xmax) over the <size> the file declares, clipped to the image),
the [ssd] anchors of CFG from its grids/zooms/ratios (docs/DETECT.md: size
(z*w_ratio/g, z*h_ratio/g); a WxH grid: (z*w_ratio/W, z*h_ratio/H)), and the detector's printed lines in LOG; then
in numpy: the box count, the mean best centred IoU against the cfg's anchors
and against the printed anchor_sizes (both to 2e-6), the k-means result
beating the cfg's anchors, sorted by area, and a fixed point of Lloyd's
iteration (every size the mean of the boxes whose best IoU it is, to the
printed digits)."""
import os
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np


def boxes(root):
    ids = open(os.path.join(root, "ImageSets/Main/train.txt")).read().split()
    wh = []
    for i in ids:
        t = ET.parse(os.path.join(root, "Annotations", i + ".xml")).getroot()
        W = float(t.find("size/width").text)
        H = float(t.find("size/height").text)
        for o in t.findall("object"):
            b = o.find("bndbox")
            x1, y1, x2, y2 = (float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            x1, y1 = max(x1 - 1, 0.0), max(y1 - 1, 0.0)
            x2, y2 = min(x2, W), min(y2, H)
            if x2 > x1 and y2 > y1:
                wh.append(((x2 - x1) / W, (y2 - y1) / H))
    return np.array(wh, dtype=np.float32).astype(np.float64)


def cfg_anchor_sizes(path):
    text = open(path).read()
    ssd = text[text.index("[ssd]"):]
    def key(k):
        return [float(v) for v in re.search(r"^%s=(.*)$" % k, ssd, re.M).group(1).split(",")]
    # a grid is g (g x g) or WxH: sizes z*w/W across, z*h/H down
    grids = [tuple(float(x) for x in g.split("x")) if "x" in g else (float(g), float(g))
             for g in re.search(r"^grids=(.*)$", ssd, re.M).group(1).strip().split(",")]
    zooms, ratios = key("zooms"), key("ratios")
    sizes = set()
    for gw, gh in grids:
        for z in zooms:
            for h, w in zip(ratios[0::2], ratios[1::2]):
                sizes.add((np.float32(z * w / gw), np.float32(z * h / gh)))
    return np.array(sorted(sizes), dtype=np.float64)


def iou(b, a):
    """(n, 2) boxes x (k, 2) anchors -> (n, k) IoU, both centred at the origin."""
    inter = np.minimum(b[:, None, 0], a[None, :, 0]) * np.minimum(b[:, None, 1], a[None, :, 1])
    return inter / (b[:, None, 0] * b[:, None, 1] + a[None, :, 0] * a[None, :, 1] - inter)


def main():
    root, cfg, log = sys.argv[1:4]
    out = open(log).read()
    b = boxes(root)
    n = int(re.search(r"(\d+) training boxes", out).group(1))
    m_cur, iou_cur = re.search(r"the cfg's (\d+) anchor sizes: mean best IoU ([0-9.]+)", out).groups()
    k, iou_km = re.search(r"k-means K=(\d+) .*: mean best IoU ([0-9.]+)", out).groups()
    km = np.array([float(v) for v in re.search(r"^anchor_sizes=(.*)$", out, re.M).group(1)
                   .split(",")]).reshape(-1, 2)
    cur = cfg_anchor_sizes(cfg)
    fails = 0

    def check(what, ok, detail):
        nonlocal fails
        print("  %-48s %s  %s" % (what, "ok" if ok else "FAIL", detail))
        fails += not ok

    check("box count", n == len(b), "%d vs numpy %d" % (n, len(b)))
    check("cfg's distinct sizes", int(m_cur) == len(cur), "%s vs numpy %d" % (m_cur, len(cur)))
    ref_cur = iou(b, cur).max(1).mean()
    check("mean best IoU, cfg's anchors", abs(ref_cur - float(iou_cur)) < 2e-6,
          "%s vs numpy %.7f" % (iou_cur, ref_cur))
    ref_km = iou(b, km).max(1).mean()
    check("mean best IoU, k-means anchors", abs(ref_km - float(iou_km)) < 2e-6,
          "%s vs numpy %.7f (from the printed sizes)" % (iou_km, ref_km))
    check("K sizes", len(km) == int(k), "%d" % len(km))
    check("k-means beats the cfg's anchors", ref_km >= ref_cur, "%.6f >= %.6f" % (ref_km, ref_cur))
    area = km[:, 0] * km[:, 1]
    check("sorted by area", bool(np.all(np.diff(area) >= 0)), "")
    best = iou(b, km).argmax(1)
    err = 0.0
    for j in range(len(km)):
        mine = b[best == j]
        if len(mine):
            err = max(err, float(np.max(np.abs(mine.mean(0) - km[j]) / km[j])))
    check("a fixed point of Lloyd's step", err < 1e-5, "max relative error %.2e" % err)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
