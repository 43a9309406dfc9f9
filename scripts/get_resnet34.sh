#!/bin/sh
# Fetches torchvision's ImageNet ResNet34 weights (resnet34-b627a593.pth, the
# IMAGENET1K_V1 weights the 2018 lesson used as resnet34-333f7ec4.pth) and
# converts them into weights/resnet34.weights for cfg/resnet34.cfg and every
# model cfg that includes it:
#   ./detector train cfg/ssd.cfg -weights weights/resnet34.weights
# Needs the network, curl or wget, and python3 with torch (to read the .pth).
# Not run by the tests.
set -eu
cd "$(dirname "$0")/.."
URL=${RESNET34_URL:-https://download.pytorch.org/models/resnet34-b627a593.pth}
mkdir -p weights
pth=weights/$(basename "$URL")
if [ ! -s "$pth" ]; then
    echo "downloading $URL"
    if command -v curl >/dev/null 2>&1; then curl -fL --retry 3 -o "$pth.part" "$URL"
    else wget -O "$pth.part" "$URL"; fi
    mv "$pth.part" "$pth"
fi
python3 scripts/import_torchvision.py "$pth" weights/resnet34.weights --cfg cfg/resnet34.cfg
echo "weights/resnet34.weights ready"
