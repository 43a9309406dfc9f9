#!/usr/bin/python3
"""PyTorch reference for tests/test_ssd_math.c and tests/test_nms.c.

The lesson's code (fastai 0.7 pascal-multi notebook) transcribed as docs/SEMANTICS.md §3-4
states it: anchors, hw2corners, actn_to_bb, jaccard, map_to_ground_truth,
ssd_1_loss / ssd_loss with BCE_Loss and FocalLoss, gradients by autograd.
It works in the lesson's box order [y1, x1, y2, x2] and activation order
(y, x, h, w); every tensor it writes is mapped to ours (detect/box.h:
[x1, y1, x2, y2], activations (x, y, w, h)) by swapping coordinate pairs, so
the mapping itself is under test.

Usage: ssd_ref.py OUT.bin [nms]
Archive: records of u32 name_len, name, u32 ndims, u32 dims[], float32 data.
"""
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float32)
SWAP = [1, 0, 3, 2]  # [y1,x1,y2,x2] <-> [x1,y1,x2,y2]; (y,x,h,w) <-> (x,y,w,h)


class Archive:
    def __init__(self, path):
        self.f = open(path, "wb")

    def put(self, name, t):
        a = np.ascontiguousarray(np.asarray(t.detach() if torch.is_tensor(t) else t,
                                            dtype=np.float32))
        nb = name.encode()
        self.f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", a.ndim))
        self.f.write(struct.pack("<%dI" % a.ndim, *a.shape))
        self.f.write(a.astype("<f4").tobytes())

    def close(self):
        self.f.close()


# ---------------------------------------------------------------- the lesson
def make_anchors(anc_grids, anc_zooms, anc_ratios):
    """The lesson's anchors; a grid is g (g x g, the lesson's) or (W, H): W
    columns, H rows (ours, docs/DETECT.md), the lesson's 1/g becoming 1/H for
    the first (row, y) coordinate and 1/W for the second (column, x). With
    every grid square, grid_sizes is the lesson's (A, 1); else (A, 2), lesson
    order [1/H, 1/W]."""
    wh = [(g, g) if np.isscalar(g) else tuple(g) for g in anc_grids]
    anchor_scales = [(anz * i, anz * j) for anz in anc_zooms for (i, j) in anc_ratios]
    k = len(anchor_scales)
    # rows (y) vary slowest: np.repeat over the W columns, np.tile over the H rows
    anc_y = np.concatenate([np.repeat(np.linspace(1 / (2 * h), 1 - 1 / (2 * h), h), w)
                            for w, h in wh])
    anc_x = np.concatenate([np.tile(np.linspace(1 / (2 * w), 1 - 1 / (2 * w), w), h)
                            for w, h in wh])
    anc_ctrs = np.repeat(np.stack([anc_y, anc_x], axis=1), k, axis=0)
    anc_sizes = np.concatenate([np.array([[o / h, p / w] for i in range(w * h)
                                          for o, p in anchor_scales]) for w, h in wh])
    grid_sizes = torch.tensor(np.concatenate([np.array([[1 / h, 1 / w] for i in range(w * h)
                                                        for o, p in anchor_scales])
                                              for w, h in wh])).float()
    if all(w == h for w, h in wh):
        grid_sizes = grid_sizes[:, :1]
    anchors = torch.tensor(np.concatenate([anc_ctrs, anc_sizes], axis=1)).float()
    anchor_cnr = hw2corners(anchors[:, :2], anchors[:, 2:])
    return anchors, anchor_cnr, grid_sizes, k


def ours_grid(grid_sizes):
    """grid_sizes (A, 1) or lesson (A, 2) -> ours (A, 2) [1/W, 1/H]."""
    return grid_sizes.expand(-1, 2)[:, [1, 0]]


def hw2corners(ctr, hw):
    return torch.cat([ctr - hw / 2, ctr + hw / 2], dim=1)


def actn_to_bb(actn, anchors, grid_sizes):
    actn_bbs = torch.tanh(actn)
    actn_centers = (actn_bbs[:, :2] / 2 * grid_sizes) + anchors[:, :2]
    actn_hw = (actn_bbs[:, 2:] / 2 + 1) * anchors[:, 2:]
    return hw2corners(actn_centers, actn_hw)


def intersect(box_a, box_b):
    max_xy = torch.min(box_a[:, None, 2:], box_b[None, :, 2:])
    min_xy = torch.max(box_a[:, None, :2], box_b[None, :, :2])
    inter = torch.clamp((max_xy - min_xy), min=0)
    return inter[:, :, 0] * inter[:, :, 1]


