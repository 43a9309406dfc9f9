# Sourced by tests/cli_mpi.sh and tests/cli_mpi_gpu.sh (needs T, HERE, SRC):
# the launcher's settings, the skips where mpirun cannot start or the binary
# lacks MPI, and the tiny VOC data set both train on.
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# vader (shared memory) needs a writable /dev/shm; tcp works everywhere
MPIRUN="mpirun --oversubscribe --mca btl self,tcp --bind-to none"
WDIFF="/usr/bin/python3 $HERE/weights_diff.py"

# mpi_skip BIN WHY: exits 0 with "SKIP: ..." when 2 ranks cannot run BIN
mpi_skip() {
    if ! command -v mpirun >/dev/null 2>&1; then echo "SKIP: no mpirun"; exit 0; fi
    if ! $MPIRUN -np 2 true >"$T/probe.log" 2>&1; then
        cat "$T/probe.log"; echo "SKIP: mpirun cannot start 2 processes here"; exit 0
    fi
    if ! ldd "$1" | grep -q libmpi; then echo "SKIP: $1 was built without MPI$2"; exit 0; fi
}

# voc_tiny NTRAIN LAST_VALID PREFIX: the tiny VOC set's lists and $T/tiny.data
. "$HERE/voc_tiny.sh"
