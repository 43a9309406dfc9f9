#!/usr/bin/env python3
"""PyTorch's learning-rate schedulers, the reference of tests/test_sched_ema.c.

usage: sched_ref.py IN OUT
IN: one case a line,
  kind n opt lr0 lr1 warmup warmup_start lr_min pct_start div_factor
  final_div_factor cycle_momentum base_momentum max_momentum
(kind: constant | cosine | onecycle; opt: adam | sgd). OUT: per case, n lines
"lr0 lr1 momentum" (the values the optimizer steps with at iteration j: read
before optimizer.step(), then scheduler.step(), as a training loop does;
momentum is Adam's betas[0] or SGD's momentum).
  constant: LinearLR(start_factor=warmup_start, total_iters=warmup) when
            warmup > 0, else nothing
  cosine:   the same LinearLR for the first `warmup` iterations, then
            CosineAnnealingLR(T_max=n - warmup, eta_min=lr_min) on a fresh
            optimizer at lr (the stage's lr after its warm-up)
  onecycle: OneCycleLR(max_lr=[lr0, lr1], total_steps=n, pct_start, div_factor,
            final_div_factor, anneal_strategy='cos', three_phase=False,
            cycle_momentum, base_momentum, max_momentum)
"""
import sys

import torch


def make_opt(kind, lrs, mom):
    ps = [[torch.nn.Parameter(torch.zeros(1))] for _ in lrs]
    groups = [{"params": p, "lr": lr} for p, lr in zip(ps, lrs)]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lrs[0], momentum=mom)
    return torch.optim.Adam(groups, lr=lrs[0], betas=(mom, 0.999))


def momentum(opt, g):
    return g["momentum"] if "momentum" in g else g["betas"][0]


def run(kind, n, opt_kind, lrs, warmup, ws, lr_min, pct, div, fdiv, cyc, bm, mm):
    rows = []
    opt = make_opt(opt_kind, lrs, 0.9)
    sched = None
    if kind == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lrs, total_steps=n, pct_start=pct, div_factor=div,
            final_div_factor=fdiv, anneal_strategy="cos", three_phase=False,
            cycle_momentum=bool(cyc), base_momentum=bm, max_momentum=mm)
    elif warmup > 0:
        sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=ws, end_factor=1.0,
                                                  total_iters=warmup)
    for j in range(n):
        if kind == "cosine" and j == warmup:
            opt = make_opt(opt_kind, lrs, 0.9)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, n - warmup),
                                                               eta_min=lr_min)
        g = opt.param_groups
        rows.append((g[0]["lr"], g[1]["lr"], momentum(opt, g[0])))
        opt.step()
        if sched is not None:
            sched.step()
    return rows


def main():
    cases = [l.split() for l in open(sys.argv[1]) if l.strip()]
    with open(sys.argv[2], "w") as f:
        for c in cases:
            kind, n, ok = c[0], int(c[1]), c[2]
            v = [float(x) for x in c[3:]]
            rows = run(kind, n, ok, v[0:2], int(v[2]), v[3], v[4], v[5], v[6], v[7], int(v[8]),
                       v[9], v[10])
            for r in rows:
                f.write("%.17g %.17g %.17g\n" % r)


if __name__ == "__main__":
    main()
