#!/usr/bin/python3
"""PyTorch reference for docs/SEMANTICS.md §7 / tests/learn_bccd.sh: the SSD of
cfg/ssd-bccd.cfg trained from scratch on BCCD with the same recipe, scored as
`detector valid -iou continuous -thresh 0.05 -nms 0.45` scores ours, so the
two numbers can be compared on the same machine.

Recommended command (PyTorch at its best on this CPU, docs/BENCHMARKS.md: jemalloc with
decay off, threads pinned; Debian's python3-torch 1.13, not a pip torch):

  MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
  OMP_PROC_BIND=true OMP_PLACES=cores OMP_NUM_THREADS=2 \
  /usr/bin/python3 scripts/ref_bccd_torch.py --epochs 37 --minutes 12

(the same budget as `MINUTES=12 sh tests/learn_bccd.sh`; give --epochs the
number of epochs 12 minutes hold here, since the CLR schedule spans --epochs
and --minutes only cuts it short, as ours: cfg/ssd-bccd.cfg's `epochs=`).

What it runs (docs/SEMANTICS.md §1, 2, 3, 5 and 7; cfg/ssd-bccd.cfg + cfg/resnet34.cfg):
- model: torchvision resnet34 (weights=None: from scratch, torchvision's own
  init) without avgpool/fc, relu, dropout .4, StdConv(512,256,s1) on the 7x7
  map -> OutConv, StdConv s2 (4x4) -> OutConv, StdConv s2 (2x2) -> OutConv,
  StdConv s2 (1x1) -> OutConv; StdConv dropout .4, k = 9, class bias -4;
  outputs concatenated 7x7, 4x4, 2x2, 1x1 (630 anchors). The body, StdConv
  and OutConv come from scripts/bench_gpu.py's torch_model (the lesson's
  head, grids 4,2,1); this adds the OutConv on the 7x7 map.
  `--init conv-default` re-initialises every body conv with PyTorch's Conv2d
  default (kaiming_uniform a=sqrt(5)), which is what our framework does for
  every conv (src/layers/convolutional.c); torchvision's resnet34 uses
  kaiming_normal(fan_out) for its convs.
- anchors, matching, focal loss (alpha .25, gamma 2, gradient through the
  weight), the SSD loss summed over the images of a batch: tests/ssd_ref.py
  (the lesson's code, its box order [y1, x1, y2, x2] and activations
  (y, x, h, w); we convert boxes only at the data and scoring ends).
- data: ../shared/data/bccd (VOC), train 205 / val 87, classes from
  data/bccd.names; VOC boxes as continuous corners [xmin-1, ymin-1, xmax, ymax]
  clipped to the image. Images decoded by OpenCV at half scale in the DCT
  domain when at least twice 224 (IMREAD_REDUCED_COLOR_2, as our loader), then
  squashed to 224x224 with INTER_LINEAR (as ours; fastai 0.7's NoCrop used
  INTER_AREA); PIL (draft + bilinear) when cv2 is missing. The resized uint8
  images are cached in memory once (resize is deterministic and comes before
  the random transforms, so this changes no pixel). Flip, lighting and
  normalisation then go through one 256-entry table per channel into NHWC
  floats (as ours), in the main process: ~60 ms per batch of 16 measured on
  a loaded machine, a few % of a step.
  Train: horizontal flip p .5 (boxes x -> 1 - x), then lighting b' ~ U(-.05,.05),
  c' ~ U(-.05,.05), k = 1+c' or 1/(1-c'), x -> clip((x-mean)*k + mean + b', 0, 1)
  with the mean over the whole 224x224 picture, then ImageNet normalisation.
  DataLoader(shuffle=True, num_workers=0), drop_last=False by default: fastai
  0.7's ImageData.get_dl built its DataLoader without drop_last (default
  False), so an epoch is ceil(205/16) = 13 steps, the last of 13 images.
  `--drop-last` gives ours (src/train/train.c drops the partial batch: 12 steps,
  192 images).
- optimiser: Adam (0.9, 0.999, eps 1e-8, no weight decay), lr 3e-3 on every
  parameter, CLR (20, 10) over epochs * steps-per-epoch iterations exactly as
  docs/SEMANTICS.md §5 / fastai 0.7's CircularLR (iteration j uses lr(j), j from 0).
- per epoch: epoch, train loss (debiased EMA 0.98 at epoch end), elapsed
  seconds since training started (after the image cache and the model are
  built, as src/train/train.c's clock; the setup time is printed first), images/s
  of that epoch's training steps, lr. --minutes uses the same clock and stops
  after the step that passes it (mid-epoch), then scores, as ours.
- scoring (end, and every --valid-every epochs; its time counts against
  --minutes, as ours): eval mode, sigmoid scores, per class score > 0.05,
  torchvision NMS at IoU 0.45 keeping at most 50 per class (our default
  max_per_class, which learn_bccd.sh keeps), then the image's top 100 (ties:
  lower class, then lower anchor); boxes clipped to [0, 1] and scaled to the
  source image (as src/eval/valid.c); VOC AP per class (tests/map_ref.py's devkit
  transcription, continuous IoU, IoU >= 0.5, difficult ignored) 11-point and
  all-point, mean over classes with objects; COCO AP when pycocotools is
  installed.
"""
import argparse
import math
import os
import random
import sys
import time
import xml.etree.ElementTree as ET

