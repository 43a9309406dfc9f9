"""Detection-lesson heads against PyTorch: [stdconv], [outconv], [ssd] (BCE and
focal, one and two heads), [single], [multilabel].

Networks run in float64 from float32 inputs. The SSD loss uses the lesson's
own functions from tests/ssd_ref.py (anchors, actn_to_bb, jaccard,
map_to_ground_truth, BCELoss, FocalLoss), which work in the lesson's order
([y1, x1, y2, x2], activations (y, x, h, w)); our boxes and activations are
(x, y) first, so they are swapped on the way in (SWAP).

Layouts checked here (see src/layers/outconv.c and ssd.c):
  [outconv] output, per cell: (C+1)k class channels, then 4k box channels;
  [ssd] output (B, A, C+1+4): class logits, then box activations;
  [ssd] truth per image: [n, n x (x1, y1, x2, y2, class)], padded.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

from common import case, nhwc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests"))
import ssd_ref  # noqa: E402

torch.set_default_dtype(torch.float32)  # ssd_ref does the same on import
SWAP = ssd_ref.SWAP
MOMENTUM, EPS = 0.1, 1e-5


def f32(*shape, scale=1.0, offset=0.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale + offset).double()


def uni(*shape, bound=1.0):
    return (torch.rand(*shape, dtype=torch.float32) * 2 - 1).double() * bound


def net_head(B, H, W, C):
    return "[net]\nbatch=%d\nheight=%d\nwidth=%d\nchannels=%d\n" % (B, H, W, C)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# --- layers ---------------------------------------------------------------------------------
class StdConv:
    """conv 3x3 pad 1 (bias) -> ReLU -> BN -> Dropout (p=0 in training cases)."""

    def __init__(self, cin, filters, stride=1, drop=0.0):
        b = 1.0 / math.sqrt(cin * 9)
        self.stride, self.drop, self.filters = stride, drop, filters
        self.p = {"bias": leaf(uni(filters, bound=b)),
                  "weights": leaf(uni(filters, cin, 3, 3, bound=b)),
                  "scale": leaf(f32(filters, scale=0.2, offset=1.0)),
                  "shift": leaf(f32(filters, scale=0.1)),
                  "mean": f32(filters, scale=0.1),
                  "var": (torch.rand(filters, dtype=torch.float32) + 0.5).double()}
        self.before = {n: t.detach().clone() for n, t in self.p.items()}

    def cfg(self):
        return "\n[stdconv]\nfilters=%d\nstride=%d\ndropout=%g\n" % (self.filters, self.stride,
                                                                     self.drop)

    def __call__(self, x, train):
        p = self.p
        h = F.relu(F.conv2d(x, p["weights"], p["bias"], self.stride, 1))
        h = F.batch_norm(h, p["mean"], p["var"], p["scale"], p["shift"], training=train,
                         momentum=MOMENTUM, eps=EPS)
        assert not train or self.drop == 0  # a mask from our RNG cannot be reproduced
        return h  # dropout: identity in eval, p = 0 in training

    def tensors(self, i, train):
        t = {"L%d.%s" % (i, n): v for n, v in self.before.items()}
        for n in ("bias", "weights", "scale", "shift"):
            t["L%d.%s.grad" % (i, n)] = self.p[n].grad
        t["L%d.mean.after" % i] = self.p["mean"]
        t["L%d.var.after" % i] = self.p["var"]
        return t


class OutConv:
    def __init__(self, cin, classes, k, bias):
        b = 1.0 / math.sqrt(cin * 9)
        self.classes, self.k, self.bias = classes, k, bias
        fc, fb = (classes + 1) * k, 4 * k
        self.p = {"clas_bias": leaf(uni(fc, bound=b)),
                  "clas_weights": leaf(uni(fc, cin, 3, 3, bound=b)),
                  "box_bias": leaf(uni(fb, bound=b)),
                  "box_weights": leaf(uni(fb, cin, 3, 3, bound=b))}
        self.before = {n: t.detach().clone() for n, t in self.p.items()}

    def cfg(self):
        return "\n[outconv]\nclasses=%d\nanchors_per_cell=%d\nbias=%g\n" % (
            self.classes, self.k, self.bias)

    def __call__(self, x):
        """-> (clas NCHW, box NCHW), and our NHWC output (clas channels then box)."""
        p = self.p
        c = F.conv2d(x, p["clas_weights"], p["clas_bias"], 1, 1)
        b = F.conv2d(x, p["box_weights"], p["box_bias"], 1, 1)
        return c, b, torch.cat([c, b], 1)

    def tensors(self, i):
        t = {"L%d.%s" % (i, n): v for n, v in self.before.items()}
        for n in self.p:
            t["L%d.%s.grad" % (i, n)] = self.p[n].grad
        return t


def flatten_conv(x, k):
    """The lesson's flatten_conv: NCHW -> (B, H*W*k, channels/k)."""
    B, nf = x.shape[0], x.shape[1]
    return x.permute(0, 2, 3, 1).contiguous().view(B, -1, nf // k)


# --- stdconv, outconv ---------------------------------------------------------------------
def stdconv_case(name, B, C, H, W, layers, train):
    x = leaf(f32(B, C, H, W))
    h, c, mods, cfg = x, C, [], net_head(B, H, W, C)
    for filters, stride, drop in layers:
        m = StdConv(c, filters, stride, drop)
        mods.append(m)
        h = m(h, train)
        cfg += m.cfg()
        c = filters
    dy = f32(*h.shape)
    (h * dy).sum().backward()
    t = {"x": nhwc(x), "y": nhwc(h), "dy": nhwc(dy), "dx": nhwc(x.grad)}
    for i, m in enumerate(mods):
        t.update(m.tensors(i, train))
    return case(name, cfg, train, t)


def stdconv_shortcut_case():
    """stdconv -> stdconv -> [shortcut from=-2]: layer 1 adds into layer 0's delta."""
    B, C, H, W = 3, 4, 7, 9
    x = leaf(f32(B, C, H, W))
    m0, m1 = StdConv(C, 6, 1, 0.0), StdConv(6, 6, 1, 0.0)
    h0 = m0(x, True)
    h = h0 + m1(h0, True)
    dy = f32(*h.shape)
    (h * dy).sum().backward()
    cfg = net_head(B, H, W, C) + m0.cfg() + m1.cfg() + "\n[shortcut]\nfrom=-2\n"
    t = {"x": nhwc(x), "y": nhwc(h), "dy": nhwc(dy), "dx": nhwc(x.grad)}
    t.update(m0.tensors(0, True))
    t.update(m1.tensors(1, True))
    return case("stdconv_accum_shortcut", cfg, True, t)


def outconv_case(name, B, C, H, W, classes, k, bias):
    x = leaf(f32(B, C, H, W))
    m = OutConv(C, classes, k, bias)
    _, _, y = m(x)
    dy = f32(*y.shape)
    (y * dy).sum().backward()
    t = {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)}
    t.update(m.tensors(0))
    return case(name, net_head(B, H, W, C) + m.cfg(), True, t)


