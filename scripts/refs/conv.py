"""[convolutional]: conv2d (+ bias) -> [batch norm] -> activation against
torch.nn.functional, computed in float64 from float32 inputs, then cast.

Covers odd shapes (batch 3, 9x11 inputs, stride 2 on odd sizes), pad 0/1/3,
backward weights summed over several im2col chunks (2880 and 2304 pixels),
1x1/3x3/7x7 kernels, dilation and groups, bias on/off, BN in train and eval
(eval: our BN is folded into the conv; its backward recomputes the pre-BN
activations), every activation, channel counts below and above oneDNN's
16-wide blocks, two convs in a row (layer 1's input delta) and a conv whose
input delta is accumulated (a shortcut also consumes its input).
"""
import math

import torch
import torch.nn.functional as F

from common import case, nhwc

ACTS = {
    "linear": lambda x: x,
    "relu": F.relu,
    "leaky": lambda x: F.leaky_relu(x, 0.1),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}
MOMENTUM, EPS = 0.1, 1e-5


def f32(*shape, scale=1.0, offset=0.0):
    """float32 random numbers (what the C side sees), as float64 for the math."""
    return (torch.randn(*shape, dtype=torch.float32) * scale + offset).double()


def conv_spec(filters, size, stride=1, pad=0, dilation=1, groups=1, bias=True, bn=False,
              act="linear"):
    return dict(filters=filters, size=size, stride=stride, pad=pad, dilation=dilation,
                groups=groups, bias=bias, bn=bn, act=act)


def cfg_text(B, H, W, C, specs, extra=""):
    s = "[net]\nbatch=%d\nheight=%d\nwidth=%d\nchannels=%d\n" % (B, H, W, C)
    for sp in specs:
        s += "\n[convolutional]\nfilters=%d\nsize=%d\nstride=%d\npad=%d\n" % (
            sp["filters"], sp["size"], sp["stride"], sp["pad"])
        if sp["dilation"] != 1:
            s += "dilation=%d\n" % sp["dilation"]
        if sp["groups"] != 1:
            s += "groups=%d\n" % sp["groups"]
        if not sp["bias"]:
            s += "bias=0\n"
        if sp["bn"]:
            s += "batch_normalize=1\n"
        s += "activation=%s\n" % sp["act"]
    return s + extra


