#!/usr/bin/env python3
"""The Python binding's overhead (docs/PYTHON.md): detect() of one picture
at batch 1 from Python, against dt_detector_detect timed in C (a tiny
timing loop compiled here against the same library), on the same model,
picture and threads. Not run by the tests (it measures this machine).

    python3 scripts/bench_python.py [--cfg cfg/ssd.cfg] [--weights W]
                                    [--threads 2] [--iters 30] [--image F.ppm]

Needs numpy and the detector package (pip install ./python, or
PYTHONPATH=python from the repository root), make (build/libdetector.so)
and a C compiler. With onnxruntime and openvino importable (the test venv:
`$(sh scripts/test_venv.sh) scripts/bench_python.py`), a second row runs
the same model exported with `detector export -decode` (docs/EXPORT.md) in
ONNX Runtime and OpenVINO at the same thread count, on a picture already at
the network's size (their graphs take that size; ours resizes), each
runtime's calls in blocks, the blocks taken three times round; decoding and
NMS are inside every column."""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))  # the checkout's package if not installed
import detector  # noqa: E402

# dt_detector_detect timed in C, called on the Python model's own handle, so
# that C and Python calls alternate on one model under the same load.
C_TIMER = r"""
#define _POSIX_C_SOURCE 200809L
#include <detector.h>
#include <time.h>
static dt_det_box box[4096];
double timed_detect(dt_detector *d, const unsigned char *px, int w, int h, int *n) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    *n = dt_detector_detect(d, px, w, h, 3 * w, DT_PIXEL_RGB, box, 4096);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
}
"""


def main():
    p = argparse.ArgumentParser(description="Python detect() vs the C call")
    p.add_argument("--cfg", default=os.path.join(ROOT, "cfg", "ssd.cfg"))
    p.add_argument("--weights", default=None, help="(default: the cfg's initial parameters)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--image", default=None, help="a binary PPM (default: a 640x480 pattern)")
    a = p.parse_args()
    if a.image:
        with open(a.image, "rb") as f:
            data = f.read()
        parts = data.split(maxsplit=4)
        w, h = int(parts[1]), int(parts[2])
        img = np.frombuffer(parts[4][-w * h * 3:], np.uint8).reshape(h, w, 3)
    else:
        h, w = 480, 640
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([(x * 3 + y) % 256, (y * 5) % 256, (x ^ y) % 256], -1).astype(np.uint8)
    lib = detector.library_path()
    m = detector.Model(a.cfg, a.weights, threads=a.threads)
    with tempfile.TemporaryDirectory() as t:
        src, so = os.path.join(t, "timer.c"), os.path.join(t, "timer.so")
        with open(src, "w") as f:
            f.write(C_TIMER)
        libdir = os.path.dirname(os.path.abspath(lib))
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-std=c11", "-shared", "-fPIC", src,
                        "-o", so, "-I", os.path.join(ROOT, "include"), os.path.abspath(lib)],
                       check=True)
        timer = ctypes.CDLL(so)
    timer.timed_detect.restype = ctypes.c_double
    timer.timed_detect.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                   ctypes.POINTER(ctypes.c_int)]
    px = np.ascontiguousarray(img)
    n = ctypes.c_int()

    class Timed:  # the model's library, its detect call timed from inside Python
        def __init__(self, lib):
            self.lib, self.last = lib, 0.0

        def __getattr__(self, name):
            return getattr(self.lib, name)

        def dt_detector_detect_batch(self, *args):
            t = time.perf_counter()
            r = self.lib.dt_detector_detect_batch(*args)
            self.last = time.perf_counter() - t
            return r

    m._L = Timed(m._L)
    wrap_times = []
    c_times, py_times, call_times = [], [], []
    for i in range(a.warmup + a.iters):  # C and Python alternate: the same load on both
        t0 = time.perf_counter()
        tc = timer.timed_detect(m._d, px.ctypes.data, w, h, ctypes.byref(n))
        t1 = time.perf_counter()
        r = m.detect(img)
        t2 = time.perf_counter()
        if n.value < 0:
            sys.exit("detect failed")
        if i >= a.warmup:
            c_times.append(tc)
            call_times.append(t1 - t0 - tc)  # one bare ctypes call
            py_times.append(t2 - t1)
            wrap_times.append(t2 - t1 - m._L.last)  # the package's own Python work
    c_n = n.value
    net_row = onnx_row(a, m, timer)
    m.close()
    cm, pm = statistics.median(c_times), statistics.median(py_times)
    print("# %s, %s, %dx%d picture, threads %d, %d iterations after %d warm-up; median ms "
          "(min)" % (os.path.relpath(a.cfg, ROOT), a.weights or "initial parameters", w, h,
                     a.threads, a.iters, a.warmup))
    print("# library: %s; detections: C %d, Python %d" % (lib, c_n, len(r)))
    print("| %-26s | %14s | %14s | %14s | %14s |" % ("", "C API", "Python", "ONNX Runtime",
                                                       "OpenVINO"))
    print("|%s|%s|%s|%s|%s|" % ("-" * 28, "-" * 16, "-" * 16, "-" * 16, "-" * 16))
    print("| %-26s | %7.2f (%5.2f) | %7.2f (%5.2f) | %14s | %14s |" % (
        "detect, batch 1", 1e3 * cm, 1e3 * min(c_times), 1e3 * pm, 1e3 * min(py_times),
        "-", "-"))
    if net_row:
        print("| %-26s | %s |" % ("detect, %dx%d (net size)" % net_row[0], " | ".join(
            "%7.2f (%5.2f)" % (1e3 * statistics.median(t), 1e3 * min(t)) if t else "%14s" % "-"
            for t in net_row[1:])))
    print("| %-26s | %14s | %14.3f | %14s | %14s |" % ("the package's Python (ms)", "",
                                                       1e3 * statistics.median(wrap_times), "",
                                                       ""))
    print("| %-26s | %14s | %14.3f | %14s | %14s |" % ("+ one ctypes call (ms)", "",
                                                       1e3 * statistics.median(call_times), "",
                                                       ""))


