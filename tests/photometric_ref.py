"""Reference for the SSD photometric distortion (docs/DATA.md, "SSD augmentation").

Usage: photometric_ref.py IN OUT

IN (written by tests/test_data_ssd_aug.c): "W H", W*H lines "r g b" (bytes),
then one line per case "bright alpha last sat hue". OUT: per case, W*H lines
"r g b" of the distorted pixel in [0,1].

Computed here independently of the C code, step by step as the SSD paper's
code does it (each step clipped to [0,1], as on its 8-bit images):
brightness x + delta (numpy); contrast x * alpha (numpy) before or after the
HSV part; saturation S * sigma through Python's colorsys (its own HSV
round trip); hue through torchvision.transforms.functional.adjust_hue (a
second, separate round trip, hue in turns).
"""
import colorsys
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF


def main():
    src, dst = sys.argv[1], sys.argv[2]
    lines = open(src).read().split("\n")
    w, h = map(int, lines[0].split())
    px = np.array([[int(v) for v in l.split()] for l in lines[1:1 + w * h]], dtype=np.float64)
    x0 = px / 255.0  # (w*h, 3) RGB
    out = []
    for l in lines[1 + w * h:]:
        if not l.strip():
            continue
        bright, alpha, last, sat, hue = map(float, l.split())
        x = np.clip(x0 + bright, 0, 1)
        if not last:
            x = np.clip(x * alpha, 0, 1)
        if sat != 1:
            y = np.empty_like(x)
            for i, (r, g, b) in enumerate(x):
                hh, ss, vv = colorsys.rgb_to_hsv(r, g, b)
                y[i] = colorsys.hsv_to_rgb(hh, min(max(ss * sat, 0.0), 1.0), vv)
            x = y
        if hue != 0:
            t = torch.tensor(x.T.reshape(3, h, w), dtype=torch.float64)
            t = TF.adjust_hue(t, hue)
            x = t.reshape(3, h * w).T.numpy()
        if last:
            x = np.clip(x * alpha, 0, 1)
        out.append(x)
    with open(dst, "w") as f:
        for x in out:
            for r, g, b in x:
                f.write("%.9f %.9f %.9f\n" % (r, g, b))


if __name__ == "__main__":
    main()
