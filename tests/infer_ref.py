#!/usr/bin/python3
"""PyTorch reference for tests/test_infer.c: the lesson's SSD head on a small
body, end to end from real images to detections.

usage: infer_ref.py X.f32 B OUT.bin

X.f32 holds the network input the C test loaded from real VOC images with the
`test` command's loader: float32 (B, 56, 56, 3) NHWC. This script draws the
parameters (seeded), runs the network in eval mode in float64 and the
lesson's detection (sigmoid scores, per-class threshold, torchvision NMS, the
class's top N) on its output, and writes (scripts/refs/common.py's archive):
  L<i>.<param>  every parameter of our layer i (PyTorch layouts: OIHW)
  y             the [ssd] output (B, A, C+1+4): class logits, box activations
  det.<b>       image b's detections (n, 7): class, anchor, score, x1, y1, x2, y2
                (our box order), sorted by (class, anchor)

The network (tests/test_infer.c's CFG, layer by layer):
  0-2  [convolutional] 3x3 s2 pad 1, no bias, BN (eval), ReLU: 56 -> 28 -> 14 -> 7
  3    [stdconv] s1 (7x7)       4 [stdconv] s2 (4x4)     5 [outconv] k=9
  6    [route] -2               7 [stdconv] s2 (2x2)     8 [outconv]
  9    [route] -2              10 [stdconv] s2 (1x1)    11 [outconv]
  12   [ssd] grids 4,2,1, zooms .75,1,1.3, ratios (1,1),(1,.5),(.5,1): A = 189
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "refs"))
sys.path.insert(0, HERE)

import ssd_ref  # noqa: E402
from common import save_archive  # noqa: E402
from heads import OutConv, StdConv, flatten_conv, uni, f32  # noqa: E402

CLASSES, K, HW, BODY = 3, 9, 56, [16, 24, 32]
THRESH, NMS, PER_CLASS = 0.6, 0.4, 50  # the C test's dt_detect_cfg
EPS = 1e-5
LOGIT_GAIN = 20.0
SWAP = ssd_ref.SWAP


def body_conv(cin, cout):
    b = 1.0 / math.sqrt(cin * 9)
    return {"scale": f32(cout, scale=0.2, offset=1.0), "shift": f32(cout, scale=0.1),
            "mean": f32(cout, scale=0.1),
            "var": (torch.rand(cout, dtype=torch.float32) + 0.5).double(),
            "weights": uni(cout, cin, 3, 3, bound=b)}


def run_body(x, p):
    h = F.conv2d(x, p["weights"], None, 2, 1)
    h = F.batch_norm(h, p["mean"], p["var"], p["scale"], p["shift"], training=False, eps=EPS)
    return F.relu(h)


def outconv(cin):
    """An OutConv whose class logits spread over a few units (random weights give
    ~0.1), so that detections above the threshold are many and distinct."""
    m = OutConv(cin, CLASSES, K, 0.0)
    m.before["clas_weights"] = m.before["clas_weights"] * LOGIT_GAIN
    m.p["clas_weights"] = m.before["clas_weights"].clone()
    return m


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: infer_ref.py X.f32 B OUT.bin")
    B = int(sys.argv[2])
    x = np.fromfile(sys.argv[1], dtype="<f4").reshape(B, HW, HW, 3)
    torch.manual_seed(4321)
    t = {}
    h = torch.from_numpy(x).permute(0, 3, 1, 2).double()
    cin = 3
    for i, cout in enumerate(BODY):
        p = body_conv(cin, cout)
        h = run_body(h, p)
        t.update({"L%d.%s" % (i, n): v for n, v in p.items()})
        cin = cout
    c = BODY[-1]
    s3 = StdConv(c, 32, 1, 0.4)
    h3 = s3(h, False)
    s4, o5 = StdConv(32, 32, 2, 0.4), outconv(32)
    h4 = s4(h3, False)
    c5, b5, _ = o5(h4)
    s7, o8 = StdConv(32, 32, 2, 0.4), outconv(32)
    h7 = s7(h4, False)
    c8, b8, _ = o8(h7)
    s10, o11 = StdConv(32, 32, 2, 0.4), outconv(32)
    h10 = s10(h7, False)
    c11, b11, _ = o11(h10)
    for i, m in ((3, s3), (4, s4), (7, s7), (10, s10), (5, o5), (8, o8), (11, o11)):
        t.update({"L%d.%s" % (i, n): v for n, v in m.before.items()})
    clas = torch.cat([flatten_conv(c5, K), flatten_conv(c8, K), flatten_conv(c11, K)], 1)
    bact = torch.cat([flatten_conv(b5, K), flatten_conv(b8, K), flatten_conv(b11, K)], 1)
    t["y"] = torch.cat([clas, bact], 2).detach()
    # the lesson's detection, in its box order, mapped back to ours
    anchors, _, grid_sizes, k = ssd_ref.make_anchors(
        [4, 2, 1], [0.75, 1., 1.3], [(1., 1.), (1., 0.5), (0.5, 1.)])
    assert k == K and anchors.shape[0] == clas.shape[1]
    for b in range(B):
        boxes = ssd_ref.actn_to_bb(bact[b].detach()[:, SWAP], anchors.double(),
                                   grid_sizes.double())[:, SWAP]
        scores = torch.sigmoid(clas[b].detach())
        rows = []
        for cl in range(CLASSES):
            s = scores[:, cl]
            idx = torch.nonzero(s > THRESH)[:, 0]
            if idx.numel() == 0:
                continue
            keep = torchvision.ops.nms(boxes[idx], s[idx], NMS)[:PER_CLASS]
            for j in idx[keep].tolist():
                rows.append([cl, j, float(s[j])] + boxes[j].tolist())
        rows.sort(key=lambda r: (r[0], r[1]))
        t["det.%d" % b] = np.array(rows, dtype=np.float64).reshape(-1, 7)
    save_archive(sys.argv[3], t)


if __name__ == "__main__":
    main()
