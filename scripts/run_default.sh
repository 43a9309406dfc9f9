#!/bin/sh
# The README's main command: installs the dependencies if missing, builds,
# and runs the main job on an embedded default (nothing downloaded).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install_deps.sh
make -j"$(nproc)"
./detector summary cfg/resnet34.cfg
./detector bench cfg/resnet34.cfg -batch 16 -iters 5
./detector bench cfg/resnet34.cfg -batch 16 -iters 3 -train