T_START = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from bench_gpu import torch_model  # noqa: E402
import map_ref  # noqa: E402
import ssd_ref  # noqa: E402

try:
    import cv2
except ImportError:  # python3-opencv missing: PIL
    cv2 = None
    from PIL import Image

SZ = 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
SWAP = [1, 0, 3, 2]  # [x1, y1, x2, y2] <-> the lesson's [y1, x1, y2, x2]


# ------------------------------------------------------------------ data
def read_voc(root, split, names):
    ids = [l.strip() for l in open(os.path.join(root, "ImageSets", "Main", split + ".txt")) if l.strip()]
    items = []
    for i in ids:
        tree = ET.parse(os.path.join(root, "Annotations", i + ".xml")).getroot()
        objs = []
        for o in tree.findall("object"):
            name = o.find("name").text.strip()
            if name not in names:
                continue
            bb = o.find("bndbox")
            b = [float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
            d = o.find("difficult")
            diff = int(d.text) if d is not None and d.text is not None else 0
            objs.append((names.index(name), diff, [b[0] - 1, b[1] - 1, b[2], b[3]]))
        items.append({"id": i, "path": os.path.join(root, "JPEGImages", i + ".jpg"), "objs": objs})
    return items


def load_resized(path):
    """(224x224x3 uint8 RGB, source W, source H)"""
    if cv2 is not None:
        im = cv2.imread(path, cv2.IMREAD_COLOR)
        H, W = im.shape[:2]
        if W >= 2 * SZ and H >= 2 * SZ:  # our loader's DCT-domain half-scale decode
            im = cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_2)
        im = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
        return cv2.resize(im, (SZ, SZ), interpolation=cv2.INTER_LINEAR), W, H
    im = Image.open(path)
    W, H = im.size
    im.draft("RGB", (W // 2, H // 2) if W >= 2 * SZ and H >= 2 * SZ else (W, H))
    im = im.convert("RGB").resize((SZ, SZ), Image.BILINEAR)
    return np.asarray(im, np.uint8), W, H


class BCCD(torch.utils.data.Dataset):
    def __init__(self, items, train, seed):
        self.train = train
        self.rng = random.Random(seed)
        self.data = []
        for it in items:
            im, W, H = load_resized(it["path"])
            boxes, cls, diff, gt = [], [], [], []
            for c, d, b in it["objs"]:
                b = [min(max(b[0], 0), W), min(max(b[1], 0), H), min(max(b[2], 0), W), min(max(b[3], 0), H)]
                if b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
                    continue
                boxes.append([b[0] / W, b[1] / H, b[2] / W, b[3] / H])
                cls.append(c)
                diff.append(d)
                gt.append(b)
            self.data.append((im, np.array(boxes, np.float32).reshape(-1, 4), np.array(cls, np.int64),
                              W, H, diff, gt))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        """(224x224x3 float32 HWC, boxes [x1, y1, x2, y2] in [0, 1], classes, i)"""
        im, boxes, cls = self.data[i][:3]
        boxes = boxes.copy()
        v = np.arange(256, dtype=np.float32) / 255.0
        if self.train:
            if self.rng.random() < 0.5:  # flip: x -> W - x
                im = im[:, ::-1]
                boxes[:, [0, 2]] = 1.0 - boxes[:, [2, 0]]
            bp = self.rng.uniform(-0.05, 0.05)
            cp = self.rng.uniform(-0.05, 0.05)
            k = 1 + cp if cp >= 0 else 1 / (1 - cp)
            m = np.float32(im.mean(dtype=np.float64) / 255.0)  # whole picture, all channels
            v = np.clip((v - m) * np.float32(k) + m + np.float32(bp), 0, 1)
        # lighting + normalisation through one 256-entry table per channel (as ours)
        lut = ((v[None, :] - MEAN[:, None]) / STD[:, None]).astype(np.float32)
        x = lut[np.arange(3)[None, None, :], im]
        return x, boxes, cls, i


def collate(batch):
    # NHWC memory seen as NCHW: channels_last without a copy
    x = torch.from_numpy(np.stack([b[0] for b in batch])).permute(0, 3, 1, 2)
    M = max(1, max(len(b[1]) for b in batch))
    bbox = torch.zeros(len(batch), M, 4)
    clas = torch.zeros(len(batch), M, dtype=torch.long)
    for i, (_, bx, c, _) in enumerate(batch):
        if len(bx):
            bbox[i, :len(bx)] = torch.from_numpy(bx)[:, SWAP]  # the lesson's order
            clas[i, :len(bx)] = torch.from_numpy(c)
    return x, bbox, clas, [b[3] for b in batch]


# ------------------------------------------------------------------ model
class SSD7(nn.Module):
    """cfg/ssd-bccd.cfg: bench_gpu.torch_model's body + head, plus an OutConv
    on the stride-1 7x7 map; outputs 7x7, 4x4, 2x2, 1x1 (630 anchors)."""

    def __init__(self, C, k):
        super().__init__()
        base = torch_model(torch, nn, C=C, k=k)
        self.body, self.head = base[0], base[1]
        self.out0 = type(self.head.out1)(256)  # the same OutConv class (C, k, bias -4)

    def forward(self, x):
        h = self.head
        x = h.sconv0(h.drop(torch.relu(self.body(x))))
        c0, b0 = self.out0(x)
        x = h.sconv1(x)
        c1, b1 = h.out1(x)
        x = h.sconv2(x)
        c2, b2 = h.out2(x)
        x = h.sconv3(x)
        c3, b3 = h.out3(x)
        return torch.cat([c0, c1, c2, c3], 1), torch.cat([b0, b1, b2, b3], 1)


def ssd_loss(pred, bbox, clas, anc, loss_f):
    """ssd_ref.ssd_loss (the lesson's: sum over images of loc + clas), with an
    image without objects giving loc 0 and all anchors background (ours)."""
    total = 0.
    for b_c, b_bb, bx, cl in zip(*pred, bbox, clas):
        if ((bx[:, 2] - bx[:, 0]) > 0).any():
            loc, cls = ssd_ref.ssd_1_loss(b_c, b_bb, bx, cl, anc, loss_f, 1.0)
        else:
            loc = b_bb.sum() * 0
            cls = loss_f(b_c, torch.full((b_c.shape[0],), loss_f.num_classes, dtype=torch.long))
        total = total + loc + cls
    return total


def clr_lr(j, n, lr_max, div=20, cut_div=10):
    cut = max(1, n // cut_div)
    pct = j / cut if j <= cut else 1 - (j - cut) / (cut * (cut_div - 1))
    return lr_max * (1 + pct * (div - 1)) / div


# ------------------------------------------------------------------ scoring
def detect(clas, bact, anc, C, thresh, nms, per_class, top):
    """one image: [(score, class, anchor, [x1, y1, x2, y2] in [0, 1])]"""
    anchors, _, grid_sizes = anc
    boxes = ssd_ref.actn_to_bb(bact, anchors, grid_sizes)[:, SWAP]
    scores = torch.sigmoid(clas[:, :C])
    out = []
    for c in range(C):
        s = scores[:, c]
        idx = torch.nonzero(s > thresh)[:, 0]
        if idx.numel() == 0:
            continue
        keep = torchvision.ops.nms(boxes[idx], s[idx], nms)[:per_class]
        for j in idx[keep].tolist():
            out.append((float(s[j]), c, j, boxes[j].clamp(0, 1).tolist()))
    out.sort(key=lambda r: (-r[0], r[1], r[2]))
    return out[:top]


def evaluate(model, ds, anc, C, args):
    model.eval()
    dl = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=False, collate_fn=collate)
    dets = []  # (image, class, score, [x1, y1, x2, y2] source pixels)
    with torch.no_grad():
        for x, _, _, idx in dl:
            cl, bb = model(x)
            for i, im in enumerate(idx):
                W, H = ds.data[im][3], ds.data[im][4]
                for s, c, _, b in detect(cl[i], bb[i], anc, C, args.thresh, args.nms, 50, 100):
                    dets.append((im, c, s, [b[0] * W, b[1] * H, b[2] * W, b[3] * H]))
    model.train()
    recs = {im: [{"name": c, "bbox": b, "difficult": d}
                 for c, d, b in zip(ds.data[im][2].tolist(), ds.data[im][5], ds.data[im][6])]
            for im in range(len(ds))}
    res = {}
    for m07, key in ((True, "11"), (False, "all")):
        res[key] = [map_ref.voc_eval(recs, [(im, s, b) for im, c, s, b in dets if c == k], k, 0.5, m07,
                                     inclusive=False) for k in range(C)]
    res["map11"] = float(np.nanmean(res["11"]))
    res["mapall"] = float(np.nanmean(res["all"]))
    res["n_dets"] = len(dets)
    try:
        images = [(str(im), ds.data[im][3], ds.data[im][4]) for im in range(len(ds))]
        gts = [(im, c, d, [b[0] + 1, b[1] + 1, b[2], b[3]])  # map_ref wants 1-based inclusive
               for im in range(len(ds))
               for c, d, b in zip(ds.data[im][2].tolist(), ds.data[im][5], ds.data[im][6])]
        cd = [(im, c, s, [b[0], b[1], b[2] - b[0], b[3] - b[1]]) for im, c, s, b in dets]
        _, means = map_ref.coco_eval(images, gts, cd, C)
        res["coco"] = float(means["coco"])
    except Exception as e:  # pycocotools missing or no detections
        res["coco"] = None
        res["coco_err"] = str(e)
    return res


def print_eval(res, names, t, label, split="val"):
    per = "  ".join("%s %.4f/%.4f" % (n, a, b) for n, a, b in zip(names, res["11"], res["all"]))
    coco = "%.4f" % res["coco"] if res["coco"] is not None else "n/a"
    print("%s: %.1f s: " % (label, t) + split + " mAP@.5 11-point %.4f, all-point %.4f (continuous IoU; %d detections); "
          "per class 11/all: %s; COCO AP %s" % (res["map11"], res["mapall"], res["n_dets"], per, coco),
          flush=True)


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "bccd", "BCCD"))
    ap.add_argument("--names", default=os.path.join(ROOT, "data", "bccd.names"))
    ap.add_argument("--epochs", type=int, default=37, help="epochs the CLR schedule spans (37)")
    ap.add_argument("--minutes", type=float, default=0, help="stop at this wall clock (0: none)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drop-last", action="store_true", help="drop the partial batch (ours); default: fastai 0.7's keep")
    ap.add_argument("--init", choices=["torchvision", "conv-default"], default="torchvision")
    ap.add_argument("--valid-every", type=int, default=0, help="also score every N epochs (0: only at the end)")
    ap.add_argument("--train-limit", type=int, default=0, help="smoke tests: only the first N train images")
    ap.add_argument("--thresh", type=float, default=0.05)
    ap.add_argument("--nms", type=float, default=0.45)
    ap.add_argument("--test", action="store_true", help="also score the test split at the end")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    names = [l.strip() for l in open(args.names) if l.strip()]
    C, k = len(names), 9
    train_items = read_voc(args.data, "train", names)
    if args.train_limit > 0:
        train_items = train_items[:args.train_limit]
    train_ds = BCCD(train_items, True, args.seed)
    val_ds = BCCD(read_voc(args.data, "val", names), False, args.seed)
    g = torch.Generator()
    g.manual_seed(args.seed)
    train_dl = torch.utils.data.DataLoader(train_ds, batch_size=args.batch, shuffle=True, drop_last=args.drop_last,
                                           collate_fn=collate, num_workers=0, generator=g)

    anchors, anchor_cnr, grid_sizes, kk = ssd_ref.make_anchors(
        [7, 4, 2, 1], [0.75, 1., 1.3], [(1., 1.), (1., 0.5), (0.5, 1.)])
    assert kk == k and anchors.shape[0] == 630
    anc = (anchors, anchor_cnr, grid_sizes)
    loss_f = ssd_ref.FocalLoss(C)

    model = SSD7(C, k)
    if args.init == "conv-default":
        for m in model.body.modules():
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()
    model = model.to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)

    steps = len(train_dl)
    n = steps * args.epochs
    t_setup = time.time() - T_START
    print("ref_bccd_torch: torch %s, %d threads, channels_last, %s, cv2 %s; train %d / val %d images, "
          "batch %d, %d steps per epoch (drop_last=%s), CLR (20,10) over %d epochs = %d steps, lr %g, "
          "init %s; setup %.1f s (cache + model)" % (
              torch.__version__, torch.get_num_threads(),
              "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "glibc malloc",
              cv2.__version__ if cv2 is not None else "missing (PIL)", len(train_ds), len(val_ds),
              args.batch, steps, args.drop_last, args.epochs, n, args.lr, args.init, t_setup), flush=True)
    print("epoch  trn_loss  elapsed_s  img/s  lr", flush=True)

    t0 = time.time()  # the clock of --minutes and of elapsed_s: training start, as src/train/train.c
    deadline = t0 + args.minutes * 60 if args.minutes > 0 else math.inf
    j, avg, ema_n, epochs_done, stopped = 0, 0.0, 0, 0.0, False
    lr = clr_lr(0, n, args.lr)
    for ep in range(args.epochs):
        t_ep, seen, done = time.time(), 0, 0
        for x, bbox, clas, _ in train_dl:
            lr = clr_lr(j, n, args.lr)
            for pg in opt.param_groups:
                pg["lr"] = lr
            pred = model(x)
            loss = ssd_loss(pred, bbox, clas, anc, loss_f)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lv = loss.item()
            if not math.isfinite(lv):
                sys.exit("ref_bccd_torch: loss %r at iteration %d" % (lv, j))
            ema_n += 1
            avg = 0.98 * avg + 0.02 * lv
            j += 1
            done += 1
            seen += x.shape[0]
            if time.time() >= deadline:
                stopped = True
                break
        t_train = time.time() - t_ep
        epochs_done = ep + done / steps
        print("%5s  %8.4f  %9.1f  %5.2f  %.3g" % (
            "%d" % (ep + 1) if done == steps else "%.2f" % epochs_done,
            avg / (1 - 0.98 ** ema_n), time.time() - t0, seen / t_train, lr), flush=True)
        if stopped:
            print("ref_bccd_torch: --minutes %g reached after %d steps (epoch %.2f of %d)" % (
                args.minutes, j, epochs_done, args.epochs), flush=True)
            break
        if args.valid_every and (ep + 1) % args.valid_every == 0 and ep + 1 < args.epochs:
            print_eval(evaluate(model, val_ds, anc, C, args), names, time.time() - t0,
                       "epoch %d" % (ep + 1))
            if time.time() >= deadline:
                break
    t_train_end = time.time() - t0
    res = evaluate(model, val_ds, anc, C, args)
    t_end = time.time() - t0
    print_eval(res, names, t_end, "final")
    if args.test:
        test_ds = BCCD(read_voc(args.data, "test", names), False, args.seed)
        print_eval(evaluate(model, test_ds, anc, C, args), names, time.time() - t0, "final", "test")
    ep_str = "%d" % epochs_done if epochs_done == int(epochs_done) else "%.2f" % epochs_done
    print("ref_bccd_torch: %s epochs in %.0f s; val mAP@.5 11-point %.4f, all-point %.4f "
          "(scoring took %.0f s more)" % (ep_str, t_train_end, res["map11"], res["mapall"],
                                          t_end - t_train_end), flush=True)


if __name__ == "__main__":
    main()
