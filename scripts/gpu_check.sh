#!/bin/sh
# GPU check of the CUDA backend (docs/GPU.md), in two modes.
#
# HERE (a machine with nvcc + cuDNN headers, no GPU needed):
#   sh scripts/gpu_check.sh --pack DIR
#     builds `make GPU=1 CUDNN=1 OPENCV=0 BUILD=build-gpu-pack` (+ the GPU
#     parity test) and copies into DIR: detector, test_gpu_parity, and the
#     shared libraries they need (ldd) except glibc and the CUDA/driver ones,
#     compressed (libs.tar.xz: oneDNN + ICU are ~70 MB raw). DIR must be an
#     ignored folder inside the repo so it can be carried (build*/ is ignored:
#     build-gpu-pack/pack, the default below).
#
# ON THE GPU MACHINE (from the repo root):
#   sh scripts/gpu_check.sh [DIR]     (DIR default build-gpu-pack/pack)
#     uses DIR's binaries if present, else builds here if it can; the CUDA
#     libraries come from the Python wheels (site-packages/nvidia/*/lib).
#     Runs nvidia-smi, `detector gpuinfo`, the GPU parity test, the
#     benchmark against PyTorch (scripts/bench_gpu.py: FP32, TF32, then
#     mixed precision FP16/BF16 against autocast; up to 240 s), our per-layer
#     profiles (until 430 s) and PyTorch's (until 520 s), in that order, so a
#     short budget keeps the issue's numbers. Under 9 minutes.
#     Logs go to $OUT (else ./gpu_check_out): check.log, gpuinfo.txt,
#     parity.log, profile.txt (DT_GPU_PROFILE tables), bench.log, bench.txt,
#     torch_profile.txt (PyTorch's per-kernel times, when time is left),
#     bench.json, mpi_gpu.log (tests/cli_mpi_gpu.sh: one rank under mpirun
#     trains as without it; skipped without mpirun or OpenCV) (9 files). The last lines printed are the summary.
set -u
cd "$(dirname "$0")/.." || exit 2

if [ "${1:-}" = "--pack" ]; then
    DIR=${2:?usage: gpu_check.sh --pack DIR}
    # a portable CPU target (not this machine's -march=native: the device's
    # CPU may lack an extension), from scratch so the flags apply
    B=build-gpu-pack
    rm -rf "$B"
    # NCCL=0: libnccl (hundreds of MB) stays out of the pack; one GPU runs
    # one rank, which needs no NCCL (docs/DISTRIBUTED.md)
    make GPU=1 CUDNN=1 OPENCV=0 NCCL=0 BUILD=$B ARCH="${ARCH:--march=x86-64-v3}" -j"$(nproc)" \
        "$B/detector" "$B/tests/test_gpu_parity" || exit 1
    rm -rf "$DIR" && mkdir -p "$DIR/lib" || exit 1
    cp "$B/detector" "$B/tests/test_gpu_parity" "$DIR/" || exit 1
    for bin in "$B/detector" "$B/tests/test_gpu_parity"; do
        ldd "$bin" | awk '$3 ~ /^\// {print $3}'
    done | sort -u | while read -r so; do
        case "$(basename "$so")" in
        # glibc (the device's is newer) and CUDA/driver (from its wheels)
        libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*) ;;
        libcuda.so*|libcudart*|libcublas*|libcudnn*|libcurand*|libnvrtc*|libnvJitLink*) ;;
        *) cp -L "$so" "$DIR/lib/" ;;
        esac
    done
    (cd "$DIR" && tar cJf libs.tar.xz lib && rm -rf lib) || exit 1
    du -sh "$DIR"; ls -la "$DIR"
    echo "packed: carry '$DIR' and run: sh scripts/gpu_check.sh $DIR"
    exit 0
fi

