#!/bin/sh
# The README's test command: installs the dependencies if missing, builds,
# and runs every test (C unit tests, PyTorch parity, CLI checks).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install_deps.sh
make -j"$(nproc)"
make -j"$(nproc)" test