# --- ssd ------------------------------------------------------------------------------------
def random_objects(counts, classes, max_boxes, gen):
    """Per image n boxes ours [x1, y1, x2, y2] in [0, 1] and classes; truth rows."""
    B = len(counts)
    truth = torch.zeros(B, 1 + 5 * max_boxes)
    objs = []
    for b, n in enumerate(counts):
        lo = torch.rand(n, 2, generator=gen) * 0.65
        size = torch.rand(n, 2, generator=gen) * 0.45 + 0.08
        boxes = torch.cat([lo, (lo + size).clamp(max=1.0)], 1)
        cls = torch.randint(0, classes, (n,), generator=gen)
        truth[b, 0] = n
        for i in range(n):
            truth[b, 1 + 5 * i:1 + 5 * i + 4] = boxes[i]
            truth[b, 1 + 5 * i + 4] = float(cls[i])
        objs.append((boxes, cls))
    return truth, objs


def ssd_loss_ref(clas, bact, objs, grids, zooms, ratios, classes, focal):
    """clas (B, A, C+1), bact ours (B, A, 4) -> the lesson's summed loss. An image
    without objects: loc = 0, every anchor background (ours on purpose, DETECT.md)."""
    anchors, anchor_cnr, grid_sizes, _ = ssd_ref.make_anchors(grids, zooms, ratios)
    anchors, anchor_cnr, grid_sizes = anchors.double(), anchor_cnr.double(), grid_sizes.double()
    loss_f = ssd_ref.FocalLoss(classes) if focal else ssd_ref.BCELoss(classes)
    total = 0.0
    for b, (boxes, cls) in enumerate(objs):
        b_c, b_bb = clas[b], bact[b][:, SWAP]
        if boxes.shape[0] == 0:
            gt = torch.full((anchors.shape[0],), classes, dtype=torch.long)
            total = total + loss_f(b_c, gt)
            continue
        # the lesson's ssd_1_loss with sz = 1 and only the real boxes
        loc, cl = ssd_ref.ssd_1_loss(b_c, b_bb, boxes[:, SWAP].double(), cls.clone(),
                                     (anchors, anchor_cnr, grid_sizes), loss_f, 1)
        total = total + loc + cl
    return total


