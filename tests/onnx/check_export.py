"""ONNX export against the network's own forward (docs/EXPORT.md).

For every cfg in cfg/: random weights (the detector's initialisation, saved by
`detector export -save_init`, then every bias and batch-norm tensor redrawn so that no BN is
the identity), `detector export` and `detector export -check_in/-check_out`
(our real forward on the same input), then
  * ONNX Runtime on the exported graph: its output against ours, element by
    element, err = max|ort - ours| / max|ours| <= 1e-4;
  * OpenVINO (CPU, f32 precision) loads and runs the same file: err against
    ORT's output by the same norm <= 1e-4;
  * [ssd] cfgs: the -decode graph on an RGB 0..255 image at the network size:
    ORT's boxes / scores / classes against our detections (the [ssd] layer's
    dt_ssd_layer_detect, what `detector test` prints before mapping to the
    source image): the same count and classes in the same order, scores within
    1e-5, boxes within 1e-3 px; OpenVINO's decoded result against ORT's.
Usage: check_export.py DETECTOR TMPDIR [cfg ...]
"""
import glob
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import onnxruntime as ort
import openvino as ov

TOL = 1e-4
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def save_init_weights(det, cfg, path):
    run([det, "export", cfg, "-save_init", path])


def perturb(path, seed):
    """Redraws biases and BN tensors in a version 2 weights file (format:
    docs/TRAIN.md) and rewrites its CRCs."""
    rng = np.random.default_rng(seed)
    b = bytearray(open(path, "rb").read())
    magic, ver, _seen, nl, nn = struct.unpack_from("<IIQII", b, 0)
    assert magic == 0x57544444 and ver == 2, path
    o = 24
    for _ in range(nn):
        (ln,) = struct.unpack_from("<I", b, o)
        o += 4 + ln
    o += 4  # header CRC (unchanged: the header is)
    body = o
    for _ in range(nl):
        _idx, _typ, nt = struct.unpack_from("<I24sI", b, o)
        o += 32
        for _ in range(nt):
            name = struct.unpack_from("<16s", b, o)[0].rstrip(b"\0").decode()
            dims = struct.unpack_from("<5I", b, o + 16)[1:]
            o += 36
            n = int(np.prod(dims))
            if name == "mean" or name.endswith("bias") or name == "shift":
                v = rng.normal(0, 0.5, n)
            elif name == "var":
                v = rng.uniform(0.3, 3.0, n)
            elif name == "scale":
                v = rng.uniform(0.5, 1.5, n)
            elif name in ("clas_weights", "box_weights"):
                # activations of a few units, as a trained head's: scores
                # spread over (0, 1) instead of saturating at 1 (ties would
                # leave the order of equal scores to each runtime), boxes off
                # tanh's flat tails
                v = np.frombuffer(bytes(b[o : o + 4 * n]), "<f4") * 0.02
            else:
                v = None
            if v is not None:
                b[o : o + 4 * n] = v.astype("<f4").tobytes()
            o += 4 * n
    assert o + 4 == len(b), "weights file layout not understood: %s" % path
    struct.pack_into("<I", b, o, zlib.crc32(bytes(b[body:o])) & 0xFFFFFFFF)
    open(path, "wb").write(bytes(b))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: status %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def rel_err(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    if a.shape != ref.shape:
        return float("inf")
    scale = np.abs(ref).max()
    return float(np.abs(a - ref).max() / (scale if scale > 0 else 1.0))


def ov_run(core, path, feed, names):
    """OpenVINO's outputs by the ONNX graph's output names (in graph order)."""
    m = core.compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    res = m(feed)
    return {n: np.asarray(res[o]) for n, o in zip(names, m.outputs)}


def check_cfg(det, core, tmp, cfg, batch):
    name = os.path.splitext(os.path.basename(cfg))[0]
    w = os.path.join(tmp, name + ".weights")
    save_init_weights(det, cfg, w)
    perturb(w, zlib.crc32(name.encode()))
    onnx_path = os.path.join(tmp, name + ".onnx")
    sess_in = os.path.join(tmp, name + ".in")
    ours_out = os.path.join(tmp, name + ".out")
    # the shape of the input from the exported graph itself
    run([det, "export", cfg, w, "-o", onnx_path, "-batch", str(batch)])
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    shp = sess.get_inputs()[0].shape
    x = np.random.default_rng(1).normal(0, 1, shp).astype(np.float32)
    x.tofile(sess_in)
    run([det, "export", cfg, w, "-o", onnx_path, "-batch", str(batch), "-check_in", sess_in,
         "-check_out", ours_out])
    y = sess.run(["output"], {"input": x})[0]
    ours = np.fromfile(ours_out, np.float32)
    if ours.size == y.size:
        ours = ours.reshape(y.shape)  # else rel_err reports the mismatch
    e = rel_err(y, ours)
    print("%-12s batch %d output %s: ORT vs ours %.2e (max|ours| %.3g)" % (name, batch, tuple(y.shape), e, np.abs(ours).max()))
    if not e <= TOL:
        fail("%s: ORT's output differs from ours: %.3g > %g" % (name, e, TOL))
    yo = ov_run(core, onnx_path, {"input": x}, ["output"])["output"]
    e2 = rel_err(yo, y)
    print("%-12s OpenVINO vs ORT %.2e" % (name, e2))
    if not e2 <= TOL:
        fail("%s: OpenVINO's output differs from ORT's: %.3g > %g" % (name, e2, TOL))
    if b"[ssd]" not in open(cfg, "rb").read() or batch != 1:
        return
    # the decoded graph on an RGB 0..255 picture
    dpath = os.path.join(tmp, name + "_dec.onnx")
    img = np.random.default_rng(2).uniform(0, 255, shp).astype(np.float32)
    img_in = os.path.join(tmp, name + ".img")
    img.tofile(img_in)
    run([det, "export", cfg, w, "-o", dpath, "-decode", "-check_in", img_in, "-check_out", ours_out])
    ref = np.loadtxt(ours_out + ".det", ndmin=2)
    s = ort.InferenceSession(dpath, providers=["CPUExecutionProvider"])
    boxes, scores, classes = s.run(["boxes", "scores", "classes"], {"image": img})
    n = len(scores)
    print("%-12s decoded: ORT %d detections, ours %d" % (name, n, len(ref)))
    if n != len(ref) or n == 0:
        fail("%s: decoded count %d, ours %d (or none to compare)" % (name, n, len(ref)))
        return
    if not np.array_equal(classes, ref[:, 1].astype(np.int64)):
        fail("%s: decoded classes differ from ours" % name)
    ds = np.abs(scores - ref[:, 2]).max()
    db = np.abs(boxes - ref[:, 3:7]).max()
    print("%-12s decoded: max |score diff| %.2e, max |box diff| %.2e px" % (name, ds, db))
    if not (ds <= 1e-5 and db <= 1e-3):
        fail("%s: decoded scores/boxes differ from ours: %.3g, %.3g px" % (name, ds, db))
    r = ov_run(core, dpath, {"image": img}, [o.name for o in s.get_outputs()])
    order = np.argsort(-r["scores"], kind="stable")
    if len(r["scores"]) != n:
        fail("%s: OpenVINO decoded %d detections, ORT %d" % (name, len(r["scores"]), n))
        return
    eo = max(np.abs(r["scores"][order] - scores).max(), np.abs(r["boxes"][order] - boxes).max() / shp[2])
    print("%-12s decoded: OpenVINO vs ORT %.2e, classes %s" % (name, eo, "equal" if np.array_equal(r["classes"][order], classes) else "DIFFER"))
    if not (eo <= 1e-4 and np.array_equal(r["classes"][order], classes)):
        fail("%s: OpenVINO's decoded result differs from ORT's" % name)


def main():
    det, tmp = sys.argv[1:3]
    cfgs = sys.argv[3:] or sorted(glob.glob("cfg/*.cfg")) + sorted(glob.glob("tests/onnx/*.cfg"))
    core = ov.Core()
    for cfg in cfgs:
        try:
            check_cfg(det, core, tmp, cfg, 1)
        except Exception as ex:  # a failing step is a failed check, reported
            fail("%s: %s" % (cfg, ex))
    # a batch of 2 (raw graph)
    try:
        check_cfg(det, core, tmp, "cfg/ssd4x4.cfg", 2)
    except Exception as ex:
        fail("batch 2: %s" % ex)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
