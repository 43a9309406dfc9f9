#!/usr/bin/env python3
"""The scaling model of data-parallel training (docs/DISTRIBUTED.md, "Scaling").

Per step, each of N nodes computes forward + backward + step in T_c seconds
(measured on one node, its backward a fraction f_b of it), then the
gradients (P floats, S = 4P bytes) are averaged by a ring all-reduce:

    T_ar(N) = 2 (N - 1) / N * S / B  +  2 (N - 1) * alpha

(B: the link's bandwidth, alpha: one message's latency; a ring sends
2(N - 1) chunks of S/N per node). The step takes

    no overlap:  T_c + T_ar
    overlap:     T_c + max(T_ar - f_b T_c, T_ar / k)

(the all-reduce of the first buckets runs while backward goes on; the last
of k buckets is never hidden; this needs a core free for the communication
thread). Efficiency E(N) = T_c / T_step; images/s = E N batch / T_c.

Measured inputs (scripts/bench_dist.sh writes them): this machine's
all-reduce table (bench_allreduce.c: floats, bytes, seconds) for B and
alpha of the loopback, and T_c, f_b of the cfg. The links' B and alpha
(1/10/100 GbE) are stated assumptions, printed with the table.

usage: dist_model.py ALLREDUCE_TABLE T_C F_B PARAMS BATCH [TWO_RANK_IMG_S[/ONE_PROCESS_IMG_S]] [BUCKET_MB]
"""
import sys


def fit(table):
    """alpha from the smallest message, B from the largest (N = 2: one chunk
    each way, T_ar = S / B + 2 alpha for the two-rank run)."""
    rows = []
    for line in open(table):
        if line.startswith("#") or not line.strip():
            continue
        n, b, t = line.split()
        rows.append((float(b), float(t)))
    rows.sort()
    alpha = rows[0][1] / 2
    bw = rows[-1][0] / (rows[-1][1] - 2 * alpha)
    return alpha, bw, rows


def t_ar(n, s, bw, alpha):
    return 2 * (n - 1) / n * s / bw + 2 * (n - 1) * alpha if n > 1 else 0.0


def step(tc, fb, tar, k, overlap):
    return tc + (max(tar - fb * tc, tar / k) if overlap else tar)


def main():
    table, tc, fb, params, batch = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    # MEASURED: "2-rank img/s" or "2-rank img/s/1-process img/s"
    m6 = sys.argv[6].split("/") if len(sys.argv) > 6 and sys.argv[6] != "-" else None
    meas = float(m6[0]) if m6 else None
    one = float(m6[1]) if m6 and len(m6) > 1 else None
    bucket = float(sys.argv[7]) if len(sys.argv) > 7 else 16.0
    s = 4.0 * params
    k = max(1, int(s / (bucket * 2**20) + 0.999))
    alpha, bw, rows = fit(table)
    print("Inputs: T_c = %.3f s per step of batch %d (backward %.0f%% of it), P = %d floats (S = %.1f MB), %d buckets of %g MB"
          % (tc, batch, 100 * fb, params, s / 1e6, k, bucket))
    print("Loopback fit (2 ranks, this machine): B = %.2f GB/s, alpha = %.1f us" % (bw / 1e9, alpha * 1e6))
    for b, t in rows[1:-1]:
        if b >= 1e6:
            print("  check: %d bytes measured %.4f s, model %.4f s" % (b, t, b / bw + 2 * alpha))
    tar2 = t_ar(2, s, bw, alpha) * 2 / 2  # N = 2: S / B + 2 alpha
    if meas is not None:
        # on this 2-core machine the communication thread has no core of its
        # own: the prediction without overlap is the one that applies
        # 2 ranks x 1 thread, batch / 2 each: T_c per step (the 2-thread
        # batch's time), the same global batch
        p = batch / step(tc, fb, tar2, k, False)
        print("\n| 2 ranks on this machine (loopback) | images/s |\n|---|---|")
        print("| predicted (T_c + T_ar, T_ar = %.3f s) | %.1f |" % (tar2, p))
        print("| measured (scripts/bench_dist.sh) | %.1f |" % meas)
        print("| measured / predicted | %.2f |" % (meas / p))
        if one:
            print("| 2 ranks / 1 process x 2 threads: measured | %.2f |" % (meas / one))
            print("| 2 ranks / 1 process x 2 threads: model, T_c / (T_c + T_ar) | %.2f |"
                  % (tc / step(tc, fb, tar2, k, False)))
    links = [("1 GbE", 0.94 * 1e9 / 8, 50e-6), ("10 GbE", 0.94 * 10e9 / 8, 20e-6), ("100 GbE", 0.94 * 100e9 / 8, 5e-6)]
    print("\nAssumed links: payload bandwidth 94% of line rate (TCP/IP over Ethernet), latency per message 50 / 20 / 5 us.")
    print("\n| link | nodes | T_ar s | efficiency, no overlap | efficiency, overlap | images/s (overlap) |")
    print("|---|---|---|---|---|---|")
    for name, b, a in links:
        for n in (2, 8, 64):
            t = t_ar(n, s, b, a)
            e0 = tc / step(tc, fb, t, k, False)
            e1 = tc / step(tc, fb, t, k, True)
            print("| %s | %d | %.3f | %.2f | %.2f | %.0f |" % (name, n, t, e0, e1, e1 * n * batch / tc))


if __name__ == "__main__":
    main()