def box_sz(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def jaccard(box_a, box_b):
    inter = intersect(box_a, box_b)
    union = box_sz(box_a).unsqueeze(1) + box_sz(box_b).unsqueeze(0) - inter
    return inter / union


def map_to_ground_truth(overlaps):
    prior_overlap, prior_idx = overlaps.max(1)
    gt_overlap, gt_idx = overlaps.max(0)
    gt_overlap[prior_idx] = 1.99
    for i, o in enumerate(prior_idx):
        gt_idx[o] = i
    return gt_overlap, gt_idx


def one_hot_embedding(labels, num_classes):
    return torch.eye(num_classes)[labels]


def bce_with_logits_sum(x, t, w):
    # PyTorch 0.3's F.binary_cross_entropy_with_logits (the lesson's), written
    # out because today's refuses a weight that requires grad: in 0.3 the
    # weight was a plain factor, so autograd went through the focal weight.
    max_val = (-x).clamp(min=0)
    loss = x - x * t + max_val + ((-max_val).exp() + (-x - max_val).exp()).log()
    if w is not None:
        loss = loss * w
    return loss.sum()


class BCELoss:
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def __call__(self, pred, targ):
        t = one_hot_embedding(targ, self.num_classes + 1)
        t = t[:, :-1].contiguous()
        x = pred[:, :-1]
        w = self.get_weight(x, t)
        return bce_with_logits_sum(x, t, w) / self.num_classes

    def get_weight(self, x, t):
        return None


class FocalLoss(BCELoss):
    # docs/SEMANTICS.md §3: alpha .25, gamma 2; w from the live logits, autograd through it
    def get_weight(self, x, t):
        alpha, gamma = 0.25, 2.0
        p = x.sigmoid()
        pt = p * t + (1 - p) * (1 - t)
        w = alpha * t + (1 - alpha) * (1 - t)
        return w * (1 - pt).pow(gamma)


def get_y(bbox, clas, sz):
    bbox = bbox.view(-1, 4) / sz
    bb_keep = ((bbox[:, 2] - bbox[:, 0]) > 0).nonzero()[:, 0]
    return bbox[bb_keep], clas[bb_keep]


def ssd_1_loss(b_c, b_bb, bbox, clas, anc, loss_f, sz):
    anchors, anchor_cnr, grid_sizes = anc
    bbox, clas = get_y(bbox, clas, sz)
    a_ic = actn_to_bb(b_bb, anchors, grid_sizes)
    overlaps = jaccard(bbox.data, anchor_cnr.data)
    gt_overlap, gt_idx = map_to_ground_truth(overlaps)
    gt_clas = clas[gt_idx]
    pos = gt_overlap > 0.4
    pos_idx = torch.nonzero(pos)[:, 0]
    gt_clas[~pos] = loss_f.num_classes
    gt_bbox = bbox[gt_idx]
    loc_loss = ((a_ic[pos_idx] - gt_bbox[pos_idx]).abs()).mean()
    clas_loss = loss_f(b_c, gt_clas)
    return loc_loss, clas_loss


def ssd_loss(pred, targ, anc, loss_f, sz):
    terms = []
    total = 0.
    for b_c, b_bb, bbox, clas in zip(*pred, *targ):
        loc_loss, clas_loss = ssd_1_loss(b_c, b_bb, bbox, clas, anc, loss_f, sz)
        terms.append([loc_loss.item(), clas_loss.item()])
        total = total + loc_loss + clas_loss
    return total, terms


# ---------------------------------------------------------------- cases
def ours_boxes(t):
    return t[..., SWAP]


def write_math(ar):
    g = torch.Generator().manual_seed(1234)
    anchors, anchor_cnr, grid_sizes, k = make_anchors(
        [4, 2, 1], [0.75, 1., 1.3], [(1., 1.), (1., 0.5), (0.5, 1.)])
    A = anchors.shape[0]
    ar.put("anchors.ctr_size", ours_boxes(anchors))
    ar.put("anchors.corners", ours_boxes(anchor_cnr))
    ar.put("anchors.grid", ours_grid(grid_sizes))
    a4, c4, g4, _ = make_anchors([4], [1.], [(1., 1.)])
    ar.put("anchors4.ctr_size", ours_boxes(a4))
    ar.put("anchors4.corners", ours_boxes(c4))
    ar.put("anchors4.grid", ours_grid(g4))
    # non-square grids (W, H) = 10x8 then 5x4: a 320x256 input's stride-32
    # and stride-64 heads, the lesson's zooms and ratios; their decode
    ans, cns, gns, _ = make_anchors([(10, 8), (5, 4)], [0.75, 1., 1.3],
                                    [(1., 1.), (1., 0.5), (0.5, 1.)])
    ar.put("anchorsNS.ctr_size", ours_boxes(ans))
    ar.put("anchorsNS.corners", ours_boxes(cns))
    ar.put("anchorsNS.grid", ours_grid(gns))
    # anchor_sizes= on the same grids: k = 2 (w, h) image fractions per cell
    az, _, _, _ = make_anchors([(10, 8), (5, 4)], [1.], [(1., 1.), (1., 1.)])
    sizes = torch.tensor([[0.3, 0.1], [0.05, 0.4]])   # ours (w, h)
    az[:, 2:] = sizes[:, [1, 0]].repeat(az.shape[0] // 2, 1)
    ar.put("anchorsNSsz.ctr_size", ours_boxes(az))
    ar.put("anchorsNSsz.corners", ours_boxes(hw2corners(az[:, :2], az[:, 2:])))
    put_decode(ar, "decodeNS", torch.Generator().manual_seed(4321), ans, gns)

    # activations to boxes and back: loss = sum(corners * up)
    put_decode(ar, "decode", g, anchors, grid_sizes)

    # jaccard of random boxes with the anchors
    p = torch.rand(6, 2, 2, generator=g)
    lo, hi = p.min(1).values, p.max(1).values
    boxes_l = torch.cat([lo, hi], 1)                # lesson order, any
    ar.put("jaccard.boxes", ours_boxes(boxes_l))
    ar.put("jaccard.iou", jaccard(boxes_l, anchor_cnr))

    # matching: objects 1 and 2 share their best anchor (2, the later, wins
    # it); object 0 a large box with many anchors above 0.4
    objs = torch.tensor([[0.05, 0.05, 0.95, 0.9],    # lesson [y1,x1,y2,x2]
                         [0.10, 0.12, 0.35, 0.37],
                         [0.11, 0.11, 0.36, 0.35],
                         [0.6, 0.55, 0.72, 0.9]])
    ov = jaccard(objs, anchor_cnr)
    best = ov.max(1)[1]
    assert best[1] == best[2], "matching case must share a best anchor"
    gov, gidx = map_to_ground_truth(ov.clone())
    ar.put("match.objects", ours_boxes(objs))
    ar.put("match.overlaps", ov)
    ar.put("match.gt_overlap", gov)
    ar.put("match.gt_idx", gidx.float())
    ar.put("match.shared_anchor", best[1:2].float())

    # BCE and focal on random logits and targets (C = background)
    C = 20
    x = (torch.randn(A, C + 1, generator=g) * 3)
    tgt = torch.randint(0, C + 1, (A,), generator=g)
    ar.put("clas.logits", x)
    ar.put("clas.target", tgt.float())
    for name, lf in (("bce", BCELoss(C)), ("focal", FocalLoss(C))):
        xl = x.clone().requires_grad_(True)
        loss = lf(xl, tgt)
        loss.backward()
        if name == "bce":  # the transcription agrees with today's PyTorch
            ref = torch.nn.functional.binary_cross_entropy_with_logits(
                x[:, :-1], one_hot_embedding(tgt, C + 1)[:, :-1], reduction="sum") / C
            assert abs(ref.item() - loss.item()) <= 1e-5 * abs(ref.item()), (ref, loss)
        ar.put("clas.%s.loss" % name, loss.reshape(1))
        ar.put("clas.%s.grad" % name, xl.grad)

    # a padded batch: 3 images with 2, 4 and 1 objects, boxes in pixels of
    # sz = 224 as the lesson's targets, padding = zero boxes
    sz = 224
    B, M = 3, 4
    counts = [2, 4, 1]
    bbox = torch.zeros(B, M * 4)
    clas = torch.zeros(B, M, dtype=torch.long)
    for b in range(B):
        for i in range(counts[b]):
            y1, x1 = torch.randint(0, 150, (2,), generator=g).tolist()
            h, w = torch.randint(20, 74, (2,), generator=g).tolist()
            bbox[b, 4 * i:4 * i + 4] = torch.tensor([y1, x1, y1 + h, x1 + w]).float()
            clas[b, i] = int(torch.randint(0, C, (1,), generator=g))
    bc = torch.randn(B, A, C + 1, generator=g) * 2 - 1
    bb = torch.randn(B, A, 4, generator=g)            # ours (x, y, w, h)
    norm = torch.zeros(B, M, 4)
    for b in range(B):
        kept, _ = get_y(bbox[b], clas[b], sz)
        norm[b, :kept.shape[0]] = ours_boxes(kept)
    ar.put("batch.clas", bc)
    ar.put("batch.bact", bb)
    ar.put("batch.boxes", norm)
    ar.put("batch.classes", clas.float())
    ar.put("batch.n_boxes", torch.tensor(counts).float())
    anc = (anchors, anchor_cnr, grid_sizes)
    for name, lf in (("bce", BCELoss(C)), ("focal", FocalLoss(C))):
        c_l = bc.clone().requires_grad_(True)
        b_l = bb[:, :, SWAP].clone().requires_grad_(True)
        total, terms = ssd_loss((c_l, b_l), (bbox, clas), anc, lf, sz)
        total.backward()
        ar.put("batch.%s.loss" % name, total.reshape(1))
        ar.put("batch.%s.terms" % name, torch.tensor(terms))
        ar.put("batch.%s.dclas" % name, c_l.grad)
        ar.put("batch.%s.dbact" % name, b_l.grad[:, :, SWAP])

    # detections of one image: sigmoid, score > .25 per class, NMS .4 top 50
    # per class (torchvision), then the image's top 100 (ties: none here)
    import torchvision
    dc = torch.randn(A, C + 1, generator=g) * 1.5 - 1.5
    db = torch.randn(A, 4, generator=g) * 0.7        # ours
    boxes = ours_boxes(actn_to_bb(db[:, SWAP], anchors, grid_sizes))
    scores = torch.sigmoid(dc)
    out = []
    for c in range(C):
        s = scores[:, c]
        idx = torch.nonzero(s > 0.25)[:, 0]
        if idx.numel() == 0:
            continue
        keep = torchvision.ops.nms(boxes[idx], s[idx], 0.4)[:50]
        for j in idx[keep].tolist():
            out.append((float(s[j]), c, j))
    out.sort(key=lambda r: (-r[0], r[1], r[2]))
    out = out[:100]
    ar.put("detect.clas", dc)
    ar.put("detect.bact", db)
    ar.put("detect.out", torch.tensor([[c, j, s] for s, c, j in out], dtype=torch.float64))
    ar.put("detect.boxes", torch.stack([boxes[j] for _, _, j in out]))


def write_nms(ar):
    import torchvision
    for seed in range(6):
        g = torch.Generator().manual_seed(100 + seed)
        n = [50, 200, 400, 1000, 300, 5][seed]
        ncls = [1, 3, 5, 20, 2, 2][seed]
        thr = [0.4, 0.5, 0.3, 0.45, 0.7, 0.4][seed]
        ctr = torch.rand(n, 2, generator=g)
        size = torch.rand(n, 2, generator=g) * 0.3 + 0.02
        boxes = torch.cat([ctr - size / 2, ctr + size / 2], 1)  # x1, y1, x2, y2
        # distinct scores: a permutation, so no tie can decide an order
        scores = (torch.randperm(n, generator=g).float() + 1) / (n + 1)
        cls = torch.randint(0, ncls, (n,), generator=g)
        keep = torchvision.ops.batched_nms(boxes, scores, cls, thr)
        keep1 = torchvision.ops.nms(boxes, scores, thr)
        p = "nms%d." % seed
        ar.put(p + "boxes", boxes)
        ar.put(p + "scores", scores)
        ar.put(p + "cls", cls.float())
        ar.put(p + "thr", torch.tensor([thr]))
        ar.put(p + "keep", keep.float())
        ar.put(p + "keep_plain", keep1.float())


def put_decode(ar, prefix, gen, anchors, grids):
    """Random activations (ours (x, y, w, h)) decoded to corners against the
    anchors, and the gradient of sum(corners * up) (up: d loss / d ours corners)."""
    act = torch.rand(anchors.shape[0], 4, generator=gen) * 4 - 2
    up = torch.rand(anchors.shape[0], 4, generator=gen) * 2 - 1
    a_l = act[:, SWAP].clone().requires_grad_(True)
    cnr = actn_to_bb(a_l, anchors, grids)
    (cnr * up[:, SWAP]).sum().backward()
    ar.put(prefix + ".act", act)
    ar.put(prefix + ".up", up)
    ar.put(prefix + ".corners", ours_boxes(cnr))
    ar.put(prefix + ".grad", a_l.grad[:, SWAP])


def main():
    ar = Archive(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "nms":
        write_nms(ar)
    else:
        write_math(ar)
    ar.close()


if __name__ == "__main__":
    main()
