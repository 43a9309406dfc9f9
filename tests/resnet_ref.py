#!/usr/bin/env python3
"""PyTorch reference for tests/test_resnet.c: cfg/BODY.cfg against torchvision.

usage: resnet_ref.py BODY OUTDIR      (BODY: resnet18 or resnet34)

Writes to OUTDIR:
  BODY.pth        a seeded random torchvision BODY whose BatchNorms have
                  random affine parameters and running statistics (calibrated
                  on a random batch, then perturbed) so that eval mode is not
                  the identity
  body.weights    that state_dict converted by scripts/import_torchvision.py
  eval.bin        x (2, 224, 224, 3) NHWC, y = body(x) in eval mode (2, 7, 7, 512) NHWC
  train.bin       3 Adam steps (lr 1e-3) of body + AdaptiveAvgPool + Linear(512, 10)
                  + cross_entropy in train mode, batch 4 at 64x64:
                    x, truth (4, 1) class indices, fc.weights, fc.bias (initial),
                    loss (3) before each step, g.L<i>.<p> gradients of the first
                    step, w1.L<i>.<p> parameters after the first step and
                    w.L<i>.<p> after the 3 steps, s.L<i>.<p>
                    running statistics after the 3 steps
                  (L<i> = our layer index in cfg/BODY.cfg + head)
  train.txt       body_layers, fc_layer, and body_params: torchvision's
                  parameter count without fc (BN running statistics are
                  buffers, not parameters), written last (the test's stamp)
"""
import copy
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "refs"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from common import nhwc, save_archive  # noqa: E402
import import_torchvision as imp  # noqa: E402

# Per body: the seed of its random model, and the blocks of layer3 / layer4
# whose convolutions the training check watches (besides conv1, layer2's
# projection and the fc).
BODIES = {"resnet34": {"seed": 34, "layer3": 3, "layer4": 2},
          "resnet18": {"seed": 18, "layer3": 1, "layer4": 1}}


def body(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x))))


def make_model(name):
    torch.manual_seed(BODIES[name]["seed"])
    m = getattr(torchvision.models, name)()
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
        # running statistics: those of a random batch, then perturbed
        for bn in bns:
            bn.momentum = 1.0
        m.train()
        body(m, torch.randn(2, 3, 224, 224))
        for bn in bns:
            bn.momentum = 0.1
            std = bn.running_var.sqrt()
            bn.running_mean.add_(0.2 * std * torch.randn_like(std))
            bn.running_var.mul_(torch.empty_like(std).uniform_(0.7, 1.4))
            bn.num_batches_tracked.zero_()
    return m


# Kink margins of the first training forward (float64, train mode): every
# ReLU input at least this far from 0, per stage. float32 forwards of this
# network land 2e-6 (stem) to 1.1e-4 (layer4) from float64 (docs/CPU.md); a
# ReLU input closer to 0 than that lets a float32 run take the other side of
# the kink and move dL/dz there by its whole upstream gradient, which reaches
# every early layer at the 1e-2 level: chance, not accuracy, would decide the
# first step's checks. The margins are 5x (stem) to 15x those distances.
# Later forwards are not conditioned (the first step moves every weight by
# ~lr, sign-like, so their kinks are wherever they fall): the checks after 3
# steps are judged by the spread of PyTorch's float32 configurations.
KINK_MARGIN = {"stem": 1e-5, "layer1": 1e-4, "layer2": 3e-4, "layer3": 1e-3, "layer4": 1e-3}
MAX_SHIFT = 0.05  # the largest BN shift nudge


def _nudge(bn32, bn64, z, margin):
    """Moves each channel's BN shift by the smallest delta (|delta| <=
    MAX_SHIFT) that puts every z[:, c] + delta at least `margin` from 0; z is
    the float64 ReLU input. Returns the channels it could not clear."""
    C = z.shape[1]
    v = z.transpose(0, 1).reshape(C, -1)
    delta = torch.full((C,), float("nan"), dtype=torch.float64)
    step = margin / 2
    for k in range(int(MAX_SHIFT / step) + 1):
        for d in ((0.0,) if k == 0 else (k * step, -k * step)):
            ok = ((v + d).abs() >= margin).all(1) & torch.isnan(delta)
            delta[ok] = d
        if not torch.isnan(delta).any():
            break
    bad = int(torch.isnan(delta).sum())
    delta = torch.nan_to_num(delta, 0.0)
    with torch.no_grad():
        bn32.bias.add_(delta.float())
        bn64.bias.copy_(bn32.bias.double())
    return bad


