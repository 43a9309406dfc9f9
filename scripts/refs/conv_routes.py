"""Every convolution route against float64, on the shape classes of the
ResNet34 body and the lesson's SSD heads (docs/CPU.md, "Convolution routes").

tests/test_parity.c runs each case whose cfg has a convolution once per route
(the default, im2col + GEMM, oneDNN's direct primitives), so a route that is
wrong on the machine the test runs on fails here, whatever its ISA. The
channel counts are the real ones (64..512), so oneDNN and its sgemm take the
kernels they take in the real networks (blocked 16-wide AVX-512 or 8-wide
AVX2 layouts, long reductions up to 4608), not the small-channel paths of
conv.py's cases.

Each conv is followed by batch norm in training mode and a linear activation:
forward, backward data and backward weights all feed the checked tensors, and
nothing in the chain has a kink (ReLU, max-pool) where float32 rounding could
flip a decision and move a gradient by a large amount (docs/CPU.md explains
why that matters for a float64 comparison).
"""
from conv import build, conv_spec as S

# tol: max abs error over max |float64|. float32 routes land at 1e-7..3e-6 on
# these shapes; a route that drops a chunk, reads a stale buffer or overlaps
# a scratchpad lands at 1e-3 and above.
TOL = 2e-5


def cases():
    bn = dict(bias=False, bn=True)
    return [
        # conv1: 7x7 stride 2 on the image; 3 x 32 x 32 = 3072 output pixels,
        # two chunks of the GEMM's backward weights
        build("route_stem_k7s2", 3, 3, 64, 64, [S(64, 7, 2, 3, **bn)], True, tol=TOL),
        # layer1: 3x3 stride 1, 64 channels
        build("route_k3s1_c64", 2, 64, 16, 16, [S(64, 3, 1, 1, **bn)], True, tol=TOL),
        # layer2's first conv: 3x3 stride 2, 64 -> 128
        build("route_k3s2_c64_128", 2, 64, 16, 16, [S(128, 3, 2, 1, **bn)], True, tol=TOL),
        # the 1x1 stride-2 projection of the shortcut
        build("route_k1s2_proj", 2, 64, 16, 16, [S(128, 1, 2, 0, **bn)], True, tol=TOL),
        # layer3 / layer4: 3x3 on 4x4 and 2x2 grids, reductions of 2304 and 4608
        build("route_k3s1_c256_4x4", 2, 256, 4, 4, [S(256, 3, 1, 1, **bn)], True, tol=TOL),
        build("route_k3s1_c512_2x2", 2, 512, 2, 2, [S(512, 3, 1, 1, **bn)], True, tol=TOL),
        # the SSD head: StdConv 3x3 (bias, BN) on the 7x7 body output, then
        # stride 2 to 4x4, 2x2, 1x1
        build("route_head_7x7", 2, 512, 7, 7, [S(256, 3, 1, 1, bn=True)], True, tol=TOL),
        build("route_head_s2_7to4", 2, 256, 7, 7, [S(256, 3, 2, 1, bn=True)], True, tol=TOL),
        build("route_head_s2_4to2", 2, 256, 4, 4, [S(256, 3, 2, 1, bn=True)], True, tol=TOL),
        # (batch 8: batch norm over 2 values per channel, a batch of 2 on a
        # 1x1 grid, is +-1 whatever the input, and amplifies rounding)
        build("route_head_s2_2to1", 8, 256, 2, 2, [S(256, 3, 2, 1, bn=True)], True, tol=TOL),
        # OutConv: 3x3 with bias, no BN, 9 anchors x (4 + 20) outputs, on the
        # 4x4 / 2x2 / 1x1 grids (on 1x1 all but the centre tap read padding)
        build("route_out_4x4", 2, 256, 4, 4, [S(216, 3, 1, 1)], True, tol=TOL),
        build("route_out_2x2", 2, 256, 2, 2, [S(216, 3, 1, 1)], True, tol=TOL),
        build("route_out_1x1", 2, 256, 1, 1, [S(216, 3, 1, 1)], True, tol=TOL),
        # a chain: the second conv's backward data feeds the first's BN
        build("route_chain_c64", 2, 64, 16, 16, [S(64, 3, 1, 1, **bn), S(64, 3, 1, 1, **bn)],
              True, tol=TOL),
        # inference: BN folded into the conv's weights
        build("route_eval_k3s1_c128", 2, 128, 8, 8, [S(128, 3, 1, 1, **bn)], False, tol=TOL),
    ]
