#!/bin/sh
# The README's test command: installs the dependencies if missing, builds,
# and runs every test (C unit tests, PyTorch parity, CLI checks, and the GPU
# parity test on the CUDA emulator).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install_deps.sh
make -j"$(nproc)"
# the GPU parity test on the CUDA emulator (tests/cuda_emu), run by make test
make -j"$(nproc)" EMU=1 OPENCV=0 build-emu/tests/test_gpu_parity
make -j"$(nproc)" test
