#!/usr/bin/env python3
"""The outside reference for the numbers tests/test_data_readers.c expects
of the real data: counts read from the files with xml.etree and json only
(none of our code).

  /usr/bin/python3 tests/real_data_ref.py [ROOT]

ROOT is a folder holding bccd/, microcontrollers/ and voc2012_sample/:
tests/data/real (the in-repo subsets, the default) or ../shared/data (the
full sets). Prints, per split: images, objects, objects per class (in the
names file's order), difficult flags.
"""
import collections
import json
import os
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


def objects(xml_path):
    r = ET.parse(xml_path).getroot()
    return [(o.find("name").text, int(o.findtext("difficult") or 0)) for o in r.findall("object")]


def report(title, per_image, names):
    objs = [o for v in per_image for o in v]
    by = collections.Counter(n for n, _ in objs)
    print("%s: %d images, %d objects, difficult %d" % (title, len(per_image), len(objs),
                                                        sum(d for _, d in objs)))
    print("  per class: " + ", ".join("%s %d" % (n, by[n]) for n in names if by[n]))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "data", "real")
    names = open(os.path.join(HERE, "..", "data", "bccd.names")).read().split()
    b = os.path.join(root, "bccd", "BCCD")
    for split in ("train", "val"):
        ids = open(os.path.join(b, "ImageSets/Main/%s.txt" % split)).read().split()
        per = [objects(os.path.join(b, "Annotations", i + ".xml")) for i in ids]
        report("bccd %s (first %s)" % (split, ids[0]), per, names)
        print("  most objects in one image: %d (%s)" % max((len(p), i) for p, i in zip(per, ids)))

    names = open(os.path.join(HERE, "..", "data", "microcontrollers.names")).read().split()
    m = os.path.join(root, "microcontrollers", "images")
    for split in ("train", "test"):
        xs = sorted(f for f in os.listdir(os.path.join(m, split)) if f.endswith(".xml"))
        report("microcontrollers %s (first %s)" % (split, xs[0]),
               [objects(os.path.join(m, split, x)) for x in xs], names)

    v = os.path.join(root, "voc2012_sample")
    names = open(os.path.join(v, "voc.names")).read().split()
    xs = sorted(os.listdir(os.path.join(v, "gts/pascalvoc_format")))
    report("voc2012_sample xml", [objects(os.path.join(v, "gts/pascalvoc_format", x)) for x in xs],
           names)
    coco = json.load(open(os.path.join(v, "gts/coco_format_v1/instances_default.json")))
    cat = {c["id"]: c["name"] for c in coco["categories"]}
    per = collections.defaultdict(list)
    for a in coco["annotations"]:
        per[a["image_id"]].append((cat[a["category_id"]], 0))
    report("voc2012_sample coco", [per[im["id"]] for im in coco["images"]], names)


if __name__ == "__main__":
    main()
