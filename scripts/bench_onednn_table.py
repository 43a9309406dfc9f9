#!/usr/bin/python3
"""Markdown tables from scripts/bench_onednn.sh's raw text: per shape and op,
per shape class, and ResNet34 totals, each library's best time over the rounds.

usage: bench_onednn_table.py RAW
RAW lines: "<lib> <round> <op> <i> <class> c<C> hw<HW> o<O> x<uses> <ms> ms <GFLOP/s> GFLOP/s"
"""
import sys
from collections import OrderedDict

LIBS = [("v2", "2.6 (Debian)"), ("v3gomp", "3.2 (gomp)"), ("v3new", "3.x newest")]
BATCH = 16


def main():
    best = {}  # (lib, op, i) -> ms
    shapes = OrderedDict()  # i -> (class, text, uses, c)
    gflop = {}  # (op, i) -> GFLOP of one call
    for line in open(sys.argv[1]):
        f = line.split()
        if len(f) != 13 or f[12] != "GFLOP/s":
            continue
        lib, op, i, ms = f[0], f[2], int(f[3]), float(f[9])
        shapes[i] = (f[4], f"{f[5][1:]}, {f[6][2:]}, {f[7][1:]}", int(f[8][1:]), int(f[5][1:]))
        gflop[op, i] = float(f[11]) * ms / 1e3
        key = (lib, op, i)
        best[key] = min(ms, best.get(key, ms))
    ops = list(OrderedDict.fromkeys(op for (op, i) in gflop))
    libs = [(l, n) for l, n in LIBS if any(k[0] == l for k in best)]

    def cells(times):  # GFLOP/s or img/s per lib, then each 3.x's ratio to 2.x
        out = []
        for l, _ in libs:
            out.append("-" if times.get(l) is None else f"{times[l]:.1f}")
        base = times.get("v2")
        for l, _ in libs[1:]:
            out.append("-" if base is None or times.get(l) is None else f"{times[l] / base:.2f}")
        return out

    head = [n for _, n in libs] + [f"{n} / 2.6" for _, n in libs[1:]]
    print("## Per shape and op (GFLOP/s)\n")
    print("| op | # | class | C, HW, O | uses | " + " | ".join(head) + " |")
    print("|" + "---|" * (5 + len(head)))
    for op in ops:
        for i, (cls, text, uses, _) in shapes.items():
            if (op, i) not in gflop:
                continue
            t = {l: gflop[op, i] / (best[l, op, i] / 1e3) for l, _ in libs if (l, op, i) in best}
            print(f"| {op} | {i} | {cls} | {text} | {uses} | " + " | ".join(cells(t)) + " |")

    print("\n## Per shape class, weighted by ResNet34's uses (GFLOP/s)\n")
    print("| op | class | " + " | ".join(head) + " |")
    print("|" + "---|" * (2 + len(head)))
    classes = list(OrderedDict.fromkeys(s[0] for s in shapes.values()))
    for op in ops:
        for cls in classes:
            idx = [i for i, s in shapes.items() if s[0] == cls and (op, i) in gflop]
            t = {}
            for l, _ in libs:
                if all((l, op, i) in best for i in idx):
                    fl = sum(shapes[i][2] * gflop[op, i] for i in idx)
                    t[l] = fl / sum(shapes[i][2] * best[l, op, i] / 1e3 for i in idx)
            print(f"| {op} | {cls} | " + " | ".join(cells(t)) + " |")

    print("\n## ResNet34 body totals (img/s from these ops alone, batch 16)\n")
    print("| what | " + " | ".join(head) + " |")
    print("|" + "---|" * (1 + len(head)))
    rows = [
        ("conv inference (fwd_inf)", lambda i, c: [("conv_fwd_inf", 1)]),
        ("conv training (fwd_trn + bwd_dat + bwd_wei; no bwd_dat at the stem)",
         lambda i, c: [("conv_fwd_trn", 1), ("conv_bwd_wei", 1), ("conv_bwd_dat", c != 3)]),
        ("sgemm forward", lambda i, c: [("sgemm_fwd", 1)]),
        ("sgemm forward + backward weights", lambda i, c: [("sgemm_fwd", 1), ("sgemm_bwd_w", 1)]),
    ]
    for name, parts in rows:
        t = {}
        for l, _ in libs:
            total, ok = 0.0, True
            for i, (_, _, uses, c) in shapes.items():
                for op, w in parts(i, c):
                    if not w:
                        continue
                    if (l, op, i) not in best:
                        ok = False
                        break
                    total += uses * best[l, op, i] / 1e3
            if ok and total > 0:
                t[l] = BATCH / total
        print(f"| {name} | " + " | ".join(cells(t)) + " |")


if __name__ == "__main__":
    main()
