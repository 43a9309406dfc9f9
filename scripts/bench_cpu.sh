#!/bin/sh
# CPU benchmark: images/s of our build beside the anchors a user would pick,
# in one run, with the same thread count (docs/BENCHMARKS.md):
#   ours          ./detector bench (default convolution route)
#   ours onednn   the same with DT_CONV=onednn (oneDNN on every convolution)
#   torch 1.13    Debian's python3-torch (/usr/bin/python3)
#   torch newest  PyPI's newest torch, in a virtualenv under the cache folder
#   ORT, OpenVINO inference on the same model exported to ONNX (dynamo=False)
# PyTorch runs at its best: channels-last, jemalloc without decay, threads
# pinned, set_num_threads (ORT too gets jemalloc; OpenVINO aborts under it).
# ORT: intra_op threads = T, pinned, all graph optimizations. OpenVINO: CPU,
# T threads, pinned, f32, LATENCY hint at batch 1; at larger batches both
# LATENCY and THROUGHPUT hints run and the better counts ("tp": THROUGHPUT).
#
#   usage: scripts/bench_cpu.sh [threads=2] [iters=8]
#   iters: timed iterations at batch 16; batch B runs max(2, iters*16/B),
#          after WARMUP=2 untimed ones
#   CFG=cfg/ssd.cfg TORCH_MODEL=ssd   one model only (else: the ResNet34 body, then the lesson SSD)
#   CASES="infer 1|train 64"          that model's rows (mode batch, '|'-separated)
#   ANCHORS="torch113 torch ort openvino"   the anchor columns (default all;
#                                    ANCHORS=torch113 needs no download)
#   OUT=results/bench_cpu.md          markdown report; the raw text goes beside it (_raw.txt)
# First use creates ${XDG_CACHE_HOME:-$HOME/.cache}/detector/bench-venv
# (pip install torch torchvision onnx onnxruntime openvino: several GB, CUDA
# wheels included) and exports the ONNX models there. A benchmark: never run
# it from CI or tests.
set -eu
cd "$(dirname "$0")/.."
T=${1:-2}
N=${2:-8}
W=${WARMUP:-2}
BIN=${BIN:-./detector}
ANCHORS=${ANCHORS:-torch113 torch ort openvino}
OUT=${OUT:-results/bench_cpu.md}
RAW=${OUT%.md}_raw.txt
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/detector
VENV=$CACHE/bench-venv
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -x "$BIN" ] || { echo "build first: make" >&2; exit 1; }
[ -f "$JEMALLOC" ] || { echo "missing $JEMALLOC (apt-get install libjemalloc2)" >&2; exit 1; }

has() { case " $ANCHORS " in *" $1 "*) return 0 ;; esac; return 1; }
if has torch || has ort || has openvino; then
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch, torchvision, onnx, onnxruntime, openvino' 2>/dev/null; then
        # Debian's python3 (3.11): PyPI's cp311 wheels fit it, and it stays
        # where it is whatever a user's PATH (pyenv, conda) says
        echo "creating $VENV (torch, torchvision, onnx, onnxruntime, openvino; several GB)" >&2
        mkdir -p "$CACHE"
        /usr/bin/python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet torch torchvision onnx onnxruntime openvino
    fi
fi
onnx_file() { # model: exported once by the newest torch, then reused
    f=$CACHE/onnx/$1.onnx
    if [ ! -f "$f" ]; then
        mkdir -p "$CACHE/onnx"
        "$VENV/bin/python" -W ignore scripts/bench_torch.py export "$1" "$f" >&2
    fi
    echo "$f"
}

