"""[activation]: element-wise activations against torch.nn.functional."""
import torch
import torch.nn.functional as F

from common import case, nhwc

ACTS = {
    "linear": lambda x: x,
    "relu": F.relu,
    "leaky": lambda x: F.leaky_relu(x, 0.1),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def cases():
    out = []
    for name, fn in ACTS.items():
        x = torch.randn(2, 3, 5, 4, requires_grad=True)  # (B, C, H, W)
        y = fn(x)
        dy = torch.randn_like(y)
        y.backward(dy)
        cfg = """
[net]
batch=2
height=5
width=4
channels=3

[activation]
activation=%s
""" % name
        out.append(case("activation_" + name, cfg, True,
                        {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                        tol=1e-5))
    return out
