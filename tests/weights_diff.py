#!/usr/bin/python3
"""Compares two detector weights files (format: docs/TRAIN.md, src/engine/weights.c)
tensor by tensor. Usage: weights_diff.py A B TOL [--skip-running]
Prints the largest absolute difference (and where); exits 0 when it is <= TOL
(and the files have the same layers and shapes), 1 otherwise.
--skip-running leaves out batch norm's running statistics (mean, var)."""
import struct, sys

def read(path):
    b = open(path, "rb").read()
    magic, ver = struct.unpack_from("<II", b, 0)
    assert magic == 0x57544444, f"{path}: not a detector weights file"
    seen, nl = struct.unpack_from("<QI", b, 8)
    o = 20
    if ver >= 2:
        (nn,) = struct.unpack_from("<I", b, o); o += 4
        for _ in range(nn):
            (ln,) = struct.unpack_from("<I", b, o); o += 4 + ln
        o += 4  # header CRC
    out = []
    for _ in range(nl):
        idx, = struct.unpack_from("<I", b, o); o += 4
        typ = b[o:o + 24].rstrip(b"\0").decode(); o += 24
        (nt,) = struct.unpack_from("<I", b, o); o += 4
        for _ in range(nt):
            name = b[o:o + 16].rstrip(b"\0").decode(); o += 16
            nd, *dims = struct.unpack_from("<5I", b, o); o += 20
            n = 1
            for d in dims[:nd]: n *= d
            vals = struct.unpack_from(f"<{n}f", b, o); o += 4 * n
            out.append((f"layer {idx} [{typ}] {name}", vals))
    return seen, out

def main():
    a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
    skip = "--skip-running" in sys.argv
    sa, ta = read(a)
    sb, tb = read(b)
    if [t[0] for t in ta] != [t[0] for t in tb] or [len(t[1]) for t in ta] != [len(t[1]) for t in tb]:
        print("different layers or shapes"); return 1
    worst, where, n = 0.0, "", 0
    for (name, va), (_, vb) in zip(ta, tb):
        if skip and name.split()[-1] in ("mean", "var"): continue
        for x, y in zip(va, vb):
            n += 1
            d = abs(x - y)
            if d != d or d > worst: worst, where = (float("inf") if d != d else d), name
    print(f"max |diff| {worst:.3g} ({where}) over {n} values; images seen {sa} / {sb}")
    return 0 if worst <= tol and n > 0 else 1

sys.exit(main())
