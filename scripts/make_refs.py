#!/usr/bin/env python3
"""Writes the PyTorch reference cases for tests/test_parity.c.

usage: make_refs.py OUTDIR
Imports every scripts/refs/*.py except common.py (sorted by name), calls its
cases(), writes OUTDIR/<name>.cfg, OUTDIR/<name>.bin and OUTDIR/index.txt
(`name train tol` per line). Seeds are fixed: the same files every run.
"""
import glob
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "refs"))

import torch  # noqa: E402

import common  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_refs.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    lines, seen = [], set()
    for path in sorted(glob.glob(os.path.join(HERE, "refs", "*.py"))):
        mod_name = os.path.splitext(os.path.basename(path))[0]
        if mod_name == "common" or mod_name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location("refs_" + mod_name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        common.seed()
        for c in mod.cases():
            name = c["name"]
            if name in seen:
                sys.exit("make_refs: duplicate case name %s (in %s)" % (name, path))
            seen.add(name)
            with open(os.path.join(out, name + ".cfg"), "w") as f:
                f.write(c["cfg"])
            common.save_archive(os.path.join(out, name + ".bin"), c["tensors"])
            lines.append("%s %d %g" % (name, c["train"], c["tol"]))
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("".join(l + "\n" for l in lines))
    print("make_refs: %d cases in %s" % (len(lines), out))


if __name__ == "__main__":
    main()