iters() { awk -v n="$N" -v b="$1" 'BEGIN{i = int(n * 16 / b); print (i < 2 ? 2 : i)}'; }
PIN="OMP_NUM_THREADS=$T OMP_PROC_BIND=true OMP_PLACES=cores"
JE="MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 LD_PRELOAD=$JEMALLOC"
ours() { # cfg mode batch [DT_CONV]
    flag=""; [ "$2" = train ] && flag="-train"
    env $PIN DT_QUIET=1 ${4:+DT_CONV=$4} "$BIN" bench "$1" -batch "$3" -iters "$(iters "$3")" \
        -warmup "$W" $flag -threads "$T" | sed -n 's/.*: \([0-9.]*\) img\/s.*/\1/p'
}
torch() { # python model mode batch
    env $JE $PIN "$1" -W ignore scripts/bench_torch.py "$2" "$3" "$4" "$T" "$(iters "$4")" "$W"
}
onnx() { # runtime model batch [hint]
    # OpenVINO aborts under a preloaded jemalloc (munmap_chunk(): invalid
    # pointer): it keeps the default allocator
    je=$JE; [ "$1" = openvino ] && je=""
    env $je "$VENV/bin/python" -W ignore scripts/bench_onnx.py "$1" "$(onnx_file "$2")" "$3" \
        "$T" "$(iters "$3")" "${4:-latency}" "$W"
}
openvino() { # model batch: the better hint (see the header)
    a=$(onnx openvino "$1" "$2" latency)
    [ "$2" -gt 1 ] || { echo "$a"; return; }
    b=$(onnx openvino "$1" "$2" throughput)
    awk -v a="$a" -v b="$b" 'BEGIN{if (b > a) print b " tp"; else print a}'
}

cell() { # mode column model cfg batch: one figure, or - where it does not apply
    case $2 in
    ours) ours "$4" "$1" "$5" ;;
    onednn) ours "$4" "$1" "$5" onednn ;;
    torch113) torch /usr/bin/python3 "$3" "$1" "$5" ;;
    torch) torch "$VENV/bin/python" "$3" "$1" "$5" ;;
    ort) if [ "$1" = infer ]; then onnx ort "$3" "$5"; else echo -; fi ;;
    openvino) if [ "$1" = infer ]; then openvino "$3" "$5"; else echo -; fi ;;
    esac
}

COLS="ours onednn $ANCHORS"
title() {
    case $1 in
    ours) echo "ours" ;; onednn) echo "ours DT_CONV=onednn" ;; torch113) echo "PyTorch 1.13" ;;
    torch) echo "PyTorch newest" ;; ort) echo "ONNX Runtime" ;; openvino) echo "OpenVINO" ;;
    esac
}
if [ -n "${CFG:-}${TORCH_MODEL:-}" ]; then
    MODELS="${TORCH_MODEL:-resnet34}=${CFG:-cfg/resnet34.cfg}"
else
    MODELS="resnet34=cfg/resnet34.cfg ssd=cfg/ssd.cfg"
fi

versions() {
    echo "- detector: commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (src modified)'), oneDNN $(dpkg-query -W -f '${Version}' libdnnl2 2>/dev/null || echo '?') (Debian), $(cc --version | head -1)"
    has torch113 && echo "- Debian: $(/usr/bin/python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
    if has torch || has ort || has openvino; then
        echo "- PyPI ($VENV, Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')): $("$VENV/bin/python" -c '
import importlib.metadata as m
print(", ".join(p + " " + m.version(p) for p in ["torch", "torchvision", "onnx", "onnxruntime", "openvino", "numpy"]))')"
        echo "- newest torch: $("$VENV/bin/python" -c 'import torch; c = torch.__config__.show(); print("; ".join(l.strip(" -") for l in c.splitlines() if l.strip(" -").startswith(("Intel", "OpenMP", "CPU capability"))))')"
    fi
    echo "- jemalloc: $(dpkg-query -W -f '${Version}' libjemalloc2 2>/dev/null || echo '?')"
}

