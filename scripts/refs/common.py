"""Helpers for the PyTorch reference cases (scripts/refs/*.py).

Each module in scripts/refs/ (except this one) defines `cases()`, returning a
list of `case(...)` dicts; scripts/make_refs.py writes them for
tests/test_parity.c. Tensor names (see tests/testutil.h for the file format):
  x          network input, NHWC
  y          last layer's output, NHWC (or (B, N))
  dy         upstream gradient of y (absent for loss layers)
  dx         gradient of the input
  truth      targets copied into net->truth, (B, truth_size)
  loss       scalar, for loss layers
  L<i>.<p>          parameter p of layer i, loaded before the forward
  L<i>.<p>.grad     its gradient
  L<i>.<p>.after    its value after the forward (BN running statistics)
"""
import struct

import numpy as np
import torch

SEED = 1234


def nhwc(t):
    """NCHW torch tensor -> NHWC float32 numpy; 2-D (B, N) and others unchanged."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        if t.dim() == 4:
            t = t.permute(0, 2, 3, 1)
        return np.ascontiguousarray(t.numpy(), dtype=np.float32)
    a = np.asarray(t, dtype=np.float32)
    if a.ndim == 4:
        a = a.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(a)


def as_array(t):
    """torch tensor / numpy / number -> contiguous float32 numpy, layout unchanged."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(t, dtype=np.float32))


def save_archive(path, tensors):
    """Writes {name: array} as: u32 name_len, name, u32 ndims, u32 dims[], f32 data."""
    with open(path, "wb") as f:
        for name, t in tensors.items():
            a = as_array(t)
            b = name.encode()
            f.write(struct.pack("<I", len(b)))
            f.write(b)
            f.write(struct.pack("<I", a.ndim))
            f.write(struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.astype("<f4").tobytes())


def case(name, cfg, train, tensors, tol=1e-4):
    """One parity case. `tensors` must already be in our layouts (use nhwc() for
    activations; parameters in PyTorch's own layout: OIHW, (out, in))."""
    assert name.replace("_", "").replace("-", "").isalnum(), name
    assert "x" in tensors and ("y" in tensors or "loss" in tensors), name
    return {"name": name, "cfg": cfg.strip() + "\n", "train": int(bool(train)),
            "tol": float(tol), "tensors": {k: as_array(v) for k, v in tensors.items()}}


def seed(s=SEED):
    torch.manual_seed(s)
    np.random.seed(s)
