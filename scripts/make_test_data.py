#!/usr/bin/env python3
"""Regenerates tests/data/real/ (the real-data subsets the tests use) from the
full data sets in ../shared/data (or the folder given with --src).

Original files are copied byte for byte (images, VOC XML, licences); the only
derived file is voc2012_sample's COCO JSON, filtered here with the json module
to the chosen images and their annotations (everything else kept as is).
What is chosen, and why, is in tests/data/real/README.md; keep the two in step.

  /usr/bin/python3 scripts/make_test_data.py [--src DIR] [--check]

--check: write nothing; exit 1 if tests/data/real differs from what this
script would write (a missing, extra or different file).
"""
import argparse
import filecmp
import json
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "real")
SETS = ("bccd", "microcontrollers", "voc2012_sample")


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)


def n_objects(xml_path):
    return len(ET.parse(xml_path).getroot().findall("object"))


def make_bccd(src, dst):
    # the first 40 ids of train.txt (test_data_loader batches 40 of them) and
    # the first 8 of val.txt, in the lists' own order
    s, d = os.path.join(src, "bccd"), os.path.join(dst, "bccd")
    copy(os.path.join(s, "LICENSE"), os.path.join(d, "LICENSE"))
    for split, n in (("train", 40), ("val", 8)):
        with open(os.path.join(s, "BCCD/ImageSets/Main/%s.txt" % split)) as f:
            ids = [line.strip() for line in f if line.strip()][:n]
        for i in ids:
            copy(os.path.join(s, "BCCD/JPEGImages", i + ".jpg"),
                 os.path.join(d, "BCCD/JPEGImages", i + ".jpg"))
            copy(os.path.join(s, "BCCD/Annotations", i + ".xml"),
                 os.path.join(d, "BCCD/Annotations", i + ".xml"))
        os.makedirs(os.path.join(d, "BCCD/ImageSets/Main"), exist_ok=True)
        with open(os.path.join(d, "BCCD/ImageSets/Main/%s.txt" % split), "w") as f:
            f.write("".join(i + "\n" for i in ids))


def make_microcontrollers(src, dst):
    # train: the first 8 images by name (one object each, all four classes)
    # and the first 8 by name with two or more objects; test: the first 4
    s, d = os.path.join(src, "microcontrollers"), os.path.join(dst, "microcontrollers")
    copy(os.path.join(s, "LICENSE"), os.path.join(d, "LICENSE"))
    for split in ("train", "test"):
        folder = os.path.join(s, "images", split)
        stems = sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".jpg"))
        if split == "train":
            multi = [t for t in stems if n_objects(os.path.join(folder, t + ".xml")) >= 2]
            keep = sorted(set(stems[:8]) | set(multi[:8]))
        else:
            keep = stems[:4]
        for t in keep:
            for ext in (".jpg", ".xml"):
                copy(os.path.join(folder, t + ext), os.path.join(d, "images", split, t + ext))


def make_voc2012(src, dst):
    # the first 32 images by name (tests/cli_train.sh trains on 24, validates
    # on 8), their XML, and the COCO JSON filtered to them
    s, d = os.path.join(src, "voc2012_sample"), os.path.join(dst, "voc2012_sample")
    for f in ("LICENSE", "voc.names"):
        copy(os.path.join(s, f), os.path.join(d, f))
    names = sorted(f for f in os.listdir(os.path.join(s, "images")) if f.endswith(".jpg"))[:32]
    for n in names:
        copy(os.path.join(s, "images", n), os.path.join(d, "images", n))
        x = n[:-4] + ".xml"
        copy(os.path.join(s, "gts/pascalvoc_format", x), os.path.join(d, "gts/pascalvoc_format", x))
    with open(os.path.join(s, "gts/coco_format_v1/instances_default.json")) as f:
        coco = json.load(f)
    keep = set(names)
    coco["images"] = [im for im in coco["images"] if im["file_name"] in keep]
    ids = {im["id"] for im in coco["images"]}
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in ids]
    assert len(coco["images"]) == len(names), "COCO JSON lacks some of the chosen images"
    os.makedirs(os.path.join(d, "gts/coco_format_v1"), exist_ok=True)
    with open(os.path.join(d, "gts/coco_format_v1/instances_default.json"), "w") as f:
        json.dump(coco, f)  # one line, as the original


def generate(src, dst):
    for name in SETS:
        if os.path.exists(os.path.join(dst, name)):
            shutil.rmtree(os.path.join(dst, name))
    make_bccd(src, dst)
    make_microcontrollers(src, dst)
    make_voc2012(src, dst)


def files_under(top):
    out = set()
    for name in SETS:
        for dirpath, _, files in os.walk(os.path.join(top, name)):
            out.update(os.path.relpath(os.path.join(dirpath, f), top) for f in files)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    for name in SETS:
        if not os.path.isdir(os.path.join(a.src, name)):
            sys.exit("make_test_data: no %s in %s (give --src DIR)" % (name, a.src))
    if not a.check:
        generate(a.src, OUT)
        total = sum(os.path.getsize(os.path.join(OUT, f)) for f in files_under(OUT))
        print("make_test_data: %d files, %.2f MB in %s" % (len(files_under(OUT)), total / 1e6, OUT))
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(a.src, tmp)
        want, have = files_under(tmp), files_under(OUT)
        bad = ["missing: " + f for f in sorted(want - have)]
        bad += ["extra: " + f for f in sorted(have - want)]
        bad += ["differs: " + f for f in sorted(want & have)
                if not filecmp.cmp(os.path.join(tmp, f), os.path.join(OUT, f), shallow=False)]
        for b in bad:
            print("make_test_data --check: " + b)
        print("make_test_data --check: %d files, %s" % (len(want), "differences" if bad else "identical"))
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
