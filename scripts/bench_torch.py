#!/usr/bin/python3
"""PyTorch reference for scripts/bench_cpu.sh: images/s of a model at its
best on this CPU (channels-last; the caller sets jemalloc and pinning).

usage: bench_torch.py MODEL MODE BATCH THREADS ITERS [WARMUP=2]
       bench_torch.py export MODEL FILE.onnx
  MODEL: resnet34 (torchvision body without avgpool/fc) or ssd (the lesson's
         SSD head on that body)
  MODE:  infer | train (forward + backward + Adam step)
  export: the model in eval mode to ONNX (TorchScript exporter, dynamo=False;
          batch dimension dynamic) for scripts/bench_onnx.py
"""
import sys
import time

import torch
import torchvision


def body():
    m = torchvision.models.resnet34()
    return torch.nn.Sequential(*list(m.children())[:-2])


def build(name):
    if name == "resnet34":
        return body()
    if name == "ssd":  # the lesson's SSD: ResNet34 body + multi-head, 189 anchors
        sys.path.insert(0, __import__("os").path.dirname(__file__))
        from bench_gpu import torch_model

        return torch_model(torch, torch.nn)
    raise SystemExit(f"unknown model {name}")


def loss_of(name, y):
    """resnet34: a fixed upstream gradient; ssd: the SSD BCE loss with empty
    targets (every anchor background), as `detector bench` does for ours."""
    if name == "ssd":
        clas, box = y
        t = torch.zeros_like(clas[..., :20])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(clas[..., :20], t, reduction="sum") / 20
        return loss + 0.0 * torch.tanh(box).sum()
    return (y * 1e-3).sum()


def export(name, path):
    """Writes the model (eval mode, random weights: timing only) to path via a
    temporary file, so an interrupted export leaves no half file."""
    import os

    torch.manual_seed(0)
    model = build(name).eval()
    x = torch.randn(1, 3, 224, 224)
    outs = ["clas", "box"] if name == "ssd" else ["features"]
    axes = {n: {0: "batch"} for n in ["input"] + outs}
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, (x,), tmp, dynamo=False, input_names=["input"],
                          output_names=outs, dynamic_axes=axes, opset_version=17)
    os.replace(tmp, path)


def main():
    if sys.argv[1] == "export":
        export(sys.argv[2], sys.argv[3])
        return
    name, mode, batch, threads, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    warm = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(name).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224).to(memory_format=torch.channels_last)
    if mode == "infer":
        model.eval()
        with torch.no_grad():
            for i in range(warm + iters):
                if i == warm:
                    t0 = time.perf_counter()
                model(x)
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        for i in range(warm + iters):
            if i == warm:
                t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss_of(name, model(x)).backward()
            opt.step()
    dt = time.perf_counter() - t0
    print(f"{iters * batch / dt:.2f}")


if __name__ == "__main__":
    main()
