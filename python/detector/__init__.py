"""detector: SSD object detection and training over libdetector (ctypes).

    import detector
    with detector.Model("cfg/ssd.cfg", "ssd_final.weights", threads=2) as m:
        r = m.detect(rgb)             # numpy (H, W, 3) uint8, RGB (bgr=True: BGR)
        r.boxes, r.scores, r.classes  # (N, 4) x1 y1 x2 y2 in the image's pixels, ...

docs/PYTHON.md: the install, where the library is looked for, the API.
"""
import ctypes
import sys
import threading

import numpy as np

from . import _lib
from ._lib import Error

__all__ = ["Model", "Detections", "Error", "library_path"]
__version__ = "0.1.0"

_L = None
_L_lock = threading.Lock()

_BOX = np.dtype([("x1", "<f4"), ("y1", "<f4"), ("x2", "<f4"), ("y2", "<f4"),
                 ("score", "<f4"), ("cls", "<i4")])
assert _BOX.itemsize == ctypes.sizeof(_lib.DetBox)
_CONV = {None: 0, "default": 0, "auto": 1, "gemm": 2, "onednn": 3}


def _lib_handle():
    global _L
    with _L_lock:
        if _L is None:
            _L = _lib.load()
        return _L


def library_path():
    """The libdetector file in use (found as docs/PYTHON.md says)."""
    return _lib_handle()._detector_path


def _fail(what):
    msg = _lib_handle().dt_detector_last_error()
    raise Error("%s: %s" % (what, msg.decode("utf-8", "replace")) if what
                else msg.decode("utf-8", "replace"))


def _bytes(s):
    return None if s is None else str(s).encode()


class Detections:
    """One image's detections, best first: boxes (N, 4) float32 x1, y1, x2, y2
    in the image's pixels (pixel i covers [i, i + 1)), scores (N,) float32,
    classes (N,) int64 indices into names, names (N,) their names (or the
    indices as text when the model has no names)."""

    def __init__(self, rows, class_names):
        self.boxes = np.stack([rows["x1"], rows["y1"], rows["x2"], rows["y2"]],
                              axis=1).astype(np.float32).reshape(-1, 4)
        self.scores = rows["score"].astype(np.float32)
        self.classes = rows["cls"].astype(np.int64)
        self.names = [class_names[c] if class_names else str(c) for c in self.classes]

    def __len__(self):
        return len(self.scores)

    def __repr__(self):
        return "Detections(%d: %s)" % (len(self), ", ".join(
            "%s %.3f [%.1f %.1f %.1f %.1f]" % (n, s, *b)
            for n, s, b in zip(self.names[:5], self.scores, self.boxes)) +
            (", ..." if len(self) > 5 else ""))


def _image(img, bgr, keep):
    """A dt_det_image over img (H, W, 3) uint8: no copy when each row's pixels
    are packed (3 bytes apart, channels adjacent) and rows go forward; else
    np.ascontiguousarray. `keep` holds the array the pointer points into."""
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise Error("an image is a numpy (H, W, 3) uint8 array; got %s %s"
                    % (a.dtype, a.shape))
    h, w = a.shape[:2]
    if h == 0 or w == 0:
        raise Error("an empty image (%dx%d)" % (w, h))
    s = a.strides
    if not (s[2] == 1 and s[1] == 3 and (h == 1 or s[0] >= 3 * w)):
        a = np.ascontiguousarray(a)
        s = a.strides
    keep.append(a)
    stride = s[0] if h > 1 else 3 * w
    return _lib.DetImage(a.ctypes.data, w, h, stride, 1 if bgr else 0)


