#!/usr/bin/env python3
"""PyTorch's FP16 and BF16 conversions, for tests/test_amp.c.

usage: amp_ref.py IN OUT
IN holds float32 values (raw, little-endian). OUT gets, as raw uint16:
  the bits of torch's .half() of every value, then of .bfloat16(),
  then the float32 bits of every one of the 65536 FP16 patterns widened
  by .float(), then of every BF16 pattern (as uint32).
"""
import sys

import numpy as np
import torch


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: amp_ref.py IN OUT")
    x = torch.from_numpy(np.fromfile(sys.argv[1], dtype="<f4").copy())
    h = x.half().view(torch.int16).numpy().astype("<u2")
    b = x.bfloat16().view(torch.int16).numpy().astype("<u2")
    pat = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    hw = pat.view(torch.float16).float().view(torch.int32).numpy().astype("<u4")
    bw = pat.view(torch.bfloat16).float().view(torch.int32).numpy().astype("<u4")
    with open(sys.argv[2], "wb") as f:
        for a in (h, b, hw, bw):
            f.write(a.tobytes())


if __name__ == "__main__":
    main()
