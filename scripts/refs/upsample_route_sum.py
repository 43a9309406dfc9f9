"""[upsample] (nearest, bilinear with align_corners=False) and [route]
mode=sum against PyTorch (F.interpolate, +). Odd sizes (5x7), factors 2 and
3, a layer summed twice, and an FPN-style merge: pooled, upsampled back and
added to its source (docs/LAYERS.md)."""
import torch
import torch.nn.functional as F

from common import case, nhwc


def net(b, h, w, c):
    return "[net]\nbatch=%d\nheight=%d\nwidth=%d\nchannels=%d\n" % (b, h, w, c)


def run(name, cfg, x, y):
    dy = torch.randn_like(y)
    y.backward(dy)
    return case(name, cfg, True,
                {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)}, tol=1e-5)


def upsample_cases():
    out = []
    for mode in ("nearest", "bilinear"):
        for s in (2, 3):
            x = torch.randn(3, 4, 5, 7, requires_grad=True)
            y = F.interpolate(torch.tanh(x), scale_factor=s, mode=mode,
                              align_corners=False if mode == "bilinear" else None)
            cfg = net(3, 5, 7, 4) + """
[activation]
activation=tanh

[upsample]
stride=%d
mode=%s
""" % (s, mode)
            out.append(run("upsample_%s_x%d" % (mode, s), cfg, x, y))
    # stride=1 is a copy; default mode is nearest, default stride 2
    x = torch.randn(2, 3, 4, 3, requires_grad=True)
    y = F.interpolate(F.interpolate(torch.tanh(x), scale_factor=1, mode="nearest"),
                      scale_factor=2, mode="nearest")
    cfg = net(2, 4, 3, 3) + """
[activation]
activation=tanh

[upsample]
stride=1

[upsample]
"""
    out.append(run("upsample_defaults", cfg, x, y))
    return out


def route_sum_cases():
    out = []
    # sigmoid(tanh x) + tanh x, then tanh x + that + tanh x (layer 0 listed twice)
    x = torch.randn(3, 4, 7, 9, requires_grad=True)
    a = torch.tanh(x)
    b = torch.sigmoid(a)
    r = b + a
    y = (a + r) + a
    cfg = net(3, 7, 9, 4) + """
[activation]
activation=tanh

[activation]
activation=sigmoid

[route]
layers=-1,0
mode=sum

[route]
layers=0,-1,0
mode=sum
"""
    out.append(run("route_sum_dup", cfg, x, y))
    # FPN merge: tanh x (6x8) -> maxpool 2 (3x4) -> bilinear x2 -> + tanh x
    x = torch.randn(2, 5, 6, 8, requires_grad=True)
    a = torch.tanh(x)
    p = F.max_pool2d(a, 2, 2)
    u = F.interpolate(p, scale_factor=2, mode="bilinear", align_corners=False)
    y = u + a
    cfg = net(2, 6, 8, 5) + """
[activation]
activation=tanh

[maxpool]
size=2
stride=2

[upsample]
stride=2
mode=bilinear

[route]
layers=-1,0
mode=sum
"""
    out.append(run("route_sum_fpn_merge", cfg, x, y))
    return out


def cases():
    return upsample_cases() + route_sum_cases()
