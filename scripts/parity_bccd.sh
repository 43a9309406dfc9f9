#!/bin/sh
# Issue 15 part 1: does ours train as well as PyTorch on the lesson's recipe?
# Trains cfg/ssd-bccd.cfg (ours) and scripts/ref_bccd_torch.py (PyTorch, the
# same model, loss, data, schedule; --drop-last as ours) for the same number of
# epochs from several seeds, and scores every run on BCCD's val (87 images) and
# test (72) splits with the same definitions: VOC mAP@.5, continuous IoU,
# score > 0.05, NMS 0.45, top 100 (ours: `detector valid`, whose AP equals
# tests/map_ref.py's to 1e-6, tests/test_map.c; PyTorch: tests/map_ref.py).
# One line per run and split goes to OUT/runs.tsv; scripts/parity_table.py
# turns it into the table (mean, spread) of results/parity/README.md.
#
#   scripts/parity_bccd.sh [-e EPOCHS] [-s "1 2 3"] [-o OUT] [-c CFG] [-n NAME] ours|torch...
#     -e  epochs the schedule spans (37: what 12 minutes hold on a 2-vCPU Zen 5)
#     -s  seeds (1 2 3)
#     -o  output folder (results/parity); runs already in runs.tsv are skipped
#     -c  our cfg (cfg/ssd-bccd.cfg); -n the name it gets in runs.tsv (ours)
#     -x  extra `detector train` options (e.g. "-minutes 12")
# Runs take minutes each and want an otherwise idle machine only for their
# wall-clock figures; the scores depend on the epochs, not on the speed.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EPOCHS=37 SEEDS="1 2 3" OUT=$ROOT/results/parity CFG=$ROOT/cfg/ssd-bccd.cfg NAME=ours EXTRA=
while getopts e:s:o:c:n:x: o; do
    case $o in
    e) EPOCHS=$OPTARG ;; s) SEEDS=$OPTARG ;; o) OUT=$OPTARG ;; c) CFG=$OPTARG ;;
    n) NAME=$OPTARG ;; x) EXTRA=$OPTARG ;; *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-e E] [-s SEEDS] [-o OUT] [-c CFG] [-n NAME] ours|torch..." >&2; exit 2; }
DATA=$ROOT/../shared/data/bccd
[ -d "$DATA/BCCD" ] || DATA=/work/shared/data/bccd
[ -d "$DATA/BCCD" ] || { echo "parity_bccd: no BCCD data at ../shared/data/bccd" >&2; exit 1; }
BIN=${BIN:-$ROOT/detector}
THREADS=${THREADS:-2} # compute threads of every run (the scores do not depend on it)
mkdir -p "$OUT"
TSV=$OUT/runs.tsv
[ -s "$TSV" ] || printf 'framework\tseed\tepochs\ttrain_s\tsplit\tmap11\tmapall\tRBC\tWBC\tPlatelets\n' >"$TSV"
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
done_run() { awk -F'\t' -v f="$1" -v s="$2" -v e="$EPOCHS" '$1 == f && $2 == s && $3 == e {n++} END {exit !(n >= 2)}' "$TSV"; }

