#!/bin/sh
# The README's test command: installs the dependencies if missing, builds,
# and runs every test (C unit tests, PyTorch parity, CLI checks, and the GPU
# parity test on the CUDA emulator).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install_deps.sh
make -j"$(nproc)"
# the GPU parity test on the CUDA emulator (tests/cuda_emu), run by make test
# and its detector (tests/cli_mpi_gpu.sh: -gpu under mpirun; it reads the test images)
make -j"$(nproc)" EMU=1 build-emu/tests/test_gpu_parity build-emu/detector
make -j"$(nproc)" test