class Model:
    """A detection model: the cfg (with an [ssd] head) and its weights (None:
    the cfg's initial parameters).

    threads: OpenMP threads of this model's calls (0: OpenMP's default);
    batch: images per forward pass (detect_batch; training: the cfg's unless
    given); score_thresh, nms_iou, max_detections: 0 takes the [ssd]
    layer's; conv_route: None, "auto", "gemm" or "onednn"; train: build for
    training (train_step, train), lr: train_step's lr (0: the first
    [stage]'s). Separate models may be used from separate threads at once.
    """

    def __init__(self, cfg, weights=None, threads=0, batch=0, score_thresh=0.0, nms_iou=0.0,
                 max_detections=0, conv_route=None, train=False, lr=0.0):
        self._d = None
        L = _lib_handle()
        if conv_route not in _CONV:
            raise Error("conv_route: one of None, 'auto', 'gemm', 'onednn'; got %r"
                        % (conv_route,))
        o = _lib.DetectorOpts(int(threads), int(batch), float(score_thresh), float(nms_iou),
                              int(max_detections), _CONV[conv_route], 1 if train else 0,
                              float(lr))
        d = L.dt_detector_open(_bytes(cfg), _bytes(weights), ctypes.byref(o))
        if not d:
            _fail(None)
        self._d = d
        self._L = L
        self.cfg = str(cfg)
        self.training = bool(train)
        self._max = int(max_detections) if max_detections else 100

    # --- the handle ---
    def _h(self):
        if not self._d:
            raise Error("the model is closed")
        return self._d

    def close(self):
        """Frees the model (also done by the with block and the garbage collector)."""
        if self._d:
            self._L.dt_detector_close(self._d)
            self._d = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # --- what the model is ---
    @property
    def classes(self):
        """The number of classes."""
        return self._L.dt_detector_classes(self._h(), None)

    @property
    def names(self):
        """The class names (the weights' own, else the cfg's data set's), or None."""
        p = ctypes.POINTER(ctypes.c_char_p)()
        n = self._L.dt_detector_classes(self._h(), ctypes.byref(p))
        return [p[i].decode("utf-8", "replace") for i in range(n)] if p else None

    @property
    def input_size(self):
        """(width, height) of the network input."""
        w, h = ctypes.c_int(), ctypes.c_int()
        self._L.dt_detector_input_size(self._h(), ctypes.byref(w), ctypes.byref(h))
        return w.value, h.value

    @property
    def batch(self):
        """Images per forward pass (train_step takes exactly this many)."""
        return self._L.dt_detector_batch(self._h())

    def save(self, path):
        """Writes the weights (with the class names) to path, atomically."""
        if self._L.dt_detector_save(self._h(), _bytes(path)) != 0:
            _fail(None)

    # --- detection ---
    def detect(self, img, bgr=False):
        """Detections in one image: numpy (H, W, 3) uint8, RGB (bgr=True: BGR,
        OpenCV's order), any size and strides."""
        return self.detect_batch([img], bgr=bgr)[0]

    def detect_batch(self, imgs, bgr=False):
        """detect() of each image, `batch` images per forward pass: a list."""
        keep = []
        n = len(imgs)
        if n == 0:
            return []
        arr = (_lib.DetImage * n)(*[_image(im, bgr, keep) for im in imgs])
        counts = (ctypes.c_int * n)()
        cap = self._max
        while True:
            out = np.empty((n, cap), dtype=_BOX)
            total = self._L.dt_detector_detect_batch(self._h(), arr, n, out.ctypes.data, cap,
                                                     counts)
            if total < 0:
                _fail(None)
            if max(counts) < cap:
                break
            cap *= 4  # maybe more than we had room for: again with more room
        self._max = max(self._max, cap)
        names = self.names
        return [Detections(out[i, :counts[i]], names) for i in range(n)]

    # --- training ---
    def train_step(self, images, boxes, classes, bgr=False):
        """One optimizer step on exactly `batch` images (numpy (H, W, 3) uint8,
        any size: resized as validation resizes them), boxes[i] (k, 4) x1, y1,
        x2, y2 in image i's pixels and classes[i] (k,) their class indices.
        Returns the batch's loss (before the update)."""
        n = len(images)
        if len(boxes) != n or len(classes) != n:
            raise Error("train_step: %d images, %d box arrays, %d class arrays: one each per "
                        "image" % (n, len(boxes), len(classes)))
        keep = []
        arr = (_lib.DetImage * n)(*[_image(im, bgr, keep) for im in images])
        nb = (ctypes.c_int * n)()
        rows = []
        for i in range(n):
            b = np.asarray(boxes[i], dtype=np.float32).reshape(-1, 4)
            c = np.asarray(classes[i]).reshape(-1)
            if len(c) != len(b):
                raise Error("train_step: image %d has %d boxes but %d classes"
                            % (i, len(b), len(c)))
            if len(c) and not np.all(np.equal(np.mod(c, 1), 0)):
                raise Error("train_step: image %d: class indices must be integers" % i)
            r = np.zeros(len(b), dtype=_BOX)
            r["x1"], r["y1"], r["x2"], r["y2"] = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
            r["cls"] = c.astype(np.int64).clip(-2**31, 2**31 - 1)
            rows.append(r)
            nb[i] = len(b)
        allb = np.concatenate(rows) if rows else np.zeros(0, dtype=_BOX)
        allb = np.ascontiguousarray(allb)
        loss = ctypes.c_float()
        ptr = ctypes.cast(allb.ctypes.data, ctypes.POINTER(_lib.DetBox)) if len(allb) else None
        if self._L.dt_detector_train_step(self._h(), arr, n, ptr, nb, ctypes.byref(loss)) != 0:
            _fail(None)
        return float(loss.value)

    def train(self, data=None, epochs=None, minutes=0.0, clear=False, seed=None,
              valid_every=1, loader_threads=0, quiet=False, backup=None, max_epochs=0):
        """A training run as `detector train` runs it, on this model (its cfg's
        [stage]s, from its current weights): the .data file (None: the cfg's
        data=), checkpoints in backup (None: the .data file's backup=, else
        "backup"), resumed unless clear; seed re-initialises the parameters
        and orders the data; valid_every=0: never validate. The progress bar
        goes to stderr, the epoch table to stdout, as the command line's.
        epochs: train at most this many epochs in this call, the recipe's
        next ones (None: to the recipe's end; a later call resumes where
        this one stopped); max_epochs is its older name. Returns True when
        every stage ran, False when epochs or minutes stopped it first
        (checkpointed)."""
        if epochs is not None:
            if int(epochs) < 1:
                raise ValueError("epochs must be >= 1 (None: the recipe's end)")
            max_epochs = int(epochs)
        for f in (sys.stdout, sys.stderr):  # ours before the library's lines
            try:
                f.flush()
            except Exception:
                pass
        a = _lib.TrainArgs(_bytes(data), int(max_epochs), float(minutes), 1 if clear else 0,
                           0 if seed is None else 1, 0 if seed is None else int(seed),
                           -1 if valid_every == 0 else int(valid_every), int(loader_threads),
                           1 if quiet else 0, _bytes(backup))
        rc = self._L.dt_detector_train(self._h(), ctypes.byref(a))
        if rc < 0:
            _fail(None)
        return rc == 0