def ssd_single_head_case(name, focal):
    """input -> [outconv] 4x4 k=1 -> [ssd]; 3 images with 2, 3 and 1 objects."""
    B, Cin, g, classes, M = 3, 6, 4, 4, 5
    gen = torch.Generator().manual_seed(11 + focal)
    x = leaf(f32(B, Cin, g, g, scale=2.0))
    oc = OutConv(Cin, classes, 1, -1.0)
    c, bx, _ = oc(x)
    clas, bact = flatten_conv(c, 1), flatten_conv(bx, 1)
    truth, objs = random_objects([2, 3, 1], classes, M, gen)
    loss = ssd_loss_ref(clas, bact, objs, [g], [1.0], [(1.0, 1.0)], classes, focal)
    loss.backward()
    cfg = net_head(B, g, g, Cin) + oc.cfg() + (
        "\n[ssd]\nlayers=0\nclasses=%d\ngrids=4\nmax_boxes=%d\nloss=%s\n"
        % (classes, M, "focal" if focal else "bce"))
    t = {"x": nhwc(x), "truth": truth, "loss": loss.reshape(()), "dx": nhwc(x.grad),
         "y": torch.cat([clas, bact], 2)}
    t.update(oc.tensors(0))
    return case(name, cfg, True, t)


def ssd_two_head_case(name, focal, counts, W=4, H=4, Cin=5, grids_key="grids=2,1", seed=21):
    """[stdconv s2] -> [outconv] k=9; [route 0] -> [stdconv s2] -> [outconv] k=9;
    [ssd layers=1,4] with the lesson's zooms and ratios (k = 9). Layer 0's delta is
    written by two consumers (outconv, route). The default 4x4 input gives 2x2 and
    1x1 grids; a non-square one (W x H = 20 x 16) gives 10x8 and 5x4, the grids of a
    320x256 input's stride-32 and stride-64 heads. grids_key: the [ssd] grids= line,
    or "" to take each grid from its [outconv]'s shape. A square grid goes to the
    reference as its side (the lesson's form), any other as (W, H)."""
    B, classes, M = 3, 3, 4
    zooms, ratios = [0.75, 1.0, 1.3], [(1.0, 1.0), (1.0, 0.5), (0.5, 1.0)]
    gen = torch.Generator().manual_seed(seed + focal)
    x = leaf(f32(B, Cin, H, W))
    s0, s3 = StdConv(Cin, 8, 2, 0.0), StdConv(8, 8, 2, 0.0)
    o1, o4 = OutConv(8, classes, 9, -2.0), OutConv(8, classes, 9, -2.0)
    h0 = s0(x, True)
    c1, b1, _ = o1(h0)
    h3 = s3(h0, True)
    c4, b4, _ = o4(h3)
    grids = [(h0.shape[3], h0.shape[2]), (h3.shape[3], h3.shape[2])]
    assert grids[0] == ((W + 1) // 2, (H + 1) // 2)
    clas = torch.cat([flatten_conv(c1, 9), flatten_conv(c4, 9)], 1)
    bact = torch.cat([flatten_conv(b1, 9), flatten_conv(b4, 9)], 1)
    truth, objs = random_objects(counts, classes, M, gen)
    loss = ssd_loss_ref(clas, bact, objs, [g[0] if g[0] == g[1] else g for g in grids], zooms,
                        ratios, classes, focal)
    loss.backward()
    cfg = (net_head(B, H, W, Cin) + s0.cfg() + o1.cfg() + "\n[route]\nlayers=0\n" + s3.cfg()
           + o4.cfg() + "\n[ssd]\nlayers=1,4\nclasses=%d\n%s\nzooms=0.75,1,1.3\n"
           "ratios=1,1,1,0.5,0.5,1\nmax_boxes=%d\nloss=%s\n"
           % (classes, grids_key, M, "focal" if focal else "bce"))
    t = {"x": nhwc(x), "truth": truth, "loss": loss.reshape(()), "dx": nhwc(x.grad),
         "y": torch.cat([clas, bact], 2)}
    t.update(s0.tensors(0, True))
    t.update(o1.tensors(1))
    t.update(s3.tensors(3, True))
    t.update(o4.tensors(4))
    return case(name, cfg, True, t)


# --- single, multilabel ---------------------------------------------------------------------
def single_case():
    """[flatten] -> [connected 4+C] -> [single], non-square input (x scaled by W = 16,
    y by H = 12); image 2's box makes one coordinate error exactly 0 impossible."""
    B, H, W, Cin, classes = 4, 12, 16, 2, 5
    x = leaf(f32(B, Cin, H, W))
    n_in = Cin * H * W
    fw = leaf(uni(4 + classes, n_in, bound=3.0 / math.sqrt(n_in)))
    fb = leaf(uni(4 + classes, bound=1.0))
    o = F.linear(torch.flatten(x, 1), fw, fb)
    lo = torch.rand(B, 2, dtype=torch.float32) * 0.5
    box = torch.cat([lo, lo + torch.rand(B, 2, dtype=torch.float32) * 0.5], 1).double()
    cls = torch.tensor([3, 0, 4, 1])
    scale = torch.tensor([W, H, W, H], dtype=torch.float64)
    loss = F.l1_loss(torch.sigmoid(o[:, :4]) * scale, box * scale) + \
        20 * F.cross_entropy(o[:, 4:], cls)
    loss.backward()
    truth = torch.cat([box, cls.double().unsqueeze(1)], 1)
    y = torch.cat([torch.sigmoid(o[:, :4]), F.softmax(o[:, 4:], 1)], 1)
    cfg = net_head(B, H, W, Cin) + "\n[flatten]\n\n[connected]\noutput=%d\n\n[single]\n" \
        "classes=%d\n" % (4 + classes, classes)
    return case("single_flatten_fc", cfg, True,
                {"x": nhwc(x), "L1.weights": fw.detach(), "L1.bias": fb.detach(),
                 "truth": truth, "y": y, "loss": loss.reshape(()), "dx": nhwc(x.grad),
                 "L1.weights.grad": fw.grad, "L1.bias.grad": fb.grad})


def multilabel_case():
    B, C = 5, 7
    x = leaf(f32(B, C, 1, 1, scale=3.0))
    t = (torch.rand(B, C) > 0.6).double()
    loss = F.binary_cross_entropy_with_logits(x.view(B, C), t)
    loss.backward()
    cfg = net_head(B, 1, 1, C) + "\n[multilabel]\nclasses=%d\n" % C
    return case("multilabel_bce", cfg, True,
                {"x": nhwc(x), "truth": t, "y": torch.sigmoid(x.view(B, C)),
                 "loss": loss.reshape(()), "dx": nhwc(x.grad)})


def cases():
    return [
        stdconv_case("stdconv_train_p0", 3, 4, 9, 11, [(6, 1, 0.0)], True),
        stdconv_case("stdconv_two_s2_train", 3, 4, 9, 11, [(8, 2, 0.0), (5, 1, 0.0)], True),
        stdconv_case("stdconv_eval_p05", 3, 4, 9, 11, [(6, 2, 0.5)], False),
        stdconv_case("stdconv_wide_eval_p0", 2, 20, 5, 6, [(33, 1, 0.0)], False),
        stdconv_shortcut_case(),
        outconv_case("outconv_k2_bias", 3, 5, 4, 4, 3, 2, -3.0),
        outconv_case("outconv_k9_c20", 2, 16, 2, 3, 20, 9, -4.0),
        ssd_single_head_case("ssd_4x4_bce", False),
        ssd_single_head_case("ssd_4x4_focal", True),
        ssd_two_head_case("ssd_2head_k9_bce", False, [2, 3, 1]),
        ssd_two_head_case("ssd_2head_k9_focal_empty", True, [3, 0, 1]),
        ssd_two_head_case("ssd_10x8_5x4_bce", False, [2, 3, 1], 20, 16, 4, "grids=10x8,5x4", 31),
        ssd_two_head_case("ssd_10x8_5x4_focal_nogrids", True, [3, 0, 2], 20, 16, 4, "", 31),
        single_case(),
        multilabel_case(),
    ]
