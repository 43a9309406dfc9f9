#!/usr/bin/env python3
"""Converts a torchvision ResNet34 or ResNet18 state_dict (.pth) into our weights file.

usage: import_torchvision.py MODEL.pth OUT.weights [--cfg cfg/resnet34.cfg]

The layer order is read from the cfg (default cfg/resnet34.cfg, the body
that every model cfg includes; cfg/resnet18.cfg for a resnet18, or a model
cfg that includes either): each [convolutional] takes the next
(conv, bn) pair of torchvision's order -- conv1+bn1, then per BasicBlock
conv1+bn1, conv2+bn2 and, for a projection block, downsample.0+.1 (the cfg
writes a [route] back to the block input before that 1x1 conv). Layers
without parameters ([maxpool], [route], [shortcut]) get empty records. The
file holds only the body's layers: a model cfg that includes the body and
adds a head loads it, and its head keeps its initial values.

Weights file version 2 (little-endian), mirrored from src/engine/weights.c and
docs/TRAIN.md:
  u32 magic 0x57544444 ("DDTW"), u32 version 2, u64 images_seen, u32 n_layers,
  u32 n_class_names (0 here: a body carries no classes), u32 CRC-32 of the
  header bytes before it
  per layer:  u32 index, char type[24] (NUL-padded section name), u32 n_tensors
  per tensor: char name[16] (NUL-padded), u32 ndims, u32 dims[4] (unused = 1),
              float32 data
  u32 CRC-32 of every byte after the header's CRC
  CRC-32 is zlib.crc32. Conv tensor order: bias (if bias=1), scale, shift,
  mean, var, weights (OIHW).

Accepts a plain state_dict, a {'state_dict': ...} / {'model': ...} checkpoint
or a whole pickled model; a 'module.' prefix (DataParallel) is stripped.
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np

MAGIC = 0x57544444
VERSION = 2
TYPE_LEN = 24
NAME_LEN = 16
BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def read_cfg(path, depth=0):
    """[(name, {key: value}, line)] with [include] expanded; [net] sections dropped."""
    if depth > 8:
        sys.exit("%s: includes nested too deep" % path)
    out = []
    cur = None
    with open(path, encoding="utf-8-sig") as f:
        for ln, raw in enumerate(f, 1):
            line = raw.strip()
            for c in "#;":
                if c in line:
                    line = line[:line.index(c)].strip()
            if not line:
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    sys.exit("%s:%d: bad section header" % (path, ln))
                cur = (line[1:-1].strip(), {}, ln)
                out.append(cur)
                continue
            if "=" not in line or cur is None:
                sys.exit("%s:%d: expected key=value inside a section" % (path, ln))
            k, v = line.split("=", 1)
            cur[1][k.strip()] = v.strip()
    res = []
    for name, kv, ln in out:
        if name == "include":
            inc = os.path.join(os.path.dirname(path), kv["file"])
            res.extend(read_cfg(inc, depth + 1))
        elif name != "net":
            res.append((name, kv, ln))
    return res


def load_state_dict(path):
    import torch
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and not isinstance(obj["model"], torch.Tensor):
        obj = obj["model"]
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    sd = {}
    for k, v in obj.items():
        if k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v.detach().cpu().numpy().astype(np.float32) if hasattr(v, "detach") else v
    return sd


def torchvision_pairs(sd):
    """(conv prefix, bn prefix) in torchvision order, for the body found in sd."""
    pairs = [("conv1", "bn1")]
    for layer in range(1, 5):
        b = 0
        while "layer%d.%d.conv1.weight" % (layer, b) in sd:
            p = "layer%d.%d." % (layer, b)
            pairs.append((p + "conv1", p + "bn1"))
            pairs.append((p + "conv2", p + "bn2"))
            if p + "downsample.0.weight" in sd:
                pairs.append((p + "downsample.0", p + "downsample.1"))
            b += 1
    return pairs


def tensor_record(name, a):
    a = np.ascontiguousarray(a, dtype="<f4")
    if a.ndim > 4:
        raise ValueError("tensor %s has %d dims" % (name, a.ndim))
    dims = list(a.shape) + [1] * (4 - a.ndim)
    return (name.encode().ljust(NAME_LEN, b"\0") + struct.pack("<I", a.ndim) +
            struct.pack("<4I", *dims) + a.tobytes())


def convert(sd, sections, cfg_path):
    pairs = torchvision_pairs(sd)
    used = set()
    layers = []
    k = 0
    for idx, (name, kv, ln) in enumerate(sections):
        tensors = []
        if name == "convolutional":
            if k >= len(pairs):
                # the body ends here (a head conv after it): stop the file
                break
            conv, bn = pairs[k]
            k += 1
            w = sd[conv + ".weight"]
            filters, size = int(kv["filters"]), int(kv["size"])
            stride = int(kv.get("stride", 1))
            if w.shape[0] != filters or w.shape[2] != size or w.shape[3] != size:
                sys.exit("%s:%d: [convolutional] filters=%d size=%d, but %s.weight is %s" %
                         (cfg_path, ln, filters, size, conv, "x".join(map(str, w.shape))))
            if int(kv.get("batch_normalize", 0)) != 1:
                sys.exit("%s:%d: %s has a BatchNorm (%s); the cfg layer needs batch_normalize=1"
                         % (cfg_path, ln, conv, bn))
            if conv.endswith("downsample.0") and stride != 2:
                sys.exit("%s:%d: %s is a stride-2 projection; the cfg says stride=%d" %
                         (cfg_path, ln, conv, stride))
            if int(kv.get("bias", 1)) == 1:
                b = sd.get(conv + ".bias")
                tensors.append(("bias", b if b is not None else np.zeros(filters, np.float32)))
            tensors += [("scale", sd[bn + ".weight"]), ("shift", sd[bn + ".bias"]),
                        ("mean", sd[bn + ".running_mean"]), ("var", sd[bn + ".running_var"]),
                        ("weights", w)]
            used.update([conv + ".weight", bn + ".weight", bn + ".bias", bn + ".running_mean",
                         bn + ".running_var", bn + ".num_batches_tracked"])
        elif name in ("maxpool", "route", "shortcut"):
            pass
        else:
            break  # the head: not part of the body file
        layers.append((idx, name, tensors))
        if k == len(pairs) and name == "shortcut":
            break  # the last block's residual add ends the body
    if k != len(pairs):
        sys.exit("%s: the cfg has %d convolutional layers before its head, the state_dict %d "
                 "(conv, bn) pairs" % (cfg_path, k, len(pairs)))
    left = [n for n in sd if n not in used and not n.startswith("fc.")]
    if left:
        sys.exit("state_dict tensors not imported: %s" % ", ".join(left[:8]))
    return layers


def write_weights(path, layers, images_seen=0):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        header = struct.pack("<IIQII", MAGIC, VERSION, images_seen, len(layers), 0)
        f.write(header + struct.pack("<I", zlib.crc32(header)))
        crc = 0
        for idx, name, tensors in layers:
            rec = (struct.pack("<I", idx) + name.encode().ljust(TYPE_LEN, b"\0") +
                   struct.pack("<I", len(tensors)))
            for tname, a in tensors:
                rec += tensor_record(tname, a)
            crc = zlib.crc32(rec, crc)
            f.write(rec)
        f.write(struct.pack("<I", crc))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pth")
    ap.add_argument("out")
    ap.add_argument("--cfg", default=os.path.join(here, "..", "cfg", "resnet34.cfg"))
    a = ap.parse_args()
    sd = load_state_dict(a.pth)
    sections = read_cfg(a.cfg)
    layers = convert(sd, sections, a.cfg)
    write_weights(a.out, layers)
    n = sum(int(np.prod(t.shape)) for _, _, ts in layers for _, t in ts)
    print("import_torchvision: %s -> %s: %d layers, %d floats" % (a.pth, a.out, len(layers), n))


if __name__ == "__main__":
    main()
