#!/usr/bin/env python3
"""GPU benchmark: our detector vs PyTorch on the lesson's multi-head SSD
(ResNet34 body + StdConv/OutConv head, 189 anchors, 224x224), same run,
same card. Reports images/s of a training step (forward + backward + Adam)
at batch 64 in FP32 and TF32, inference at batch 1 and 64, GPU memory, and
then the same in mixed precision (FP16 with dynamic loss scaling, BF16).

  ours:    detector bench scripts/bench_ssd.cfg -gpu 0 [-train] [-tf32] [-amp fp16|bf16]
           (random input, empty targets; memory = cudaMemGetInfo in use,
           so it includes the CUDA context, ~0.5 GiB)
  PyTorch: the same model, channels_last, cudnn.benchmark=True, the same
           empty targets (BCE against all-background + the box term);
           memory = torch.cuda.max_memory_allocated (tensors only; the
           context is not counted). Mixed precision: torch.autocast with
           that dtype, and torch.cuda.amp.GradScaler for FP16 (as ours).

usage: bench_gpu.py --bin DETECTOR [--out DIR] [--quick]
       bench_gpu.py --torch-profile [--out DIR] [--device cuda|cpu]
Writes DIR/bench.txt (the table) and DIR/bench.json. --torch-profile writes
DIR/torch_profile.txt instead: PyTorch's own per-kernel times (torch.profiler)
for inference and a training step at batch 64, TF32, to set beside our
DT_GPU_PROFILE tables (profile.txt) kernel by kernel. --device cpu (batch 2)
only checks the script on a machine without a GPU.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "scripts", "bench_ssd.cfg")


def ours(binary, batch, train, prec, iters, warm):
    cmd = [binary, "bench", CFG, "-gpu", "0", "-batch", str(batch), "-iters", str(iters),
           "-warmup", str(warm)]
    if train:
        cmd.append("-train")
    if prec == "tf32":
        cmd.append("-tf32")
    if prec in ("fp16", "bf16"):
        cmd += ["-amp", prec]
    env = dict(os.environ, DT_QUIET="1")
    env.pop("DT_TF32", None)
    env.pop("DT_AMP", None)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    out = p.stdout + p.stderr
    m = re.search(r"([0-9.]+) img/s", out)
    mem = re.search(r"in use ([0-9.]+) MiB", out)
    if p.returncode != 0 or not m:
        print("ours FAILED (%s):\n%s" % (" ".join(cmd), out[-3000:]))
        return None
    return {"ips": float(m.group(1)), "mem_mib": float(mem.group(1)) if mem else None,
            "wall_s": time.time() - t0}


def torch_model(torch, nn, C=20, k=9):
    import torchvision

    body = nn.Sequential(*list(torchvision.models.resnet34(weights=None).children())[:-2])

    class StdConv(nn.Module):
        def __init__(self, nin, nout, stride=2, drop=0.4):
            super().__init__()
            self.conv = nn.Conv2d(nin, nout, 3, stride=stride, padding=1)
            self.bn = nn.BatchNorm2d(nout)
            self.drop = nn.Dropout(drop)

        def forward(self, x):
            return self.drop(self.bn(torch.relu(self.conv(x))))

    class OutConv(nn.Module):
        def __init__(self, nin):
            super().__init__()
            self.oconv1 = nn.Conv2d(nin, (C + 1) * k, 3, padding=1)
            self.oconv2 = nn.Conv2d(nin, 4 * k, 3, padding=1)
            self.oconv1.bias.data.zero_().add_(-4.0)

        def forward(self, x):
            def flat(t, n):  # (B, n*k, g, g) -> (B, g*g*k, n): cells, then anchors
                b = t.shape[0]
                return t.permute(0, 2, 3, 1).reshape(b, -1, n)
            return flat(self.oconv1(x), C + 1), flat(self.oconv2(x), 4)

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.4)
            self.sconv0 = StdConv(512, 256, stride=1)
            self.sconv1 = StdConv(256, 256)
            self.out1 = OutConv(256)
            self.sconv2 = StdConv(256, 256)
            self.out2 = OutConv(256)
            self.sconv3 = StdConv(256, 256)
            self.out3 = OutConv(256)

        def forward(self, x):
            x = self.sconv0(self.drop(torch.relu(x)))
            x = self.sconv1(x)
            c1, b1 = self.out1(x)
            x = self.sconv2(x)
            c2, b2 = self.out2(x)
            x = self.sconv3(x)
            c3, b3 = self.out3(x)
            return torch.cat([c1, c2, c3], 1), torch.cat([b1, b2, b3], 1)

    return nn.Sequential(body, Head())


def torch_bench(batch, train, prec, iters, warm, profile=None, device="cuda"):
    import contextlib

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    tf32 = prec == "tf32"
    amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(prec)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)
    model = torch_model(torch, nn).to(dev).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224, device=dev).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    C = 20
    autocast = (lambda: torch.autocast(device_type=dev.type, dtype=amp)) if amp else \
        contextlib.nullcontext
    scaler = torch.cuda.amp.GradScaler(enabled=cuda and amp == torch.float16)

    def forward():
        with autocast():
            return model(x)

    def step():
        with autocast():
            clas, box = model(x)
            # empty targets, as ours: every anchor background; loc term 0
            t = torch.zeros_like(clas[..., :C])
            loss = F.binary_cross_entropy_with_logits(clas[..., :C].float(), t.float(),
                                                      reduction="sum") / C
            loss = loss + 0.0 * torch.tanh(box.float()).sum()
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    model.train(train)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    ctx = torch.enable_grad() if train else torch.no_grad()
    with ctx:
        for _ in range(warm):
            step() if train else forward()
        sync()
        if profile is not None:
            # the iterations timed by torch.profiler, summed per kernel / op
            from torch.profiler import ProfilerActivity, profile as tprofile
            acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
            with tprofile(activities=acts) as prof:
                for _ in range(iters):
                    step() if train else forward()
                sync()
            key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
            profile.write(prof.key_averages().table(sort_by=key, row_limit=40) + "\n")
            return None
        t0 = time.time()
        for _ in range(iters):
            step() if train else forward()
        sync()
        dt = time.time() - t0
    r = {"ips": iters * batch / dt,
         "mem_mib": torch.cuda.max_memory_allocated() / 1048576.0 if cuda else None}
    del model, opt, x
    if cuda:
        torch.cuda.empty_cache()
    return r


def torch_profile(out, device):
    """PyTorch's per-kernel times, to compare with DT_GPU_PROFILE's."""
    b = 64 if device == "cuda" else 2
    path = os.path.join(out, "torch_profile.txt")
    with open(path, "w") as f:
        for label, train in (("inference", False), ("training step (Adam)", True)):
            f.write("-- PyTorch %s, batch %d, TF32, channels_last, 2 iterations (%s)\n"
                    % (label, b, device))
            torch_bench(b, train, "tf32", 2, 3, profile=f, device=device)
    print("wrote %s" % path)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--out", default=".")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--torch-profile", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--only", help="run only the cases whose label contains this text")
    a = ap.parse_args()
    if a.torch_profile:
        os.makedirs(a.out, exist_ok=True)
        return torch_profile(a.out, a.device)
    if not a.bin:
        ap.error("--bin DETECTOR is needed (or --torch-profile)")
    q = a.quick
    # (label, batch, train, precision, iters, warmup); mixed precision last, so that a
    # timeout leaves the FP32/TF32 rows of the target
    runs = [("train b64 fp32", 64, True, "fp32", 5 if q else 10, 3),
            ("train b64 tf32", 64, True, "tf32", 5 if q else 10, 3),
            ("infer b64 fp32", 64, False, "fp32", 10 if q else 20, 3),
            ("infer b64 tf32", 64, False, "tf32", 10 if q else 20, 3),
            ("infer b1 fp32", 1, False, "fp32", 30 if q else 100, 10),
            ("train b64 fp16", 64, True, "fp16", 5 if q else 10, 3),
            ("train b64 bf16", 64, True, "bf16", 5 if q else 10, 3),
            ("infer b64 fp16", 64, False, "fp16", 10 if q else 20, 3)]
    if a.only:
        runs = [r for r in runs if a.only in r[0]]
    rows = []
    os.makedirs(a.out, exist_ok=True)

    def write():
        lines = ["%-16s %12s %12s %8s %12s %12s" % ("case", "ours img/s", "torch img/s",
                                                    "ratio", "ours MiB*", "torch MiB")]
        for r in rows:
            o, t = r["ours"], r["torch"]
            oi = o["ips"] if o else float("nan")
            ti = t["ips"] if t else float("nan")
            lines.append("%-16s %12.1f %12.1f %8.2f %12s %12s" % (
                r["case"], oi, ti, oi / ti if ti == ti and ti > 0 else float("nan"),
                "%.0f" % o["mem_mib"] if o and o["mem_mib"] else "-",
                "%.0f" % t["mem_mib"] if t else "-"))
        lines.append("* ours: cudaMemGetInfo in use (CUDA context included); torch: "
                     "max_memory_allocated (tensors only)")
        with open(os.path.join(a.out, "bench.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(a.out, "bench.json"), "w") as f:
            json.dump(rows, f, indent=1)
        return lines

    for label, b, train, prec, iters, warm in runs:
        o = ours(a.bin, b, train, prec, iters, warm)
        print("ours  %-16s %s" % (label, o), flush=True)
        try:
            t = torch_bench(b, train, prec, iters, warm, device=a.device)
        except Exception as e:  # keep our numbers even if torch fails
            print("torch %-16s FAILED: %s" % (label, e))
            t = None
        print("torch %-16s %s" % (label, t), flush=True)
        rows.append({"case": label, "ours": o, "torch": t})
        write()
    print("\n".join(write()))
    return 0 if all(r["ours"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