DIR=${1:-build-gpu-pack/pack}
OUT=${OUT:-./gpu_check_out}
mkdir -p "$OUT"
LOG=$OUT/check.log
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }
T0=$(date +%s)
elapsed() { echo $(($(date +%s) - T0)); }
results=""
note() { results="$results
$1"; say "$1"; }

PY=python3
command -v "$PY" >/dev/null 2>&1 || PY=/opt/torch/.venv/bin/python3

# CUDA libraries: every lib folder of the nvidia wheels
NVLIBS=$("$PY" - <<'EOF' 2>/dev/null
import os, site, glob
dirs = set()
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for so in glob.glob(os.path.join(sp, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(so))
print(":".join(sorted(dirs)))
EOF
)
say "== nvidia wheel libraries: ${NVLIBS:-none found}"

BIN="" TEST=""
if [ -x "$DIR/detector" ]; then
    mkdir -p /tmp/dt_pack && tar xJf "$DIR/libs.tar.xz" -C /tmp/dt_pack || say "WARNING: could not unpack $DIR/libs.tar.xz"
    BIN=$DIR/detector TEST=$DIR/test_gpu_parity
    export LD_LIBRARY_PATH="/tmp/dt_pack/lib:${NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "== using packed binaries from $DIR"
else
    say "== no packed binaries in $DIR: trying to build here (OPENCV=0)"
    missing=""
    for h in /usr/include/ini.h /usr/include/cjson/cJSON.h /usr/include/libxml2/libxml/parser.h /usr/include/oneapi/dnnl/dnnl.h /usr/include/cmocka.h; do
        [ -f "$h" ] || missing="$missing $h"
    done
    if [ -n "$missing" ]; then
        note "FAIL build: missing headers:$missing (run 'sh scripts/gpu_check.sh --pack build-gpu-pack/pack' where they exist and carry build-gpu-pack/pack)"
    elif make GPU=1 CUDNN=1 OPENCV=0 BUILD=build-gpu-noocv -j16 build-gpu-noocv/detector build-gpu-noocv/tests/test_gpu_parity >>"$LOG" 2>&1; then
        BIN=build-gpu-noocv/detector TEST=build-gpu-noocv/tests/test_gpu_parity
        export LD_LIBRARY_PATH="${NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    else
        note "FAIL build: see $LOG"
    fi
fi

say "== nvidia-smi"
nvidia-smi 2>&1 | tee -a "$LOG" | head -20

if [ -n "$BIN" ]; then
    if ldd "$BIN" | grep -q "not found"; then
        say "missing shared libraries:"; ldd "$BIN" | grep "not found" | tee -a "$LOG"
    fi
    say "== $BIN gpuinfo"
    timeout 60 "$BIN" gpuinfo >"$OUT/gpuinfo.txt" 2>&1
    rc=$?
    tee -a "$LOG" <"$OUT/gpuinfo.txt"
    if grep -q "no GPU visible" "$OUT/gpuinfo.txt"; then note "FAIL gpuinfo (no GPU visible to the CUDA runtime)"
    elif [ $rc -eq 0 ]; then note "PASS gpuinfo"; else note "FAIL gpuinfo (status $rc)"; fi

    say "== GPU parity test (t=$(elapsed)s)"
    DT_QUIET=1 timeout 200 "$TEST" >"$OUT/parity.log" 2>&1
    rc=$?
    grep -E "FAIL|SKIP|loss cpu|PASSED|FAILED|Running|error" "$OUT/parity.log" | grep -v " PASS$" | head -60 | tee -a "$LOG"
    if [ $rc -eq 0 ] && ! grep -q "^SKIP" "$OUT/parity.log"; then note "PASS parity ($(grep -c ' PASS$' "$OUT/parity.log") comparisons)"; else note "FAIL parity (status $rc; $OUT/parity.log)"; fi

    left=$((520 - $(elapsed)))
    [ $left -gt 240 ] && left=240
    say "== benchmark vs PyTorch (t=$(elapsed)s, limit ${left}s)"
    if [ $left -gt 60 ]; then
        timeout "$left" env PYTHONUNBUFFERED=1 "$PY" scripts/bench_gpu.py --bin "$BIN" --out "$OUT" >"$OUT/bench.log" 2>&1
        rc=$?
        tee -a "$LOG" <"$OUT/bench.log" | tail -40
        if [ $rc -eq 0 ]; then
            note "DONE bench ($OUT/bench.txt)"
        else
            note "FAIL bench (timeout or error; partial results in $OUT/bench.txt)"
        fi
    else
        note "SKIP bench: not enough time left"
    fi
    # where the time goes: one iteration per layer type and phase (CUDA events)
    say "== GPU profile, DT_GPU_PROFILE=1 (t=$(elapsed)s)"
    : >"$OUT/profile.txt"
    for args in "-batch 64 -train" "-batch 64 -train -tf32" "-batch 64" "-batch 64 -tf32" "-batch 64 -upload" "-batch 1" "-batch 64 -train -amp fp16" "-batch 64 -train -upload"; do
        if [ $((430 - $(elapsed))) -lt 40 ]; then
            echo "-- (time is short: the remaining profiles skipped)" >>"$OUT/profile.txt"
            break
        fi
        echo "-- bench scripts/bench_ssd.cfg $args" >>"$OUT/profile.txt"
        # shellcheck disable=SC2086
        DT_QUIET=1 DT_GPU_PROFILE=3 timeout 60 "$BIN" bench scripts/bench_ssd.cfg -gpu 0 $args -iters 2 -warmup 2 >>"$OUT/profile.txt" 2>&1 \
            || echo "(status $?)" >>"$OUT/profile.txt"
    done
    grep -vE "^  slowest" "$OUT/profile.txt" | tee -a "$LOG" | head -150
    grep -E "^--|^  slowest" "$OUT/profile.txt" | tee -a "$LOG"

    # data-parallel, one rank on the GPU: mpirun -np 1 trains as without it
    # (tests/cli_mpi_gpu.sh; skips without mpirun or with an OPENCV=0 build)
    say "== one rank under mpirun (t=$(elapsed)s)"
    GPU_BIN=$BIN timeout 120 sh tests/cli_mpi_gpu.sh >"$OUT/mpi_gpu.log" 2>&1
    rc=$?
    tee -a "$LOG" <"$OUT/mpi_gpu.log" | tail -5
    if grep -q '^SKIP' "$OUT/mpi_gpu.log"; then note "SKIP mpi gpu: $(grep -m1 '^SKIP' "$OUT/mpi_gpu.log")"
    elif [ $rc -eq 0 ]; then note "PASS mpi gpu (1 rank == no mpirun)"; else note "FAIL mpi gpu ($OUT/mpi_gpu.log)"; fi

    # PyTorch's own kernel times, beside profile.txt's (what to close the gap on)
    left=$((520 - $(elapsed)))
    [ $left -gt 90 ] && left=90
    if [ $left -gt 40 ]; then
        say "== PyTorch profile (t=$(elapsed)s, limit ${left}s)"
        if timeout "$left" "$PY" scripts/bench_gpu.py --torch-profile --out "$OUT" >>"$LOG" 2>&1; then
            note "DONE torch profile ($OUT/torch_profile.txt)"
        else
            note "FAIL torch profile (timeout or error)"
        fi
    else
        note "SKIP torch profile: not enough time left"
    fi
fi
say "== summary (total $(elapsed)s)$results"
case "$results" in *FAIL*) exit 1 ;; esac
exit 0
