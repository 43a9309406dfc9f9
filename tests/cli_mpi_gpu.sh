#!/bin/sh
# Data-parallel training with -gpu (docs/DISTRIBUTED.md, "GPUs"), by
# default on the CUDA emulator's build (make EMU=1, tests/cuda_emu: the GPU
# code paths on the CPU, its NCCL over MPI), on cli_mpi.sh's VOC images at 32x32.
# GPU_BIN=path runs it with another GPU build (scripts/gpu_check.sh on a GPU).
#  1. one rank: `mpirun -np 1 detector train -gpu 0` ends with the weights
#     of `detector train -gpu 0` without mpirun, byte for byte (N = 1 needs
#     no NCCL and takes the same training steps); a run of one epoch fewer
#     ends elsewhere (the comparison can tell);
#  2. two ranks with NCCL: 2 steps of `mpirun -np 2 ... -gpu 0` with batch 4
#     per rank end with the weights of one process with batch 8 over the
#     same samples within 2e-6 (the device gradients' buckets averaged over
#     NCCL, the start from rank 0, the checksums), also with
#     DT_DIST_NO_OVERLAP=1, with tiny buckets (DT_DIST_BUCKET_MB), and with
#     -amp fp16 within 2e-5 (16-bit GEMM inputs); a build
#     without NCCL stops every rank with an error that says so (not run
#     with a real GPU build with NCCL: two ranks would need two GPUs);
#  3. sync_bn=1 with -gpu on 2 ranks is refused with an error naming it.
# (With a GPU and NCCL, scripts/gpu_check.sh runs test 1 on the device.)
# Skips (passes, with the reason) when the build is absent (scripts/test.sh
# builds the emulator's), mpirun cannot start, or the build has no MPI or
# no OpenCV (it reads JPEGs).
set -u
EMU_BIN=${GPU_BIN:-${EMU_BUILD:-build-emu}/detector}
case "$EMU_BIN" in /*) ;; *) EMU_BIN=$(pwd)/$EMU_BIN ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/data/real/voc2012_sample
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$EMU_BIN" ] || { echo "SKIP: no $EMU_BIN (make EMU=1)"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_mpi_gpu.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
. "$HERE/mpi_common.sh"
mpi_skip "$EMU_BIN" ""
if ! ldd "$EMU_BIN" | grep -q libopencv; then echo "SKIP: $EMU_BIN was built without OpenCV"; exit 0; fi
voc_tiny 16 28 "$SRC/images/"
# mk NAME NETEXTRA [EPOCHS [BATCH [BN]]]
mk() {
    bn=""
    [ "${5:-1}" = 1 ] && bn="batch_normalize=1
bias=0"
    cat >"$T/$1.cfg" <<EOD
[net]
batch=${4:-8}
width=32
height=32
optimizer=adam
seed=7
data=$T/tiny.data
flip=1
$2
[convolutional]
filters=8
size=3
stride=2
pad=1
$bn
activation=relu
[avgpool]
[connected]
output=20
[softmax]
[stage]
epochs=${3:-2}
lr=1e-2
EOD
}
cd "$T" || exit 2

# 1. one rank under mpirun == no mpirun
mk plain ""; mk ranked ""
"$EMU_BIN" train plain.cfg -gpu 0 -quiet >plain.out 2>plain.err || { cat plain.err; fail "-gpu 0 without mpirun"; }
timeout 300 $MPIRUN -np 1 "$EMU_BIN" train ranked.cfg -gpu 0 -quiet >ranked.out 2>ranked.err ||
    { cat ranked.err; fail "mpirun -np 1 -gpu 0"; }
cmp backup/plain_final.weights backup/ranked_final.weights ||
    fail "mpirun -np 1 -gpu 0 ended with other weights than -gpu 0 without mpirun"
# the comparison can tell: one epoch fewer ends elsewhere
mk once "" 1
"$EMU_BIN" train once.cfg -gpu 0 -quiet >once.out 2>once.err || { cat once.err; fail "-gpu 0, 1 epoch"; }
if $WDIFF backup/plain_final.weights backup/once_final.weights 1e-6 --skip-running >/dev/null; then
    fail "2 epochs and 1 epoch end with the same weights: the comparison cannot tell"
fi
echo "one rank: mpirun -np 1 -gpu 0 == -gpu 0 (byte for byte); 1 epoch differs"

# 2. two ranks
mk one "" 1 8 0; mk two "" 1 4 0
if [ -n "${GPU_BIN:-}" ] && ldd "$EMU_BIN" | grep -q libnccl; then
    echo "two ranks: not run (a GPU build with NCCL: two ranks need two GPUs)"
else
    timeout 300 $MPIRUN -np 2 "$EMU_BIN" train two.cfg -gpu 0 -quiet >two.out 2>two.err
    rc=$?
    if grep -q "data-parallel training on GPUs needs NCCL" two.err; then
        [ $rc -ne 0 ] || fail "a build without NCCL refused and exited 0"
        echo "two ranks without NCCL: refused ($(grep -m1 -o 'needs NCCL[^(]*' two.err))"
    else
        [ $rc -eq 0 ] || { cat two.err; fail "mpirun -np 2 -gpu 0"; }
        "$EMU_BIN" train one.cfg -gpu 0 -quiet >one.out 2>one.err || { cat one.err; fail "1 x 8 -gpu 0"; }
        $WDIFF backup/one_final.weights backup/two_final.weights 2e-6 ||
            fail "2 ranks x 4 on GPUs differ from 1 process x 8"
        cp backup/two_final.weights two_overlap.weights
        for env in DT_DIST_NO_OVERLAP=1 DT_DIST_BUCKET_MB=0.0001; do
            env $env timeout 300 $MPIRUN -np 2 "$EMU_BIN" train two.cfg -gpu 0 -quiet -clear >two.out 2>two.err ||
                { cat two.err; fail "mpirun -np 2 -gpu 0 with $env"; }
            $WDIFF backup/one_final.weights backup/two_final.weights 2e-6 ||
                fail "2 ranks x 4 on GPUs with $env differ from 1 process x 8"
        done
        mk onesmall "" 1 4 0
        "$EMU_BIN" train onesmall.cfg -gpu 0 -quiet >ob.out 2>ob.err || { cat ob.err; fail "1 x 4 -gpu 0"; }
        if $WDIFF backup/one_final.weights backup/onesmall_final.weights 1e-6 >/dev/null; then
            fail "1 x 4 and 1 x 8 end alike: the comparison cannot tell"
        fi
        # mixed precision: the loss-scaled gradients averaged, then unscaled
        # and checked alike on every rank (FP16 GEMM inputs: 2e-5; 1 x 4
        # against 1 x 8 differs by ~3e-2)
        mk onea "" 1 8 0; mk twoa "" 1 4 0
        "$EMU_BIN" train onea.cfg -gpu 0 -amp fp16 -quiet >oa.out 2>oa.err || { cat oa.err; fail "1 x 8 -amp fp16"; }
        timeout 300 $MPIRUN -np 2 "$EMU_BIN" train twoa.cfg -gpu 0 -amp fp16 -quiet >ta.out 2>ta.err ||
            { cat ta.err; fail "mpirun -np 2 -gpu 0 -amp fp16"; }
        $WDIFF backup/onea_final.weights backup/twoa_final.weights 2e-5 ||
            fail "2 ranks x 4 with -amp fp16 differ from 1 process x 8"
        echo "two ranks over NCCL: 2 x 4 == 1 x 8 (overlapped, after backward, tiny buckets, fp16)"
    fi
fi

# 3. sync_bn=1 with -gpu
mk syncbn "sync_bn=1"
timeout 120 $MPIRUN -np 2 "$EMU_BIN" train syncbn.cfg -gpu 0 -quiet >sb.out 2>sb.err &&
    { cat sb.err; fail "sync_bn=1 with -gpu on 2 ranks trained"; }
grep -q "sync_bn=1 is not supported with -gpu under mpirun" sb.err || { cat sb.err; fail "no sync_bn message"; }
echo "sync_bn=1 with -gpu on 2 ranks: refused"
echo "PASS"
