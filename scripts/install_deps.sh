#!/bin/sh
# Installs what detector needs from Debian's packages (run as root or with
# sudo). Idempotent: packages already present are skipped by apt.
set -eu
PKGS="build-essential pkg-config libdnnl-dev libinih-dev libcjson-dev libxml2-dev zlib1g-dev
libopencv-dev libjpeg62-turbo-dev libcmocka-dev libjemalloc2 python3 python3-numpy python3-torch
python3-torchvision python3-pip python3-opencv python3-pil
xvfb xauth imagemagick
clang libclang-rt-dev libomp-dev
libonnx-dev libprotobuf-dev protobuf-compiler openmpi-bin libopenmpi-dev python3-pytest python3-venv"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# pycocotools (the COCO evaluator used as an outside reference) is not in
# Debian: it comes from PyPI for Debian's python3.
if ! /usr/bin/python3 -c "import pycocotools" 2>/dev/null; then
    echo "installing pycocotools from PyPI"
    /usr/bin/python3 -m pip install -q --break-system-packages pycocotools
fi
# The Python tests' venv (onnxruntime, openvino, pytest: PyPI), made once.
sh "$(dirname "$0")/test_venv.sh" >/dev/null
