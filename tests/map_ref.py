#!/usr/bin/python3
"""Outside references for tests/test_map.c.

(a) voc_eval / voc_ap: a transcription of py-faster-rcnn's voc_eval.py (the
    Python port of the VOC devkit's VOCevaldet.m), 11-point and all-point,
    inclusive-pixel IoU, difficult objects. Two places follow the devkit where
    the port differs: detections are sorted stably (MATLAB's sort; the port
    used np.argsort's quicksort) and a TP needs ovmax >= 0.5 (the port: >).
    A flag switches to continuous IoU (no +1) for our other mode.
(b) pycocotools' COCOeval (bbox): AP@[.5:.95], AP50, AP75 per class and mean;
    difficult objects are given as iscrowd = 1.

  map_ref.py gt XML_DIR NAMES OUT      ground truth fixture from VOC XML
  map_ref.py gen GT_FIXTURE DIR        DIR/case.txt (objects + detections,
                                       deterministic) and DIR/ref.txt
  map_ref.py files GT_FIXTURE DIR      DIR/files_ref.txt from the result files
                                       the C test wrote in DIR/out

case.txt lines:  I image_id width height
                 G image cls difficult x1 y1 x2 y2       (VOC 1-based pixels)
                 D image cls score x1 y1 x2 y2
ref.txt lines:   metric class value    (class -1: the mean; nan: no objects)
"""
import contextlib
import io
import json
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np