def clear_kinks(m, x):
    """Nudges the BN shifts of m (it stays a random torchvision ResNet, with
    other random shifts) so that no ReLU input of its float64 train-mode
    forward on x lies within KINK_MARGIN of 0. Returns {stage: (channels not
    cleared, smallest |ReLU input|)}."""
    m64 = copy.deepcopy(m).double().train()
    for bn in m64.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.momentum = 0.0  # probing forwards leave the running statistics alone
    report = {}

    def clear(stage, bn32, bn64, pre, extra):
        bad = _nudge(bn32, bn64, bn64(pre) + extra, KINK_MARGIN[stage])
        z = bn64(pre) + extra
        b, mn = report.get(stage, (0, float("inf")))
        report[stage] = (b + bad, min(mn, z.abs().min().item()))
        return torch.relu(z)

    with torch.no_grad():
        h = clear("stem", m.bn1, m64.bn1, m64.conv1(x.double()), 0.0)
        h = m64.maxpool(h)
        for li in range(1, 5):
            stage = "layer%d" % li
            for blk32, blk64 in zip(getattr(m, stage), getattr(m64, stage)):
                ident = blk64.downsample(h) if blk64.downsample is not None else h
                a = clear(stage, blk32.bn1, blk64.bn1, blk64.conv1(h), 0.0)
                h = clear(stage, blk32.bn2, blk64.bn2, blk64.conv2(a), ident)
    return report


def layer_index(sd, cfg):
    """torchvision conv prefix -> our layer index (from the cfg, as the importer maps it)."""
    layers = imp.convert(sd, imp.read_cfg(cfg), cfg)
    pairs = imp.torchvision_pairs(sd)
    convs = [idx for idx, name, _ in layers if name == "convolutional"]
    return {conv: idx for (conv, _), idx in zip(pairs, convs)}, len(layers)


