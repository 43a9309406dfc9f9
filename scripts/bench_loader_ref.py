#!/usr/bin/python3
"""Reference loader pipeline in Python/OpenCV, one core: decode, linear resize
to size x size, BGR->RGB, ImageNet normalise into float32 NHWC. Prints
images/s. Usage: bench_loader_ref.py IMAGE_LIST_OR_DIR... [-size 224] [-images 2000]"""
import sys, time, os
import cv2
import numpy as np

def main():
    args, size, total = [], 224, 2000
    it = iter(sys.argv[1:])
    for a in it:
        if a == "-size": size = int(next(it))
        elif a == "-images": total = int(next(it))
        else: args.append(a)
    paths = []
    for a in args:
        if os.path.isdir(a):
            paths += sorted(os.path.join(a, f) for f in os.listdir(a) if f.lower().endswith((".jpg", ".jpeg", ".png")))
        else:
            paths.append(a)
    cv2.setNumThreads(1)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    out = np.empty((size, size, 3), np.float32)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while n < total:
        for p in paths:
            im = cv2.imread(p, cv2.IMREAD_COLOR)
            im = cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR)
            out[...] = (im[:, :, ::-1].astype(np.float32) / 255.0 - mean) / std
            n += 1
            if n >= total: break
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"python  cv2 {cv2.__version__} reference, 1 thread, {size}x{size}: {n / dt:6.0f} images/s wall "
          f"({n} in {dt:.2f} s), {n / cpu:5.0f} images per CPU-second")

main()