# ----------------------------------------------------------- (a) VOC devkit
def voc_ap(rec, prec, use_07_metric=False):
    if use_07_metric:
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.
    else:
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.concatenate(([0.], prec, [0.]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def voc_eval(recs, dets, classname, ovthresh=0.5, use_07_metric=False, inclusive=True):
    """recs: {image: [{'name', 'bbox', 'difficult'}]}; dets: [(image, score, bbox)]
    of this class in file order."""
    one = 1. if inclusive else 0.
    class_recs = {}
    npos = 0
    for imagename, objs in recs.items():
        R = [obj for obj in objs if obj['name'] == classname]
        bbox = np.array([x['bbox'] for x in R]).reshape(-1, 4)
        difficult = np.array([x['difficult'] for x in R]).astype(bool)
        det = [False] * len(R)
        npos = npos + sum(~difficult)
        class_recs[imagename] = {'bbox': bbox, 'difficult': difficult, 'det': det}

    image_ids = [x[0] for x in dets]
    confidence = np.array([float(x[1]) for x in dets])
    BB = np.array([[float(z) for z in x[2]] for x in dets]).reshape(-1, 4)

    sorted_ind = np.argsort(-confidence, kind='stable')
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]

    nd = len(image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        R = class_recs[image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R['bbox'].astype(float)
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + one, 0.)
            ih = np.maximum(iymax - iymin + one, 0.)
            inters = iw * ih
            uni = ((bb[2] - bb[0] + one) * (bb[3] - bb[1] + one) +
                   (BBGT[:, 2] - BBGT[:, 0] + one) *
                   (BBGT[:, 3] - BBGT[:, 1] + one) - inters)
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax >= ovthresh:
            if not R['difficult'][jmax]:
                if not R['det'][jmax]:
                    tp[d] = 1.
                    R['det'][jmax] = 1
                else:
                    fp[d] = 1.
        else:
            fp[d] = 1.

    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    if npos == 0:
        return float('nan')
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return voc_ap(rec, prec, use_07_metric)


# ----------------------------------------------------------- (b) pycocotools
def coco_eval(images, gts, dets, n_classes):
    """images [(id, w, h)]; gts [(image, cls, difficult, box 1-based incl)];
    dets [(image, cls, score, xywh continuous)]. Per-class AP lists + means."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = {"images": [{"id": i + 1, "width": w, "height": h} for i, (_, w, h) in enumerate(images)],
          "categories": [{"id": c + 1, "name": str(c)} for c in range(n_classes)],
          "annotations": []}
    for k, (im, c, diff, b) in enumerate(gts):
        w, h = b[2] - b[0] + 1, b[3] - b[1] + 1
        gt["annotations"].append({"id": k + 1, "image_id": im + 1, "category_id": c + 1,
                                  "bbox": [b[0] - 1, b[1] - 1, w, h], "area": w * h,
                                  "iscrowd": int(diff)})
    res = [{"image_id": im + 1, "category_id": c + 1, "bbox": list(b), "score": s}
           for im, c, s, b in dets]
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt
        cg.createIndex()
        cd = cg.loadRes(res)
        ev = COCOeval(cg, cd, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    prec = ev.eval["precision"]  # (T, R, K, A, M)
    out = {"coco": [], "coco50": [], "coco75": []}
    for k in range(n_classes):
        for name, sl in (("coco", prec[:, :, k, 0, 2]), ("coco50", prec[0, :, k, 0, 2]),
                         ("coco75", prec[5, :, k, 0, 2])):
            v = sl[sl > -1]
            out[name].append(float(np.mean(v)) if v.size else float("nan"))
    means = {"coco": ev.stats[0], "coco50": ev.stats[1], "coco75": ev.stats[2]}
    return out, means


# ----------------------------------------------------------- fixtures
def read_fixture(path):
    images, gts = [], []
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "I":
            images.append((f[1], int(f[2]), int(f[3])))
        elif f[0] == "G":
            gts.append((int(f[1]), int(f[2]), int(f[3]), [float(v) for v in f[4:8]]))
    return images, gts


def make_gt(xml_dir, names_path, out):
    names = [l.strip() for l in open(names_path) if l.strip()]
    lines = ["# objects of voc2012_sample (VOC XML, 1-based inclusive pixels)",
             "# I image_id width height / G image cls difficult xmin ymin xmax ymax"]
    files = sorted(f for f in os.listdir(xml_dir) if f.endswith(".xml"))
    for i, f in enumerate(files):
        root = ET.parse(os.path.join(xml_dir, f)).getroot()
        size = root.find("size")
        lines.append("I %s %s %s" % (f[:-4], size.find("width").text, size.find("height").text))
        for o in root.findall("object"):
            bb = o.find("bndbox")
            d = o.find("difficult")
            box = [float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
            lines.append("G %d %d %d %s" % (i, names.index(o.find("name").text),
                                           int(d.text) if d is not None else 0,
                                           " ".join("%g" % v for v in box)))
    open(out, "w").write("\n".join(lines) + "\n")


def make_dets(images, gts, n_classes):
    """Deterministic detections: jittered hits, duplicates, wrong classes,
    misses and false boxes; integer pixel boxes, 6-decimal scores."""
    rng = np.random.RandomState(2018)
    dets = []
    by_img = {}
    for g in gts:
        by_img.setdefault(g[0], []).append(g)
    for im, (_, W, H) in enumerate(images):
        def clip_box(b):
            x1 = int(np.clip(round(b[0]), 1, W - 1))
            y1 = int(np.clip(round(b[1]), 1, H - 1))
            x2 = int(np.clip(round(b[2]), x1 + 1, W))
            y2 = int(np.clip(round(b[3]), y1 + 1, H))
            return [x1, y1, x2, y2]

        for _, c, _, b in by_img.get(im, []):
            w, h = b[2] - b[0] + 1, b[3] - b[1] + 1
            if rng.rand() < 0.8:  # a hit, more or less precise
                s = rng.choice([0.03, 0.08, 0.2])
                j = rng.randn(4) * s * np.array([w, h, w, h])
                dets.append((im, c, rng.rand() * 0.7 + 0.3, clip_box(np.array(b) + j)))
            if rng.rand() < 0.3:  # a duplicate
                j = rng.randn(4) * 0.1 * np.array([w, h, w, h])
                dets.append((im, c, rng.rand() * 0.8, clip_box(np.array(b) + j)))
            if rng.rand() < 0.15:  # the right place, a wrong class
                dets.append((im, int(rng.randint(n_classes)), rng.rand() * 0.6,
                             clip_box(np.array(b))))
        for _ in range(rng.randint(0, 4)):  # false boxes
            x1, y1 = rng.randint(1, W - 20), rng.randint(1, H - 20)
            bw, bh = rng.randint(10, W // 2), rng.randint(10, H // 2)
            dets.append((im, int(rng.randint(n_classes)), rng.rand() * 0.5,
                         clip_box([x1, y1, x1 + bw, y1 + bh])))
    return [(im, c, round(float(s), 6), b) for im, c, s, b in dets]


def reference(images, gts, dets, n_classes):
    """Every metric: {metric: [per class]} and {metric: mean}."""
    out, means = {}, {}
    for incl, tag in ((True, "px"), (False, "cont")):
        for m07, name in ((True, "voc11"), (False, "vocall")):
            key = "%s_%s" % (name, tag)
            aps = []
            for c in range(n_classes):
                recs = {im: [{"name": g[1], "bbox": g[3], "difficult": g[2]}
                             for g in gts if g[0] == im] for im in range(len(images))}
                d = [(im, s, b) for im, cc, s, b in dets if cc == c]
                aps.append(voc_eval(recs, d, c, 0.5, m07, incl))
            out[key] = aps
            v = [a for a in aps if not np.isnan(a)]
            means[key] = float(np.mean(v))
    cdets = [(im, c, s, [b[0] - 1, b[1] - 1, b[2] - b[0] + 1, b[3] - b[1] + 1])
             for im, c, s, b in dets]
    co, cm = coco_eval(images, gts, cdets, n_classes)
    out.update(co)
    means.update(cm)
    return out, means


def write_ref(path, out, means):
    with open(path, "w") as f:
        for k in out:
            for c, v in enumerate(out[k]):
                f.write("%s %d %.17g\n" % (k, c, v))
            f.write("%s -1 %.17g\n" % (k, means[k]))


def main():
    mode = sys.argv[1]
    if mode == "gt":
        make_gt(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    images, gts = read_fixture(sys.argv[2])
    d = sys.argv[3]
    n_classes = 20
    if mode == "gen":
        dets = make_dets(images, gts, n_classes)
        with open(os.path.join(d, "case.txt"), "w") as f:
            for im, (name, w, h) in enumerate(images):
                f.write("I %s %d %d\n" % (name, w, h))
            for im, c, diff, b in gts:
                f.write("G %d %d %d %s\n" % (im, c, diff, " ".join("%.17g" % v for v in b)))
            for im, c, s, b in dets:
                f.write("D %d %d %.6f %s\n" % (im, c, s, " ".join("%d" % v for v in b)))
        out, means = reference(images, gts, dets, n_classes)
        write_ref(os.path.join(d, "ref.txt"), out, means)
    elif mode == "files":
        # detections back from the C writers: VOC comp4 files (as the devkit
        # reads them) and the COCO results JSON
        names = {i: n for i, (n, _, _) in enumerate(images)}
        ids = {n: i for i, n in names.items()}
        dets = []
        for c in range(n_classes):
            for line in open(os.path.join(d, "out", "comp4_det_test_c%d.txt" % c)):
                f = line.split()
                dets.append((ids[f[0]], c, float(f[1]), [float(v) for v in f[2:6]]))
        out = {}
        for m07, name in ((True, "voc11_px"), (False, "vocall_px")):
            out[name] = []
            for c in range(n_classes):
                recs = {im: [{"name": g[1], "bbox": g[3], "difficult": g[2]}
                             for g in gts if g[0] == im] for im in range(len(images))}
                out[name].append(voc_eval(recs, [(im, s, b) for im, cc, s, b in dets if cc == c],
                                          c, 0.5, m07, True))
        means = {k: float(np.nanmean(v)) for k, v in out.items()}
        res = json.load(open(os.path.join(d, "out", "results.json")))
        cdets = [(r["image_id"] - 1, r["category_id"] - 1, r["score"], r["bbox"]) for r in res]
        co, cm = coco_eval(images, gts, cdets, n_classes)
        out.update(co)
        means.update(cm)
        write_ref(os.path.join(d, "files_ref.txt"), out, means)


if __name__ == "__main__":
    main()
