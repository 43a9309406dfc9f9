"""The non-convolution layers against PyTorch: [batchnorm], [dropout] (eval),
[maxpool], [avgpool], [shortcut], [route], [flatten], [connected], [softmax],
[cost]. Odd shapes on purpose: batch 3, 7x9 maps, stride 2 over odd sizes,
padding, overlapping windows, ties, a layer consumed twice.
Dropout in training mode is random: tests/test_dropout.c checks it."""
import torch
import torch.nn.functional as F

from common import case, nhwc


def net(b, h, w, c):
    return "[net]\nbatch=%d\nheight=%d\nwidth=%d\nchannels=%d\n" % (b, h, w, c)


def leaf(*shape, ints=False):
    """A random input with requires_grad; `ints`: small integers, so that
    pooling windows hold ties."""
    if ints:
        t = torch.randint(-2, 3, shape).float()
    else:
        t = torch.randn(*shape)
    return t.requires_grad_(True)


def grads(y):
    """Backward with a random dy; returns dy."""
    dy = torch.randn_like(y)
    y.backward(dy)
    return dy


def out2(t):
    """A (B, N) or (B, C, 1, 1) result as our (B, N)."""
    return t.detach().reshape(t.shape[0], -1)


# --- batchnorm ------------------------------------------------------------------

def bn_case(name, shape, train, momentum=0.1, eps=1e-5, act="linear", offset=0.0):
    """`offset`: a mean far from 0 against the spread (a one-pass variance
    E[x^2] - E[x]^2 would cancel)."""
    b, c, h, w = shape
    x = (torch.randn(*shape) * (0.5 if offset else 1.0) + offset).requires_grad_(True)
    scale = torch.rand(c) + 0.5
    shift = torch.randn(c) * 0.5
    mean = torch.randn(c) * 0.3
    var = torch.rand(c) + 0.5
    p = [t.clone().requires_grad_(True) for t in (scale, shift)]
    rm, rv = mean.clone(), var.clone()
    z = F.batch_norm(x, rm, rv, p[0], p[1], training=train, momentum=momentum, eps=eps)
    y = {"linear": lambda t: t, "relu": F.relu, "leaky": lambda t: F.leaky_relu(t, 0.1)}[act](z)
    dy = grads(y)
    keys = ""
    if momentum != 0.1:
        keys += "momentum=%g\n" % momentum
    if eps != 1e-5:
        keys += "eps=%g\n" % eps
    if act != "linear":
        keys += "activation=%s\n" % act
    cfg = net(b, h, w, c) + "\n[batchnorm]\n" + keys
    t = {"x": nhwc(x), "L0.scale": scale, "L0.shift": shift, "L0.mean": mean, "L0.var": var,
         "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad),
         "L0.scale.grad": p[0].grad, "L0.shift.grad": p[1].grad,
         "L0.mean.after": rm, "L0.var.after": rv}
    return case(name, cfg, train, t, tol=1e-4)


def batchnorm_cases():
    return [
        bn_case("bn_train_7x9", (3, 5, 7, 9), True),
        bn_case("bn_eval_7x9", (3, 5, 7, 9), False),
        bn_case("bn_train_relu_m02", (3, 6, 5, 3), True, momentum=0.2, eps=1e-3, act="relu"),
        bn_case("bn_eval_leaky", (2, 4, 3, 5), False, act="leaky"),
        # BatchNorm1d: (B, N) seen as 1x1xN
        bn_case("bn1d_train", (3, 11, 1, 1), True),
        bn_case("bn1d_eval", (3, 11, 1, 1), False),
        bn_case("bn_train_offset", (4, 16, 9, 7), True, offset=20.0),
        bn_case("bn1d_train_offset", (64, 32, 1, 1), True, offset=20.0),
    ]


# --- dropout (eval: identity) ------------------------------------------------------

