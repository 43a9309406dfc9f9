#!/bin/sh
# The tests' Python environment: a venv of Debian's python3 with the PyPI
# packages the export and Python-package tests need (numpy, pytest,
# onnx, onnxruntime, openvino; wheel to pip-install ./python offline;
# about 200 MB, no torch). Created on first
# use under ${XDG_CACHE_HOME:-$HOME/.cache}/detector/test-venv and reused by
# every clone; prints the venv's python. Exits 1 (with the reason on stderr)
# when it cannot be made, e.g. PyPI unreachable.
set -eu
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/detector
VENV=${DT_TEST_VENV:-$CACHE/test-venv}
PKGS="numpy pytest onnx onnxruntime openvino wheel"
if [ ! -x "$VENV/bin/python" ] ||
    ! "$VENV/bin/python" -c 'import numpy, pytest, onnx, onnxruntime, openvino, wheel' 2>/dev/null; then
    mkdir -p "$(dirname "$VENV")"
    # Debian's python3 (3.11), whatever a user's PATH (pyenv, conda) says
    /usr/bin/python3 -m venv "$VENV" >&2 || { echo "test_venv: cannot create $VENV" >&2; exit 1; }
    echo "test_venv: installing $PKGS into $VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $PKGS >&2 ||
        { echo "test_venv: pip install $PKGS failed (is PyPI reachable?)" >&2; exit 1; }
fi
echo "$VENV/bin/python"
