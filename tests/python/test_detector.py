"""The Python package against the command line and the C library
(tests/cli_python.sh runs this with a model it trained, in DT_TEST_DIR):
detections equal to `detector test`'s, RGB = BGR, any strides, batches,
errors naming the file, train_step learning a fixed batch, train() printing
what `detector train` prints."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import detector

T = os.environ["DT_TEST_DIR"]
ROOT = os.environ["DT_TEST_ROOT"]
BIN = os.environ["DT_TEST_BIN"]
CFG = os.path.join(T, "m.cfg")
W = os.path.join(T, "s", "backup", "m_final.weights")
TH, NMS = 0.002, 0.45


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    w, h = int(m.group(1)), int(m.group(2))
    return np.frombuffer(data[m.end():], dtype=np.uint8, count=w * h * 3).reshape(h, w, 3)


def cli_boxes(png):
    """`detector test`'s box lines: (name, score, x1, y1, x2, y2), 4 and 1 decimals."""
    env = dict(os.environ, DT_CONV="gemm")
    env.pop("LD_PRELOAD", None)
    out = subprocess.run([BIN, "test", CFG, W, png, "-thresh", str(TH), "-nms", str(NMS),
                          "-out", os.path.join(T, "out")], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = []
    for line in (out.stdout + out.stderr).splitlines():
        m = re.match(r"\s*(\S+)\s+([0-9.]+)\s+box\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", line)
        if m:
            rows.append((m.group(1), float(m.group(2)), *map(float, m.group(3, 4, 5, 6))))
    return rows


@pytest.fixture(scope="module")
def model():
    with detector.Model(CFG, W, threads=2, score_thresh=TH, nms_iou=NMS,
                        conv_route="gemm") as m:
        yield m


@pytest.mark.parametrize("i", [0, 1])
def test_detect_equals_detector_test(model, i):
    img = read_ppm(os.path.join(T, "im%d.ppm" % i))
    ref = cli_boxes(os.path.join(T, "im%d.png" % i))
    assert len(ref) > 0
    r = model.detect(img)
    assert r.boxes.shape == (len(r), 4) and r.boxes.dtype == np.float32
    assert r.scores.dtype == np.float32 and r.classes.dtype == np.int64
    assert len(r) == len(ref)
    for k, (name, score, *box) in enumerate(ref):
        assert r.names[k] == name
        assert model.names[r.classes[k]] == name
        assert abs(r.scores[k] - score) <= 0.5e-4 + 1e-6
        assert np.all(np.abs(r.boxes[k] - np.array(box)) <= 0.05 + 1e-3), (r.boxes[k], box)


def test_model_facts(model):
    assert model.classes == 4
    assert model.names == ["circle", "square", "triangle", "cross"]
    assert model.input_size == (112, 112)
    assert model.batch == 1


def test_bgr_equals_rgb(model):
    img = read_ppm(os.path.join(T, "im1.ppm"))
    a = model.detect(img)
    b = model.detect(np.ascontiguousarray(img[:, :, ::-1]), bgr=True)
    c = model.detect(img[:, :, ::-1], bgr=True)  # a negative channel stride: copied
    assert len(a) > 0
    for x in (b, c):
        np.testing.assert_array_equal(a.boxes, x.boxes)
        np.testing.assert_array_equal(a.scores, x.scores)
        np.testing.assert_array_equal(a.classes, x.classes)


def test_strided_and_flipped_inputs(model):
    img = read_ppm(os.path.join(T, "im1.ppm"))
    h, w, _ = img.shape
    ref = model.detect(img)
    big = np.zeros((h + 20, w + 37, 3), dtype=np.uint8)
    big[5:5 + h, 11:11 + w] = img
    view = big[5:5 + h, 11:11 + w]  # rows of (w + 37) * 3 bytes: passed as they are
    assert not view.flags.c_contiguous
    r = model.detect(view)
    np.testing.assert_array_equal(ref.boxes, r.boxes)
    np.testing.assert_array_equal(ref.scores, r.scores)
    flipped = img[::-1]  # negative row stride: copied
    np.testing.assert_array_equal(model.detect(flipped).boxes,
                                  model.detect(np.ascontiguousarray(flipped)).boxes)
    fortran = np.asfortranarray(img)
    np.testing.assert_array_equal(model.detect(fortran).boxes, ref.boxes)


def test_batch_equals_single():
    imgs = [read_ppm(os.path.join(T, "im%d.ppm" % i)) for i in (0, 1, 0)]
    with detector.Model(CFG, W, batch=2, score_thresh=TH, nms_iou=NMS, conv_route="gemm") as m:
        rs = m.detect_batch(imgs)
        assert len(rs) == 3
        for img, r in zip(imgs, rs):
            s = m.detect(img)
            assert len(s) == len(r) > 0
            np.testing.assert_allclose(s.boxes, r.boxes, atol=1e-3)
            np.testing.assert_allclose(s.scores, r.scores, atol=1e-5)


def test_save_and_reopen(model, tmp_path):
    img = read_ppm(os.path.join(T, "im0.ppm"))
    p = str(tmp_path / "copy.weights")
    model.save(p)
    with detector.Model(CFG, p, threads=2, score_thresh=TH, nms_iou=NMS,
                        conv_route="gemm") as m:
        np.testing.assert_array_equal(m.detect(img).boxes, model.detect(img).boxes)
        assert m.names == model.names


def test_errors_name_the_file(tmp_path):
    bad = str(tmp_path / "no" / "such.cfg")
    with pytest.raises(detector.Error, match=re.escape(bad)):
        detector.Model(bad)
    assert issubclass(detector.Error, RuntimeError)
    broken = tmp_path / "broken.cfg"
    broken.write_text("[net]\nbatch=1\nwidth=64\nheight=64\nchannels=3\n[convolutional]\n"
                      "filters=8\nsize=3\nnonsense_key=1\n")
    with pytest.raises(detector.Error, match=re.escape(str(broken)) + r":\d+"):
        detector.Model(str(broken))
    with pytest.raises(detector.Error, match="no_such.weights"):
        detector.Model(CFG, str(tmp_path / "no_such.weights"))
    with detector.Model(CFG, W) as m:
        with pytest.raises(detector.Error, match="uint8"):
            m.detect(np.zeros((10, 10, 3), dtype=np.float32))
        with pytest.raises(detector.Error, match="not opened for training"):
            m.train_step([np.zeros((8, 8, 3), np.uint8)], [np.zeros((0, 4))], [[]])
    with pytest.raises(detector.Error, match="closed"):
        m.detect(np.zeros((10, 10, 3), dtype=np.uint8))


def voc_truth(stem, names):
    root = ET.parse(os.path.join(T, "s", "Annotations", stem + ".xml")).getroot()
    boxes, classes = [], []
    for o in root.iter("object"):
        b = o.find("bndbox")
        x1, y1, x2, y2 = (float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append([x1 - 1, y1 - 1, x2, y2])  # VOC 1-based inclusive -> pixel corners
        classes.append(names.index(o.find("name").text))
    return np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(classes)


def fixed_batch(names, n):
    stems = sorted(f[:-4] for f in os.listdir(os.path.join(T, "s", "Annotations")))[:n]
    imgs, boxes, classes = [], [], []
    for s in stems:
        png = os.path.join(T, "s", "JPEGImages", s + ".jpg")
        ppm = os.path.join(T, "b_%s.ppm" % s)
        if not os.path.exists(ppm):
            subprocess.run(["/usr/bin/python3", "-c", "import sys; from PIL import Image; "
                            "im = Image.open(sys.argv[1]).convert('RGB'); "
                            "open(sys.argv[2], 'wb').write(b'P6 %d %d 255\\n' % im.size + "
                            "im.tobytes())", png, ppm], check=True,
                           env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
        imgs.append(read_ppm(ppm))
        b, c = voc_truth(s, names)
        boxes.append(b)
        classes.append(c)
    return imgs, boxes, classes


def test_train_step_learns_a_fixed_batch():
    with detector.Model(CFG, train=True, batch=4, threads=2, conv_route="gemm", lr=1e-3) as m:
        assert m.batch == 4
        imgs, boxes, classes = fixed_batch(m.names, 4)
        losses = [m.train_step(imgs, boxes, classes) for _ in range(6)]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses
    # the same model and batch: the same first loss (nothing random in a step's input)
    with detector.Model(CFG, train=True, batch=4, threads=2, conv_route="gemm", lr=1e-3) as m2:
        assert m2.train_step(imgs, boxes, classes) == losses[0]
        with pytest.raises(detector.Error, match="batch is 4"):
            m2.train_step(imgs[:3], boxes[:3], classes[:3])
        with pytest.raises(detector.Error, match="class 9"):
            m2.train_step(imgs, boxes, [np.full(len(b), 9) for b in boxes])


def test_train_prints_what_the_cli_prints(tmp_path, capfd):
    backup = str(tmp_path / "bk")
    with detector.Model(CFG, train=True, conv_route="gemm") as m:
        done = m.train(clear=True, quiet=True, backup=backup, loader_threads=2)
        img = read_ppm(os.path.join(T, "im0.ppm"))
        assert len(m.detect(img)) >= 0
    out, err = capfd.readouterr()
    assert done is True
    assert os.path.getsize(os.path.join(backup, "m_final.weights")) > 0
    assert "train: done; weights in %s/m_final.weights" % backup in err
    with open(os.path.join(T, "train.out")) as f:
        cli = f.read()
    # the epoch table: same data, seed and arithmetic as the CLI's run -> same numbers
    assert out.strip() == cli.strip() and "trn_loss" in out, (out, cli)
    # a .data file that is not there: the error names it
    with detector.Model(CFG, train=True, conv_route="gemm") as m:
        with pytest.raises(detector.Error, match="nope.data"):
            m.train(data=str(tmp_path / "nope.data"), backup=backup)


def test_train_epochs_then_resume(tmp_path, capfd):
    cfg = tmp_path / "m.cfg"  # the stem names the checkpoints: m_*
    with open(CFG) as f:
        cfg.write_text(f.read().replace("epochs=1", "epochs=2"))
    backup = str(tmp_path / "bk")
    with detector.Model(str(cfg), train=True, conv_route="gemm") as m:
        assert m.train(clear=True, quiet=True, backup=backup, epochs=1) is False
        with pytest.raises(ValueError):
            m.train(quiet=True, backup=backup, epochs=0)
    assert os.path.exists(os.path.join(backup, "m_last.state"))
    assert not os.path.exists(os.path.join(backup, "m_final.weights"))
    with detector.Model(str(cfg), train=True, conv_route="gemm") as m:
        assert m.train(quiet=True, backup=backup) is True
    out, err = capfd.readouterr()
    assert "resuming from %s/m_last.state: stage 1, epoch 2 of 2" % backup in err, err
    assert os.path.getsize(os.path.join(backup, "m_final.weights")) > 0


def test_library_found_from_the_checkout_record():
    """Without DETECTOR_LIB: the checkout recorded at install (tests/cli_python.sh
    installs from this repository) and its build/ are used."""
    env = {k: v for k, v in os.environ.items() if k != "DETECTOR_LIB"}
    out = subprocess.run([sys.executable, "-c", "import detector; print(detector.library_path())"],
                         env=env, capture_output=True, text=True, cwd=T)
    lib = os.path.join(ROOT, "build", "libdetector.so.0")
    if os.path.exists(lib):
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == lib
    else:  # only an ASan build here: the search says where it looked
        assert out.returncode != 0 and lib in out.stderr
    env["DETECTOR_LIB"] = os.path.join(T, "missing.so")
    out = subprocess.run([sys.executable, "-c", "import detector; detector.library_path()"],
                         env=env, capture_output=True, text=True, cwd=T)
    assert out.returncode != 0 and "missing.so" in out.stderr and "DETECTOR_LIB" in out.stderr


def test_two_models_on_two_threads(model):
    """ctypes releases the GIL: two models detect at the same time, each as alone."""
    import threading

    imgs = [read_ppm(os.path.join(T, "im%d.ppm" % i)) for i in (0, 1)]
    ref = [model.detect(im) for im in imgs]
    res = [None, None]

    def run(k):
        with detector.Model(CFG, W, threads=1, score_thresh=TH, nms_iou=NMS,
                            conv_route="gemm") as m:
            res[k] = [m.detect(imgs[k]) for _ in range(3)]

    th = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for k in (0, 1):
        for r in res[k]:
            np.testing.assert_allclose(r.boxes, ref[k].boxes, atol=1e-3)
            np.testing.assert_allclose(r.scores, ref[k].scores, atol=1e-5)


def test_train_step_loss_equals_detector_train(tmp_path):
    """The engine's loss for the same batch: `detector train` on a data set of
    exactly one batch (4 copies of one picture, as PNG, no augmentation:
    flip, brightness, contrast 0) prints the loss of its one step as
    trn_loss; the first train_step on the same pictures and boxes gives it
    too. Copies of one picture: the loader shuffles, and dropout's masks
    belong to places in the batch, so only a batch whose order cannot
    matter can be the same batch."""
    d = tmp_path / "mini"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (d / sub).mkdir(parents=True)
    src = sorted(f[:-4] for f in os.listdir(os.path.join(T, "s", "Annotations")))[0]
    subprocess.run(["/usr/bin/python3", "-c", "import sys\nfrom PIL import Image\n"
                    "im = Image.open(sys.argv[1]).convert('RGB')\n"
                    "im.save(sys.argv[2])\n"
                    "open(sys.argv[3], 'wb').write(b'P6 %d %d 255\\n' % im.size + im.tobytes())\n",
                    os.path.join(T, "s", "JPEGImages", src + ".jpg"), str(d / "one.png"),
                    str(d / "one.ppm")], check=True,
                   env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    stems = ["c%d" % i for i in range(4)]
    with open(os.path.join(T, "s", "Annotations", src + ".xml")) as f:
        xml = f.read()
    for s in stems:
        (d / "Annotations" / (s + ".xml")).write_text(xml)
        (d / "JPEGImages" / (s + ".png")).write_bytes((d / "one.png").read_bytes())
    (d / "ImageSets/Main/train.txt").write_text("\n".join(stems) + "\n")
    (d / "ImageSets/Main/val.txt").write_text("\n".join(stems) + "\n")
    with open(os.path.join(T, "s", "synth.names")) as f:
        (d / "synth.names").write_text(f.read())
    (d / "mini.data").write_text("classes=4\nnames=synth.names\n"
                                 "train=ImageSets/Main/train.txt\n"
                                 "valid=ImageSets/Main/val.txt\nformat=voc\nbackup=bk\n")
    with open(CFG) as f:
        text = f.read()
    text = re.sub(r"(?m)^batch=.*$", "batch=4", text)
    text = re.sub(r"(?m)^(flip|brightness|contrast)=.*$", r"\1=0", text)
    text = re.sub(r"(?m)^data=.*$", "data=%s" % (d / "mini.data"), text)
    cfg = tmp_path / "one.cfg"
    cfg.write_text(text)
    env = dict(os.environ, DT_CONV="gemm")
    env.pop("LD_PRELOAD", None)
    out = subprocess.run([BIN, "train", str(cfg), "-clear", "-quiet", "-valid_every", "0"],
                         env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = [l.split() for l in out.stdout.splitlines() if re.match(r"\s*0\s", l)]
    cli_loss = float(rows[0][1])
    imgs = [read_ppm(str(d / "one.ppm"))] * 4
    with detector.Model(str(cfg), train=True, conv_route="gemm") as m:
        assert m.batch == 4
        boxes, classes = zip(*[voc_truth(src, m.names)] * 4)
        loss = m.train_step(imgs, list(boxes), list(classes))
    print("train_step loss %.6f, detector train trn_loss %.6f" % (loss, cli_loss))
    assert abs(loss - cli_loss) <= 1e-5 * abs(cli_loss) + 1e-6, (loss, cli_loss)