ours() { # seed
    W=$OUT/work/$NAME-e$EPOCHS-s$1 # a run of other epochs has its own folder (its own checkpoints)
    mkdir -p "$W"
    for split in val test; do
        cat >"$W/bccd_$split.data" <<EOD
classes=3
names=$ROOT/data/bccd.names
train=$DATA/BCCD/ImageSets/Main/train.txt
valid=$DATA/BCCD/ImageSets/Main/$split.txt
format=voc
backup=$W/backup
EOD
    done
    name=$(basename "$CFG" .cfg)
    sed -e "s|^data=.*|data=$W/bccd_val.data|" -e "s|^epochs=.*|epochs=$EPOCHS|" "$CFG" >"$W/$name.cfg"
    for inc in $(awk -F= '/^file=/ {print $2}' "$CFG"); do cp "$(dirname "$CFG")/$inc" "$W/"; done
    t0=$(date +%s)
    if [ ! -s "$W/backup/${name}_final.weights" ]; then # else: trained already, score it
        clear=-clear # a killed run resumes from its last state (the same numbers: docs/TRAIN.md)
        [ ! -s "$W/backup/${name}_last.state" ] || clear=
        # shellcheck disable=SC2086
        "$BIN" train "$W/$name.cfg" -threads "$THREADS" $clear -quiet -valid_every 0 -seed "$1" $EXTRA \
            >>"$W/train.log" 2>&1 || { tail "$W/train.log"; exit 1; }
        echo "$(($(date +%s) - t0 + $(cat "$W/train_s" 2>/dev/null || echo 0)))" >"$W/train_s"
    fi
    t1=$((t0 + $(cat "$W/train_s")))
    ep=$(awk '/^ *[0-9]+ +[0-9.]+ +[-0-9.]+/ {n = $1 + 1} END {print n+0}' "$W/train.log")
    for split in val test; do
        "$BIN" valid "$W/$name.cfg" "$W/backup/${name}_final.weights" -data "$W/bccd_$split.data" -iou continuous \
            -thresh 0.05 -nms 0.45 -threads "$THREADS" -out "$W/valid-$split" >"$W/valid-$split.log" 2>&1 ||
            { tail "$W/valid-$split.log"; exit 1; }
        awk -v f="$NAME" -v s="$1" -v e="$ep" -v t=$((t1 - t0)) -v sp="$split" '
            $1 == "RBC" || $1 == "WBC" || $1 == "Platelets" {ap[$1] = $3}
            /^mAP@.5 11-point/ {m11 = $3; mall = $5}
            END {printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f, s, e, t, sp, m11, mall, ap["RBC"], ap["WBC"], ap["Platelets"]}' \
            "$W/valid-$split.log" >>"$TSV"
    done
    echo "parity_bccd: $NAME seed $1: $(grep -h '^mAP' "$W"/valid-val.log "$W"/valid-test.log | tr '\n' ' ')"
}

torch() { # seed
    W=$OUT/work/torch-e$EPOCHS-s$1
    mkdir -p "$W"
    bind=true # pinned threads (PyTorch at its best, docs/BENCHMARKS.md), unless one thread shares the machine
    [ "$THREADS" -gt 1 ] || bind=false
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
        OMP_PROC_BIND=$bind OMP_PLACES=cores OMP_NUM_THREADS="$THREADS" \
        /usr/bin/python3 "$ROOT/scripts/ref_bccd_torch.py" --epochs "$EPOCHS" --seed "$1" --drop-last --test --threads "$THREADS" \
        --data "$DATA/BCCD" >"$W/train.log" 2>&1 || { tail "$W/train.log"; exit 1; }
    awk -v s="$1" '
        /^ *[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ / {ep = $1; t = $3}
        /^final: .* (val|test) mAP@.5/ {
            sp = ($0 ~ / val mAP/) ? "val" : "test"
            match($0, /11-point [0-9.]+/); m11 = substr($0, RSTART + 9, RLENGTH - 9)
            match($0, /all-point [0-9.]+/); mall = substr($0, RSTART + 10, RLENGTH - 10)
            r = $0; sub(/.*per class 11\/all: /, "", r); split(r, a, /[ \/;]+/)
            printf "torch\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\n", s, ep, t, sp, m11, mall, a[2], a[5], a[8]
        }' "$W/train.log" >>"$TSV"
    echo "parity_bccd: torch seed $1: $(grep '^final' "$W/train.log" | sed 's/; per class.*//' | tr '\n' ' ')"
}

echo "parity_bccd: $CPU, $(nproc) CPUs; $EPOCHS epochs; seeds $SEEDS; -> $TSV"
for fw in "$@"; do
    for s in $SEEDS; do
        case $fw in
        ours) done_run "$NAME" "$s" || ours "$s" ;;
        torch) done_run torch "$s" || torch "$s" ;;
        *) echo "parity_bccd: unknown framework $fw" >&2; exit 2 ;;
        esac
    done
done