def train_run(m, fc0, x, t, dtype, idx, fc_idx, blocks, prefix, tensors):
    """3 Adam steps (lr 1e-3) of body + avgpool + fc; writes the watched
    tensors (conv1, layer2's projection, layer3[blocks["layer3"]].conv1,
    layer4[blocks["layer4"]].conv2, fc) under `prefix` into tensors and
    returns the losses."""
    b3, b4 = m.layer3[blocks["layer3"]], m.layer4[blocks["layer4"]]
    n3, n4 = "layer3.%d.conv1" % blocks["layer3"], "layer4.%d.conv2" % blocks["layer4"]
    fc = torch.nn.Linear(512, 10).to(dtype)
    with torch.no_grad():
        fc.weight.copy_(fc0.weight), fc.bias.copy_(fc0.bias)
    m.train()
    opt = torch.optim.Adam(list(m.parameters()) + list(fc.parameters()), lr=1e-3)
    watch = {  # (our name, torch tensor)
        "L%d.weights" % idx["conv1"]: m.conv1.weight,
        "L%d.scale" % idx["conv1"]: m.bn1.weight,
        "L%d.shift" % idx["conv1"]: m.bn1.bias,
        "L%d.weights" % idx["layer2.0.downsample.0"]: m.layer2[0].downsample[0].weight,
        "L%d.scale" % idx["layer2.0.downsample.0"]: m.layer2[0].downsample[1].weight,
        "L%d.weights" % idx[n3]: b3.conv1.weight,
        "L%d.weights" % idx[n4]: b4.conv2.weight,
        "L%d.shift" % idx[n4]: b4.bn2.bias,
        "L%d.weights" % fc_idx: fc.weight,  # Linear: (out, in), as ours
        "L%d.bias" % fc_idx: fc.bias,
    }
    stats = {
        "L%d.mean" % idx["conv1"]: m.bn1.running_mean,
        "L%d.var" % idx["conv1"]: m.bn1.running_var,
        "L%d.mean" % idx[n4]: b4.bn2.running_mean,
        "L%d.var" % idx[n4]: b4.bn2.running_var,
    }
    # contiguous NCHW copies: our OIHW layout, whatever the memory format
    grab = lambda p: p.detach().float().contiguous().clone()  # noqa: E731
    losses = []
    for step in range(3):
        opt.zero_grad()
        feat = body(m, x)
        logits = fc(F.adaptive_avg_pool2d(feat, 1).flatten(1))
        loss = F.cross_entropy(logits, t)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            for k, p in watch.items():
                tensors[prefix + "g." + k] = grab(p.grad)
        opt.step()
        if step == 0:
            for k, p in watch.items():
                tensors[prefix + "w1." + k] = grab(p)
    tensors[prefix + "loss"] = np.array(losses, np.float32)
    for k, p in watch.items():
        tensors[prefix + "w." + k] = grab(p)
    for k, s_ in stats.items():
        tensors[prefix + "s." + k] = grab(s_)
    return losses


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in BODIES:
        sys.exit("usage: resnet_ref.py {%s} OUTDIR" % "|".join(sorted(BODIES)))
    name, out = sys.argv[1], sys.argv[2]
    cfg = os.path.join(ROOT, "cfg", name + ".cfg")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    m = make_model(name)
    # the training input (below) first: the model's BN shifts are fitted to it
    torch.manual_seed(2)
    fc0 = torch.nn.Linear(512, 10)
    x0 = torch.randn(4, 3, 64, 64)
    t = torch.tensor([3, 7, 0, 9])
    for stage, (bad, mn) in clear_kinks(m, x0).items():
        if bad:
            sys.exit("resnet_ref %s: %d channels of %s keep a ReLU input within %g of 0"
                     % (name, bad, stage, KINK_MARGIN[stage]))
        print("resnet_ref %s: %s: smallest |ReLU input| %.2e (margin %g)"
              % (name, stage, mn, KINK_MARGIN[stage]))
    n_params = sum(p.numel() for k, p in m.named_parameters() if not k.startswith("fc."))
    pth = os.path.join(out, name + ".pth")
    torch.save(m.state_dict(), pth)
    # the importer as a user runs it
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "import_torchvision.py"), pth,
                    os.path.join(out, "body.weights"), "--cfg", cfg], check=True)
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    idx, n_body = layer_index(sd, cfg)

    # 1. eval mode, 224x224, batch 2
    torch.manual_seed(1)
    x = torch.randn(2, 3, 224, 224)
    m.eval()
    with torch.no_grad():
        y = body(m, x)
    assert y.shape == (2, 512, 7, 7)
    save_archive(os.path.join(out, "eval.bin"), {"x": nhwc(x), "y": nhwc(y)})

    # 2. train mode: body + avgpool + fc + cross-entropy, 3 Adam steps, from
    # the same start in float64 (the truth: names with a "d" in front) and in
    # three float32 configurations of PyTorch: NCHW (names as below),
    # channels-last ("c") and without oneDNN ("n", im2col + GEMM). BN over
    # batch 4, ReLU and max-pool decisions make the steps after the first
    # chaotic at the 1e-3..1e-2 level, so the test judges ours against float64
    # by how far the farthest of PyTorch's float32 runs is from it.
    tensors = {"x": nhwc(x0), "truth": t.float().reshape(4, 1),
               "fc.weights": fc0.weight.detach().clone(), "fc.bias": fc0.bias.detach().clone()}
    fc_idx = n_body + 1  # [avgpool] then [connected]
    start = {k: v.clone() for k, v in m.state_dict().items()}
    runs = (("", torch.float32, False, True), ("d", torch.float64, False, True),
            ("c", torch.float32, True, True), ("n", torch.float32, False, False))
    for prefix, dtype, channels_last, onednn in runs:
        m = make_model(name).to(dtype)
        m.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v
                           for k, v in start.items()})
        x = x0.to(dtype)
        if channels_last:
            m, x = m.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
        with torch.backends.mkldnn.flags(enabled=onednn):
            losses = train_run(m, fc0, x, t, dtype, idx, fc_idx, BODIES[name], prefix, tensors)
        if prefix == "":
            losses32 = losses
    save_archive(os.path.join(out, "train.bin"), tensors)
    with open(os.path.join(out, "train.txt"), "w") as f:
        f.write("body_layers %d\nfc_layer %d\nbody_params %d\n" % (n_body, fc_idx, n_params))
    print("resnet_ref %s: %d parameters without fc; losses %s; files in %s"
          % (name, n_params, " ".join("%.6f" % v for v in losses32), out))


if __name__ == "__main__":
    main()