def make_params(C, sp):
    """Parameters of one layer, float64 leaf tensors (running stats plain)."""
    O, k, g = sp["filters"], sp["size"], sp["groups"]
    bound = 1.0 / math.sqrt(C // g * k * k)
    p = {"weights": (torch.rand(O, C // g, k, k, dtype=torch.float32) * 2 - 1).double() * bound}
    if sp["bias"]:
        p["bias"] = (torch.rand(O, dtype=torch.float32) * 2 - 1).double() * bound
    if sp["bn"]:
        p["scale"] = f32(O, scale=0.2, offset=1.0)
        p["shift"] = f32(O, scale=0.1)
        p["mean"] = f32(O, scale=0.1)
        p["var"] = (torch.rand(O, dtype=torch.float32) + 0.5).double()
    for n in ("weights", "bias", "scale", "shift"):
        if n in p:
            p[n].requires_grad_(True)
    return p


def conv_layer(h, sp, p, train):
    h = F.conv2d(h, p["weights"], p.get("bias"), sp["stride"], sp["pad"], sp["dilation"],
                 sp["groups"])
    if sp["bn"]:
        # updates p["mean"], p["var"] in place when training (unbiased var)
        h = F.batch_norm(h, p["mean"], p["var"], p["scale"], p["shift"], training=train,
                         momentum=MOMENTUM, eps=EPS)
    return ACTS[sp["act"]](h)


def build(name, B, C, H, W, specs, train, shortcut=None, tol=1e-4):
    """specs: conv layers in a chain. shortcut=(from, act): a [shortcut] layer after
    them adding the output of layer `from` (relative) to the last conv's."""
    x = f32(B, C, H, W).requires_grad_(True)
    params, before, outs, h, c = [], [], [], x, C
    for sp in specs:
        p = make_params(c, sp)
        params.append(p)
        # what the C side loads: the values before the forward moves the stats
        before.append({n: t.detach().clone() for n, t in p.items()})
        h = conv_layer(h, sp, p, train)
        outs.append(h)
        c = sp["filters"]
    tensors = {"x": nhwc(x)}
    extra = ""
    if shortcut:
        frm, act = shortcut
        h = ACTS[act](h + outs[len(outs) + frm])
        extra = "\n[shortcut]\nfrom=%d\nactivation=%s\n" % (frm, act)
    dy = f32(*h.shape)
    (h * dy).sum().backward()
    tensors.update({"y": nhwc(h), "dy": nhwc(dy), "dx": nhwc(x.grad)})
    for i, (sp, p, b) in enumerate(zip(specs, params, before)):
        for n, t in b.items():
            tensors["L%d.%s" % (i, n)] = t
        for n in ("weights", "bias", "scale", "shift"):
            if n not in p:
                continue
            # With BN in training mode the conv bias cancels: its gradient is
            # zero up to rounding, which a relative check cannot compare.
            if n == "bias" and sp["bn"] and train:
                continue
            tensors["L%d.%s.grad" % (i, n)] = p[n].grad
        if sp["bn"]:
            tensors["L%d.mean.after" % i] = p["mean"]
            tensors["L%d.var.after" % i] = p["var"]
    return case(name, cfg_text(B, H, W, C, specs, extra), train, tensors, tol)


def cases():
    S = conv_spec
    return [
        build("conv_k3s1p1_bias_linear", 3, 4, 9, 11, [S(5, 3, 1, 1)], True),
        build("conv_k1s2p0_nobias_relu", 3, 6, 9, 11, [S(8, 1, 2, 0, bias=False, act="relu")],
              True),
        build("conv_k7s2p3_leaky", 3, 3, 9, 11, [S(4, 7, 2, 3, act="leaky")], True),
        build("conv_k3s2p0_tanh", 3, 5, 9, 11, [S(6, 3, 2, 0, act="tanh")], True),
        build("conv_k3s1p3_sigmoid_eval", 3, 5, 9, 11, [S(7, 3, 1, 3, act="sigmoid")], False),
        build("conv_dil2_groups2_relu", 3, 4, 9, 11,
              [S(6, 3, 1, 2, dilation=2, groups=2, act="relu")], True),
        build("conv_bn_train_relu", 3, 4, 9, 11, [S(5, 3, 1, 1, bias=False, bn=True,
                                                      act="relu")], True),
        build("conv_bn_bias_train_leaky_s2", 3, 4, 9, 11,
              [S(6, 3, 2, 1, bn=True, act="leaky")], True),
        build("conv_bn_train_linear_k1", 3, 5, 9, 11, [S(3, 1, 1, 0, bias=False, bn=True)],
              True),
        build("conv_bn_eval_relu_s2", 3, 4, 9, 11, [S(6, 3, 2, 1, bias=False, bn=True,
                                                        act="relu")], False),
        build("conv_bn_bias_eval_linear_k1", 3, 5, 9, 11, [S(4, 1, 1, 0, bn=True)], False),
        build("conv_bn_eval_tanh_k7", 3, 3, 9, 11, [S(5, 7, 2, 3, bn=True, act="tanh")], False),
        # channel counts past oneDNN's 16-wide blocks (a different kernel path)
        build("conv_wide_bn_train_relu", 3, 24, 9, 11, [S(40, 3, 1, 1, bias=False, bn=True,
                                                           act="relu")], True),
        build("conv_wide_s2_bias_relu", 3, 32, 9, 11, [S(48, 3, 2, 1, act="relu")], True),
        build("conv_wide_bn_eval_relu", 3, 32, 9, 11, [S(33, 3, 1, 1, bias=False, bn=True,
                                                          act="relu")], False),
        build("conv_stem_bn_train_relu", 3, 3, 17, 15, [S(16, 7, 2, 3, bias=False, bn=True,
                                                           act="relu")], True),
        # more output pixels than one chunk of the im2col + GEMM backward
        # weights (2048 rows): the chunks' products are summed
        build("conv_chunks_bias_train", 2, 4, 40, 36, [S(6, 3, 1, 1, act="leaky")], True),
        build("conv_chunks_bn_s2_train", 3, 8, 64, 48, [S(8, 3, 2, 1, bias=False, bn=True,
                                                           act="relu")], True),
        # layer 1's input delta is layer 0's delta
        build("conv_two_train", 3, 4, 9, 11,
              [S(8, 3, 2, 1, bias=False, bn=True, act="relu"), S(5, 3, 1, 1, act="leaky")],
              True),
        build("conv_two_eval", 3, 4, 9, 11,
              [S(8, 3, 2, 1, bias=False, bn=True, act="relu"), S(5, 1, 1, 0, bn=True)],
              False),
        # layer 1 adds into layer 0's delta (the shortcut writes it first)
        build("conv_accum_shortcut", 3, 4, 9, 11,
              [S(6, 3, 1, 1, bias=False, bn=True, act="relu"),
               S(6, 3, 1, 1, bias=False, bn=True, act="linear")],
              True, shortcut=(-2, "relu")),
    ]