def onnx_row(a, m, timer):
    """((w, h), C, Python, ORT, OpenVINO) times on a picture at the network
    size, or None without onnxruntime / openvino."""
    try:
        import onnxruntime as ort
        import openvino as ov
    except ImportError:
        print("# (no onnxruntime / openvino here: run with the test venv's python for them)")
        return None
    w, h = m.input_size
    y, x = np.mgrid[0:h, 0:w]
    img = np.ascontiguousarray(
        np.stack([(x * 3 + y) % 256, (y * 5) % 256, (x ^ y) % 256], -1).astype(np.uint8))
    with tempfile.TemporaryDirectory() as t:
        wts = a.weights
        if not wts:
            wts = os.path.join(t, "init.weights")
            m.save(wts)
        f = os.path.join(t, "m.onnx")
        subprocess.run([os.path.join(ROOT, "detector"), "export", a.cfg, wts, "-o", f, "-decode"],
                       check=True, stderr=subprocess.DEVNULL)
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = a.threads, 1
        sess = ort.InferenceSession(f, so, providers=["CPUExecutionProvider"])
        core = ov.Core()
        cm = core.compile_model(core.read_model(f), "CPU", {"INFERENCE_NUM_THREADS": a.threads,
                                                            "PERFORMANCE_HINT": "LATENCY"})
    req = cm.create_infer_request()
    x_in = np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))
    n = ctypes.c_int()

    def c_call():
        timer.timed_detect(m._d, img.ctypes.data, w, h, ctypes.byref(n))

    calls = (c_call, lambda: m.detect(img), lambda: sess.run(None, {"image": x_in}),
             lambda: req.infer({"image": x_in}))
    ts = [[], [], [], []]
    # each runtime in a block of calls (a runtime's worker threads may spin a
    # while after a call, which would slow the next runtime's call), the
    # blocks taken three times round so that all see the same load
    for _ in range(3):
        for k, f in enumerate(calls):
            for i in range(a.warmup + max(1, a.iters // 3)):
                t = time.perf_counter()
                f()
                if i >= a.warmup:
                    ts[k].append(time.perf_counter() - t)
    print("# ONNX Runtime %s, OpenVINO %s: the -decode graph (boxes, scores, classes with NMS)"
          % (ort.__version__, ov.__version__.split("-")[0]))
    return ((w, h), *ts)


if __name__ == "__main__":
    main()
