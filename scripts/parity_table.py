#!/usr/bin/python3
"""The parity table of issue 15 from scripts/parity_bccd.sh's runs.tsv.

  scripts/parity_table.py results/parity/runs.tsv [REFERENCE_NAME]

For each framework (or cfg name), epochs and split: the number of seeds, the
mean and the sample standard deviation of mAP@.5 (11-point and all-point) and
of each class's 11-point AP, then, for every framework against the reference
(torch by default), the difference of the mean 11-point mAPs with its
standard error sqrt(s1^2/n1 + s2^2/n2) and Welch's t. Markdown on stdout.
"""
import csv
import math
import sys
from collections import OrderedDict


def stats(v):
    n = len(v)
    m = sum(v) / n
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1)) if n > 1 else float("nan")
    return n, m, s


def main():
    path = sys.argv[1]
    ref = sys.argv[2] if len(sys.argv) > 2 else "torch"
    groups = OrderedDict()
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            groups.setdefault((r["framework"], r["epochs"], r["split"]), []).append(r)
    cols = ["map11", "mapall", "RBC", "WBC", "Platelets"]
    print("| run | epochs | split | seeds | mAP@.5 11-point | all-point | RBC | WBC | Platelets | seeds' 11-point mAPs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (fw, ep, sp), rows in groups.items():
        cells = []
        for c in cols:
            n, m, s = stats([float(r[c]) for r in rows])
            cells.append("%.3f ± %.3f" % (m, s) if n > 1 else "%.3f" % m)
        seeds = ", ".join("%s: %.3f" % (r["seed"], float(r["map11"])) for r in sorted(rows, key=lambda r: int(r["seed"])))
        print("| %s | %s | %s | %d | %s | %s |" % (fw, ep, sp, len(rows), " | ".join(cells), seeds))
    print()
    print("Mean 11-point mAP minus %s's at the same epochs and split (± its standard error; Welch's t):" % ref)
    print()
    for (fw, ep, sp), rows in groups.items():
        if fw == ref or (ref, ep, sp) not in groups:
            continue
        n1, m1, s1 = stats([float(r["map11"]) for r in rows])
        n2, m2, s2 = stats([float(r["map11"]) for r in groups[(ref, ep, sp)]])
        if n1 < 2 or n2 < 2:  # no spread to weigh the difference by
            print("- %s, %s epochs, %s: %+.3f (%d and %d seeds: no spread, no t)" % (fw, ep, sp, m1 - m2, n1, n2))
            continue
        se = math.sqrt(s1 * s1 / n1 + s2 * s2 / n2)
        t = (m1 - m2) / se if se > 0 else float("nan")
        print("- %s, %s epochs, %s: %+.3f ± %.3f (t = %.2f, %d and %d seeds)" % (fw, ep, sp, m1 - m2, se, t, n1, n2))


if __name__ == "__main__":
    main()
