#!/usr/bin/env python3
"""PyTorch reference for tests/test_resnet34.c.

usage: resnet34_ref.py OUTDIR

Writes to OUTDIR:
  resnet34.pth    a seeded random torchvision resnet34 whose BatchNorms have
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
                  (L<i> = our layer index in cfg/resnet34.cfg + head)
"""
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

CFG = os.path.join(ROOT, "cfg", "resnet34.cfg")


def body(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x))))


def make_model():
    torch.manual_seed(34)
    m = torchvision.models.resnet34()
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


def layer_index(sd):
    """torchvision conv prefix -> our layer index (from the cfg, as the importer maps it)."""
    layers = imp.convert(sd, imp.read_cfg(CFG), CFG)
    pairs = imp.torchvision_pairs(sd)
    convs = [idx for idx, name, _ in layers if name == "convolutional"]
    return {conv: idx for (conv, _), idx in zip(pairs, convs)}, len(layers)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: resnet34_ref.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    m = make_model()
    pth = os.path.join(out, "resnet34.pth")
    torch.save(m.state_dict(), pth)
    # the importer as a user runs it
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "import_torchvision.py"), pth,
                    os.path.join(out, "body.weights"), "--cfg", CFG], check=True)
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    idx, n_body = layer_index(sd)

    # 1. eval mode, 224x224, batch 2
    torch.manual_seed(1)
    x = torch.randn(2, 3, 224, 224)
    m.eval()
    with torch.no_grad():
        y = body(m, x)
    assert y.shape == (2, 512, 7, 7)
    save_archive(os.path.join(out, "eval.bin"), {"x": nhwc(x), "y": nhwc(y)})

    # 2. train mode: body + avgpool + fc + cross-entropy, 3 Adam steps, once
    # in float32 (names as below) and once in float64 (the same names with a
    # "d" in front): this training is chaotic at the 1e-2 level in early
    # layers (BN over batch 4, ReLU and max-pool decisions), so the test
    # judges ours against float64 by how far PyTorch's float32 is from it.
    torch.manual_seed(2)
    fc0 = torch.nn.Linear(512, 10)
    x0 = torch.randn(4, 3, 64, 64)
    t = torch.tensor([3, 7, 0, 9])
    tensors = {"x": nhwc(x0), "truth": t.float().reshape(4, 1),
               "fc.weights": fc0.weight.detach().clone(), "fc.bias": fc0.bias.detach().clone()}
    fc_idx = n_body + 1  # [avgpool] then [connected]
    m32, start = m, {k: v.clone() for k, v in m.state_dict().items()}
    for prefix, dtype in (("", torch.float32), ("d", torch.float64)):
        if dtype == torch.float32:
            m = m32
        else:  # the same start in float64 (m32 has trained by now)
            m = make_model().to(dtype)
            m.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v
                               for k, v in start.items()})
        fc = torch.nn.Linear(512, 10).to(dtype)
        with torch.no_grad():
            fc.weight.copy_(fc0.weight), fc.bias.copy_(fc0.bias)
        x = x0.to(dtype)
        m.train()
        params = list(m.parameters()) + list(fc.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)
        watch = {  # (our name, torch tensor)
            "L%d.weights" % idx["conv1"]: m.conv1.weight,
            "L%d.scale" % idx["conv1"]: m.bn1.weight,
            "L%d.shift" % idx["conv1"]: m.bn1.bias,
            "L%d.weights" % idx["layer2.0.downsample.0"]: m.layer2[0].downsample[0].weight,
            "L%d.scale" % idx["layer2.0.downsample.0"]: m.layer2[0].downsample[1].weight,
            "L%d.weights" % idx["layer3.3.conv1"]: m.layer3[3].conv1.weight,
            "L%d.weights" % idx["layer4.2.conv2"]: m.layer4[2].conv2.weight,
            "L%d.shift" % idx["layer4.2.conv2"]: m.layer4[2].bn2.bias,
            "L%d.weights" % fc_idx: fc.weight,  # Linear: (out, in), as ours
            "L%d.bias" % fc_idx: fc.bias,
        }
        stats = {
            "L%d.mean" % idx["conv1"]: m.bn1.running_mean,
            "L%d.var" % idx["conv1"]: m.bn1.running_var,
            "L%d.mean" % idx["layer4.2.conv2"]: m.layer4[2].bn2.running_mean,
            "L%d.var" % idx["layer4.2.conv2"]: m.layer4[2].bn2.running_var,
        }
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
                    tensors[prefix + "g." + k] = p.grad.detach().float().clone()
            opt.step()
            if step == 0:
                for k, p in watch.items():
                    tensors[prefix + "w1." + k] = p.detach().float().clone()
        tensors[prefix + "loss"] = np.array(losses, np.float32)
        for k, p in watch.items():
            tensors[prefix + "w." + k] = p.detach().float().clone()
        for k, s_ in stats.items():
            tensors[prefix + "s." + k] = s_.detach().float().clone()
    save_archive(os.path.join(out, "train.bin"), tensors)
    with open(os.path.join(out, "train.txt"), "w") as f:
        f.write("body_layers %d\nfc_layer %d\n" % (n_body, fc_idx))
    print("resnet34_ref: losses %s; files in %s" % (" ".join("%.6f" % v for v in losses), out))


if __name__ == "__main__":
    main()