def dropout_cases():
    out = []
    for name, p, train in (("dropout_eval", 0.5, False), ("dropout_p0_train", 0.0, True)):
        x = leaf(3, 4, 7, 9)
        y = F.dropout(x, p, training=train)
        dy = grads(y)
        cfg = net(3, 7, 9, 4) + "\n[dropout]\np=%g\n" % p
        out.append(case(name, cfg, train,
                        {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                        tol=1e-6))
    return out


# --- pooling ------------------------------------------------------------------------

def pool_keys(size, stride, pad):
    s = "size=%d\n" % size
    if stride != size:
        s += "stride=%d\n" % stride
    if pad:
        s += "pad=%d\n" % pad
    return s


def maxpool_cases():
    out = []
    for name, shape, k, s, p, ints in (
        ("maxpool_2s2_7x9", (3, 4, 7, 9), 2, 2, 0, False),
        ("maxpool_3s2p1_7x9", (3, 5, 7, 9), 3, 2, 1, False),
        ("maxpool_3s1_overlap", (2, 3, 6, 5), 3, 1, 0, False),
        ("maxpool_3s2p1_ties", (3, 4, 7, 9), 3, 2, 1, True),
        ("maxpool_2s1p1_ties", (2, 3, 5, 6), 2, 1, 1, True),
        ("maxpool_3s3_c1", (3, 1, 9, 7), 3, 3, 0, False),
    ):
        b, c, h, w = shape
        x = leaf(*shape, ints=ints)
        y = F.max_pool2d(x, k, s, p)
        dy = grads(y)
        cfg = net(b, h, w, c) + "\n[maxpool]\n" + pool_keys(k, s, p)
        out.append(case(name, cfg, True,
                        {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                        tol=1e-6))
    return out


def avgpool_cases():
    out = []
    x = leaf(3, 5, 7, 9)
    y = F.adaptive_avg_pool2d(x, 1)
    dy = grads(y)
    out.append(case("avgpool_global_7x9", net(3, 7, 9, 5) + "\n[avgpool]\n", True,
                    {"x": nhwc(x), "y": out2(y), "dy": out2(dy), "dx": nhwc(x.grad)},
                    tol=1e-5))
    for name, shape, k, s, p in (
        ("avgpool_3s2p1_7x9", (3, 5, 7, 9), 3, 2, 1),
        ("avgpool_2s2_7x9", (3, 4, 7, 9), 2, 2, 0),
        ("avgpool_3s1_overlap", (2, 3, 6, 5), 3, 1, 0),
        ("avgpool_2s1p1", (2, 3, 5, 6), 2, 1, 1),
    ):
        b, c, h, w = shape
        x = leaf(*shape)
        y = F.avg_pool2d(x, k, s, p, count_include_pad=True)
        dy = grads(y)
        cfg = net(b, h, w, c) + "\n[avgpool]\n" + pool_keys(k, s, p)
        out.append(case(name, cfg, True,
                        {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                        tol=1e-5))
    return out


# --- shortcut and route ------------------------------------------------------------------

def shortcut_cases():
    out = []
    # relu(leaky(tanh x) + tanh x): two paths back into layer 0
    x = leaf(3, 4, 7, 9)
    a = torch.tanh(x)
    b = F.leaky_relu(a, 0.1)
    y = F.relu(b + a)
    dy = grads(y)
    cfg = net(3, 7, 9, 4) + """
[activation]
activation=tanh

[activation]
activation=leaky

[shortcut]
from=0
activation=relu
"""
    out.append(case("shortcut_relu", cfg, True,
                    {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                    tol=1e-5))
    # from=-1: both inputs are the same layer (the engine's assign-then-add)
    x = leaf(2, 3, 5, 4)
    a = torch.sigmoid(x)
    y = a + a
    dy = grads(y)
    cfg = net(2, 5, 4, 3) + """
[activation]
activation=sigmoid

[shortcut]
from=-1
"""
    out.append(case("shortcut_same_layer", cfg, True,
                    {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                    tol=1e-5))
    return out


def route_cases():
    out = []
    # concat(sigmoid(tanh x), tanh x, tanh x) with layer 0 listed twice
    x = leaf(3, 4, 7, 9)
    a = torch.tanh(x)
    b = torch.sigmoid(a)
    y = torch.cat([b, a, a], 1)
    dy = grads(y)
    cfg = net(3, 7, 9, 4) + """
[activation]
activation=tanh

[activation]
activation=sigmoid

[route]
layers=-1,0,-2
"""
    out.append(case("route_concat_dup", cfg, True,
                    {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                    tol=1e-5))
    # inputs of different widths: route(0,0) -> 6 ch, sigmoid, route(-1, 0) -> 9 ch;
    # then a single-input route (a copy) of that
    x = leaf(2, 3, 5, 6)
    a = torch.tanh(x)
    r = torch.cat([a, a], 1)
    s = torch.sigmoid(r)
    y = torch.cat([s, a], 1)
    dy = grads(y)
    cfg = net(2, 5, 6, 3) + """
[activation]
activation=tanh

[route]
layers=0,0

[activation]
activation=sigmoid

[route]
layers=-1,0

[route]
layers=3
"""
    out.append(case("route_widths_copy", cfg, True,
                    {"x": nhwc(x), "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)},
                    tol=1e-5))
    return out


# --- flatten and connected ----------------------------------------------------------------

def flatten_cases():
    x = leaf(3, 5, 7, 9)
    y = torch.flatten(x, 1)
    dy = grads(y)
    return [case("flatten_7x9", net(3, 7, 9, 5) + "\n[flatten]\n", True,
                 {"x": nhwc(x), "y": y, "dy": dy, "dx": nhwc(x.grad)}, tol=1e-7)]


def connected_cases():
    out = []
    # on a 1x1xN input, with bias
    x = leaf(3, 37)
    fc = torch.nn.Linear(37, 11)
    y = fc(x)
    dy = grads(y)
    out.append(case("connected_1x1", net(3, 1, 1, 37) + "\n[connected]\noutput=11\n", True,
                    {"x": x, "L0.bias": fc.bias, "L0.weights": fc.weight, "y": y, "dy": dy,
                     "dx": x.grad, "L0.bias.grad": fc.bias.grad,
                     "L0.weights.grad": fc.weight.grad}, tol=1e-5))
    # flatten (PyTorch order) + connected + relu: weights import unchanged
    x = leaf(3, 5, 7, 9)
    fc = torch.nn.Linear(5 * 7 * 9, 13)
    y = F.relu(fc(torch.flatten(x, 1)))
    dy = grads(y)
    cfg = net(3, 7, 9, 5) + "\n[flatten]\n\n[connected]\noutput=13\nactivation=relu\n"
    out.append(case("connected_flatten_relu", cfg, True,
                    {"x": nhwc(x), "L1.bias": fc.bias, "L1.weights": fc.weight, "y": y,
                     "dy": dy, "dx": nhwc(x.grad), "L1.bias.grad": fc.bias.grad,
                     "L1.weights.grad": fc.weight.grad}, tol=1e-5))
    # no flatten: the NHWC vector in memory order; no bias; leaky
    x = leaf(3, 3, 5, 4)  # (B, H, W, C) directly
    fc = torch.nn.Linear(3 * 5 * 4, 6, bias=False)
    y = F.leaky_relu(fc(x.reshape(3, -1)), 0.1)
    dy = grads(y)
    cfg = net(3, 3, 5, 4) + "\n[connected]\noutput=6\nbias=0\nactivation=leaky\n"
    out.append(case("connected_nhwc_nobias", cfg, True,
                    {"x": x, "L0.weights": fc.weight, "y": y, "dy": dy, "dx": x.grad,
                     "L0.weights.grad": fc.weight.grad}, tol=1e-5))
    # the lesson's single-object head: flatten, relu, dropout, fc, relu, BN1d,
    # dropout, fc (dropout p=0 so that training mode stays deterministic)
    x = leaf(3, 6, 3, 5)
    fc1, fc2 = torch.nn.Linear(6 * 3 * 5, 16), torch.nn.Linear(16, 9)
    bn = torch.nn.BatchNorm1d(16)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0, 0.3)
        bn.running_mean.normal_(0, 0.3)
        bn.running_var.uniform_(0.5, 1.5)
    params = {"L3.bias": fc1.bias.detach().clone(), "L3.weights": fc1.weight.detach().clone(),
              "L4.scale": bn.weight.detach().clone(), "L4.shift": bn.bias.detach().clone(),
              "L4.mean": bn.running_mean.clone(), "L4.var": bn.running_var.clone(),
              "L6.bias": fc2.bias.detach().clone(), "L6.weights": fc2.weight.detach().clone()}
    bn.train()
    y = fc2(bn(F.relu(fc1(F.relu(torch.flatten(x, 1))))))
    dy = grads(y)
    cfg = net(3, 3, 5, 6) + """
[flatten]

[activation]
activation=relu

[dropout]
p=0

[connected]
output=16
activation=relu

[batchnorm]

[dropout]
p=0

[connected]
output=9
"""
    t = dict(params)
    t.update({"x": nhwc(x), "y": y, "dy": dy, "dx": nhwc(x.grad),
              "L3.bias.grad": fc1.bias.grad, "L3.weights.grad": fc1.weight.grad,
              "L4.scale.grad": bn.weight.grad, "L4.shift.grad": bn.bias.grad,
              "L4.mean.after": bn.running_mean, "L4.var.after": bn.running_var,
              "L6.bias.grad": fc2.bias.grad, "L6.weights.grad": fc2.weight.grad})
    out.append(case("head_single_train", cfg, True, t, tol=2e-4))
    return out


# --- losses -------------------------------------------------------------------------------

def softmax_cases():
    out = []
    # directly on a (B, N) input
    x = leaf(3, 10)
    target = torch.tensor([2, 9, 0])
    loss = F.cross_entropy(x, target)
    loss.backward()
    out.append(case("softmax_ce", net(3, 1, 1, 10) + "\n[softmax]\n", True,
                    {"x": x, "truth": target.float().reshape(3, 1),
                     "y": F.softmax(x, 1), "loss": loss.reshape(()), "dx": x.grad},
                    tol=1e-5))
    # global avgpool + fc + softmax: the largest-object classifier's head
    x = leaf(3, 8, 7, 9)
    fc = torch.nn.Linear(8, 20)
    target = torch.tensor([19, 4, 4])
    logits = fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
    loss = F.cross_entropy(logits, target)
    loss.backward()
    cfg = net(3, 7, 9, 8) + "\n[avgpool]\n\n[connected]\noutput=20\n\n[softmax]\n"
    out.append(case("softmax_avgpool_fc", cfg, True,
                    {"x": nhwc(x), "L1.bias": fc.bias, "L1.weights": fc.weight,
                     "truth": target.float().reshape(3, 1), "y": F.softmax(logits, 1),
                     "loss": loss.reshape(()), "dx": nhwc(x.grad),
                     "L1.bias.grad": fc.bias.grad, "L1.weights.grad": fc.weight.grad},
                    tol=1e-5))
    return out


def cost_cases():
    out = []
    for kind, fn in (("l2", F.mse_loss), ("l1", F.l1_loss)):
        # a spatial input: truth in the same NHWC memory order
        x = leaf(3, 4, 2, 5)  # NCHW
        t = torch.randn(3, 4, 2, 5)
        loss = fn(x, t)
        loss.backward()
        keys = "" if kind == "l2" else "type=l1\n"
        out.append(case("cost_%s_spatial" % kind, net(3, 2, 5, 4) + "\n[cost]\n" + keys, True,
                        {"x": nhwc(x), "truth": nhwc(t).reshape(3, -1), "y": nhwc(x),
                         "loss": loss.reshape(()), "dx": nhwc(x.grad)}, tol=1e-5))
    # the bbox model's head: flatten, fc to 4, L1 against pixel boxes
    x = leaf(3, 5, 3, 3)
    fc = torch.nn.Linear(45, 4)
    t = torch.rand(3, 4) * 224
    o = fc(torch.flatten(x, 1))
    loss = F.l1_loss(o, t)
    loss.backward()
    cfg = net(3, 3, 3, 5) + "\n[flatten]\n\n[connected]\noutput=4\n\n[cost]\ntype=l1\n"
    out.append(case("cost_l1_bbox_head", cfg, True,
                    {"x": nhwc(x), "L1.bias": fc.bias, "L1.weights": fc.weight, "truth": t,
                     "y": o, "loss": loss.reshape(()), "dx": nhwc(x.grad),
                     "L1.bias.grad": fc.bias.grad, "L1.weights.grad": fc.weight.grad},
                    tol=1e-5))
    return out


def cases():
    return (batchnorm_cases() + dropout_cases() + maxpool_cases() + avgpool_cases() +
            shortcut_cases() + route_cases() + flatten_cases() + connected_cases() +
            softmax_cases() + cost_cases())
