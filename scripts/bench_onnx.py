#!/usr/bin/python3
"""ONNX Runtime / OpenVINO reference for scripts/bench_cpu.sh: images/s of
inference on a model exported by `bench_torch.py export` (random input, fp32).

usage: bench_onnx.py RUNTIME FILE.onnx BATCH THREADS ITERS [HINT [WARMUP=2]]
  RUNTIME: ort | openvino
  ort:      intra_op threads = THREADS (workers pinned to CPUs 1..THREADS-1,
            the calling thread to CPU 0), inter_op 1, sequential, all graph
            optimizations
  openvino: CPU plugin, INFERENCE_NUM_THREADS = THREADS, pinning on, f32
            inference precision (it would pick bf16 on some CPUs), HINT
            latency (default: one stream, synchronous requests) or throughput
            (as many streams and asynchronous requests as the plugin finds
            best; img/s over all of them)
Prints img/s.
"""
import os
import sys
import time

import numpy as np


def bench_ort(path, x, threads, iters, warm):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 1:  # 1-based processor ids, one entry per worker thread
        so.add_session_config_entry(
            "session.intra_op_thread_affinities", ";".join(str(i + 1) for i in range(1, threads)))
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    os.sched_setaffinity(0, {0})  # this thread only: the workers are pinned above
    name = sess.get_inputs()[0].name
    for i in range(warm + iters):
        if i == warm:
            t0 = time.perf_counter()
        sess.run(None, {name: x})
    return time.perf_counter() - t0


def bench_openvino(path, x, threads, iters, warm, hint):
    import openvino as ov

    core = ov.Core()
    cfg = {
        "PERFORMANCE_HINT": hint.upper(),
        "INFERENCE_NUM_THREADS": threads,
        "ENABLE_CPU_PINNING": True,
        "INFERENCE_PRECISION_HINT": "f32",
    }
    model = core.read_model(path)
    model.reshape({0: list(x.shape)})  # static shapes: the plugin's best case
    compiled = core.compile_model(model, "CPU", cfg)
    if hint == "latency":
        req = compiled.create_infer_request()
        for i in range(warm + iters):
            if i == warm:
                t0 = time.perf_counter()
            req.infer({0: x})
        return time.perf_counter() - t0
    n = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    queue = ov.AsyncInferQueue(compiled, n)
    for _ in range(max(warm, n)):
        queue.start_async({0: x})
    queue.wait_all()
    t0 = time.perf_counter()
    for _ in range(iters):
        queue.start_async({0: x})
    queue.wait_all()
    return time.perf_counter() - t0


def main():
    rt, path, batch, threads, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    hint = sys.argv[6] if len(sys.argv) > 6 else "latency"
    warm = int(sys.argv[7]) if len(sys.argv) > 7 else 2
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    if rt == "ort":
        dt = bench_ort(path, x, threads, iters, warm)
    elif rt == "openvino" and hint in ("latency", "throughput"):
        dt = bench_openvino(path, x, threads, iters, warm, hint)
    else:
        raise SystemExit(f"usage: {sys.argv[0]} ort|openvino FILE.onnx BATCH THREADS ITERS [latency|throughput [WARMUP]]")
    print(f"{iters * batch / dt:.2f}")


if __name__ == "__main__":
    main()