CMD="scripts/bench_cpu.sh $T $N"
[ -n "${CFG:-}" ] && CMD="CFG=$CFG $CMD"
[ -n "${TORCH_MODEL:-}" ] && CMD="TORCH_MODEL=$TORCH_MODEL $CMD"
[ -n "${CASES:-}" ] && CMD="CASES=\"$CASES\" $CMD"
[ "$ANCHORS" != "torch113 torch ort openvino" ] && CMD="ANCHORS=\"$ANCHORS\" $CMD"
[ "$W" != 2 ] && CMD="WARMUP=$W $CMD"
load() { cut -d' ' -f1-3 /proc/loadavg; }
md_row() { # a raw row "model mode batch|v|v|...|load" -> a markdown row
    echo "$1" | awk -F'|' -v cols="$COLS" '
    BEGIN { split(cols, name, " ") }
    {
        split($1, k, " ")
        printf "| %s %s b%s |", (k[1] == "ssd" ? "lesson SSD" : "ResNet34 body"), k[2], k[3]
        best = 0; who = "-"
        for (i = 2; i < NF; i++) {
            printf " %s |", $i
            split($i, v, " ")
            if (i > 3 && v[1] != "-" && v[1] != "?" && v[1] + 0 > best) { best = v[1] + 0; who = name[i - 1] }
        }
        split($2, a, " "); split($3, o, " ")
        if (best > 0) printf " %.2f | %.2f | %s |", a[1] / best, o[1] / best, who
        else printf " - | - | - |"
        printf " %s |\n", $NF
    }'
}

# The report is written as the run goes: an interrupted run keeps its rows,
# and only a finished one has the closing "finished" line.
LOAD0=$(load)
{
    echo "# CPU benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- command: \`$CMD\`; iterations: max(2, $N*16/batch) timed after $W warm-up"
    echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) logical CPUs, ISA: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512.*|amx.*)$' | tr '\n' ' ')"
    echo "- threads: $T; load average (1, 5, 15 min) before: $LOAD0"
    echo "- environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} (as set on this machine; not changed)"
    versions
    echo "- settings: ours and PyTorch \`$PIN\`; PyTorch channels-last, set_num_threads($T), jemalloc (\`MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1\`, also under ORT; OpenVINO aborts under it and keeps glibc's); ORT intra_op=$T pinned, inter_op=1, ORT_ENABLE_ALL; OpenVINO CPU, INFERENCE_NUM_THREADS=$T, pinning, f32, LATENCY hint (tp: THROUGHPUT hint won at that batch)"
    has ort || has openvino && echo "- ONNX: exported once by the newest torch (\`torch.onnx.export(..., dynamo=False)\`, opset 17, eval mode) into $CACHE/onnx/"
    echo
    echo "Images/s (higher is better); ratio = ours / the best anchor in that row; load = 1-minute load average when the row ended."
    echo
    printf '| case |'
    for col in $COLS; do printf ' %s |' "$(title $col)"; done
    echo " ours / best | ours onednn / best | best anchor | load |"
    printf '|---|'
    for col in $COLS; do printf -- '---|'; done
    echo "---|---|---|---|"
} >"$OUT"
: >"$RAW"
echo "bench_cpu: $T threads, iters $N at batch 16, $(nproc) cores, load before: $LOAD0"
for m in $MODELS; do
    model=${m%%=*}
    cfg=${m#*=}
    [ -f "$cfg" ] || { echo "missing $cfg" >&2; exit 1; }
    IFS_SAVE=$IFS
    IFS="|"
    set -- ${CASES:-infer 1|infer 16|train 16|train 64}
    IFS=$IFS_SAVE
    for c in "$@"; do
        set -- $c
        line="$model $1 $2"
        for col in $COLS; do
            v=$(cell "$1" "$col" "$model" "$cfg" "$2")
            [ -n "$v" ] || { echo "$col failed on $model $1 batch $2" >&2; v="?"; }
            line="$line|$v"
        done
        line="$line|$(load | cut -d' ' -f1)"
        echo "$line" | tee -a "$RAW"
        md_row "$line" >>"$OUT"
    done
done
echo "load after: $(load)" | tee -a "$RAW"
{
    echo
    echo "- finished $(date -u '+%Y-%m-%d %H:%M UTC'); load average after: $(load)"
} >>"$OUT"
cat "$OUT"
