"""Finding and declaring libdetector (docs/PYTHON.md).

The library is looked for, in this order:
  1. the file named by the environment variable DETECTOR_LIB;
  2. the build of the repository checkout the package comes from
     (ROOT/build/libdetector.so.0, ROOT recorded at install time by
     setup.py, or the folder above python/ when run from the source tree);
  3. the system's loader: ctypes.util.find_library("detector"), then
     "libdetector.so.0" (after `make install` into a folder ld.so searches).
"""
import ctypes
import ctypes.util
import os

SONAME = "libdetector.so.0"


class Error(RuntimeError):
    """A failure reported by libdetector; the message is the library's own
    (naming the file, and the line, at fault where there is one)."""


def _checkout_roots():
    roots = []
    try:
        from . import _checkout  # written by setup.py when installed

        if _checkout.ROOT:
            roots.append(_checkout.ROOT)
    except ImportError:
        pass
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(src, "include", "detector.h")):
        roots.append(src)  # imported from python/ of a checkout
    return roots


def candidates():
    """The places tried, in order: (where, how it was found)."""
    out = []
    env = os.environ.get("DETECTOR_LIB")
    if env:
        out.append((env, "DETECTOR_LIB"))
        return out  # an explicit choice: nothing else is tried
    for root in _checkout_roots():
        out.append((os.path.join(root, "build", SONAME), "the checkout " + root))
    found = ctypes.util.find_library("detector")
    if found:
        out.append((found, "ctypes.util.find_library"))
    out.append((SONAME, "the system loader"))
    return out


def load():
    tried = []
    for path, how in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append("%s (%s): no such file" % (path, how))
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s): %s" % (path, how, e))
            continue
        _declare(lib)
        lib._detector_path = path
        return lib
    raise Error("libdetector not found; tried: " + "; ".join(tried) +
                " (build it with `make`, or set DETECTOR_LIB to the file)")


class DetectorOpts(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int), ("batch", ctypes.c_int),
                ("score_thresh", ctypes.c_float), ("nms_iou", ctypes.c_float),
                ("max_detections", ctypes.c_int), ("conv_route", ctypes.c_int),
                ("train", ctypes.c_int), ("lr", ctypes.c_float)]


class DetBox(ctypes.Structure):
    _fields_ = [("x1", ctypes.c_float), ("y1", ctypes.c_float), ("x2", ctypes.c_float),
                ("y2", ctypes.c_float), ("score", ctypes.c_float), ("cls", ctypes.c_int)]


class DetImage(ctypes.Structure):
    _fields_ = [("pixels", ctypes.c_void_p), ("w", ctypes.c_int), ("h", ctypes.c_int),
                ("stride", ctypes.c_int), ("fmt", ctypes.c_int)]


class TrainArgs(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("max_epochs", ctypes.c_int),
                ("minutes", ctypes.c_double), ("clear", ctypes.c_int),
                ("seed_given", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("valid_every", ctypes.c_int), ("loader_threads", ctypes.c_int),
                ("quiet", ctypes.c_int), ("backup", ctypes.c_char_p)]


def _declare(lib):
    P, I, F = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    sigs = {
        "dt_detector_open": (P, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(DetectorOpts)]),
        "dt_detector_detect": (I, [P, P, I, I, I, I, P, I]),
        "dt_detector_detect_batch": (I, [P, ctypes.POINTER(DetImage), I, P, I,
                                         ctypes.POINTER(I)]),
        "dt_detector_classes": (I, [P, ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p))]),
        "dt_detector_input_size": (None, [P, ctypes.POINTER(I), ctypes.POINTER(I)]),
        "dt_detector_save": (I, [P, ctypes.c_char_p]),
        "dt_detector_close": (None, [P]),
        "dt_detector_last_error": (ctypes.c_char_p, []),
        "dt_detector_batch": (I, [P]),
        "dt_detector_train_step": (I, [P, ctypes.POINTER(DetImage), I, ctypes.POINTER(DetBox),
                                       ctypes.POINTER(I), ctypes.POINTER(F)]),
        "dt_detector_train": (I, [P, ctypes.POINTER(TrainArgs)]),
        "dt_set_verbosity": (None, [I]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
