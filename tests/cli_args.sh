#!/bin/sh
# Command-line numbers and flags, every command (src/base/args.c, README
# "Commands"): a value that is not a whole number in the flag's range, an
# unknown flag or a stray argument exits 2 with a message naming the flag
# and the value; -threads above 4 x the cores is capped with a note (and the
# capped count is what runs); main's options (-gpu N, -nogpu, -tf32, -amp X)
# are accepted by every command. Each case is checked on the real binary.
set -u
BIN=${BIN:-./detector}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_args.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf '[net]\nbatch=1\nheight=8\nwidth=8\nchannels=3\n\n[maxpool]\nsize=2\n' >"$T/tiny.cfg"
C=$T/tiny.cfg
n=0
# expect2 WANT ARGS...: exit status 2 and WANT (fixed text) on stderr
expect2() {
    want=$1
    shift
    "$BIN" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    [ $rc -eq 2 ] || fail "'$*': exit $rc, want 2: $(cat "$T/err")"
    grep -qF -- "$want" "$T/err" || fail "'$*': stderr lacks \"$want\": $(cat "$T/err")"
    n=$((n + 1))
}

# summary and bench: unknown flags, bad -batch, -iters 0 (used to print inf)
expect2 "summary: -batch 'abc'" summary "$C" -batch abc
expect2 "summary: -batch '-1'" summary "$C" -batch -1
expect2 "summary: -batch '99999999'" summary "$C" -batch 99999999
expect2 "summary: unknown or incomplete argument '-bogus'" summary "$C" -bogus
expect2 "summary: unexpected argument 'extra'" summary "$C" extra
expect2 "bench: -iters '0'" bench "$C" -iters 0
expect2 "bench: -iters '5x'" bench "$C" -iters 5x
expect2 "bench: -warmup '-1'" bench "$C" -warmup -1
expect2 "bench: -batch 'x'" bench "$C" -batch x
expect2 "bench: unknown or incomplete argument '-itres'" bench "$C" -itres 3
# -threads: not a number or negative, for every command that takes it
expect2 "bench: -threads 'abc'" bench "$C" -threads abc
expect2 "bench: -threads '-1'" bench "$C" -threads -1
expect2 "train: -threads 'abc'" train "$C" -threads abc
expect2 "train: -threads '-1'" train "$C" -threads -1
expect2 "lr_find: -threads '2.5'" lr_find "$C" -threads 2.5
expect2 "valid: -threads '-1'" valid "$C" w.weights -threads -1
expect2 "test: -threads 'abc'" test "$C" w.weights a.jpg -threads abc
expect2 "demo: -threads '-1'" demo "$C" w.weights in.avi -dont_show -threads -1
expect2 "bench_loader: -loader_threads 'abc'" bench_loader -loader_threads 1,abc
expect2 "bench_loader: -loader_threads '-2'" bench_loader -loader_threads -2
# -threads is one thing everywhere (OpenMP's compute threads, one count):
# bench_loader's list of loader thread counts is -loader_threads
expect2 "bench_loader: -threads '1,2'" bench_loader -threads 1,2
expect2 "synth: -threads 'x'" synth "$T/s" -threads x
expect2 "show_batch: -threads '-1'" show_batch "$C" -threads -1
expect2 "train: -loader_threads 'x'" train "$C" -loader_threads x
expect2 "valid: -loader_threads '-1'" valid "$C" w.weights -loader_threads -1
expect2 "threads: a value is missing" summary "$C" -threads
# the other numbers of each command
expect2 "train: -seed '-3'" train "$C" -seed -3
expect2 "train: -minutes 'abc'" train "$C" -minutes abc
expect2 "train: -valid_every 'x': expected an integer" train "$C" -valid_every x
expect2 "lr_find: -iters '0'" lr_find "$C" -iters 0
expect2 "lr_find: -start 'abc'" lr_find "$C" -start abc
expect2 "lr_find: -end 'inf'" lr_find "$C" -end inf
expect2 "valid: -batch 'abc'" valid "$C" w.weights -batch abc
expect2 "valid: -max '-2'" valid "$C" w.weights -max -2
expect2 "valid: -thresh '0.5x'" valid "$C" w.weights -thresh 0.5x
expect2 "valid: -nms 'nan'" valid "$C" w.weights -nms nan
expect2 "test: -thresh 'abc'" test "$C" w.weights a.jpg -thresh abc
expect2 "test: -nms '2'" test "$C" w.weights a.jpg -nms 2
expect2 "demo: -frames '-1'" demo "$C" w.weights in.avi -dont_show -frames -1
expect2 "demo: -thresh 'x'" demo "$C" w.weights in.avi -dont_show -thresh x
expect2 "synth: -n 'abc'" synth "$T/s" -n abc
expect2 "synth: -seed '-1'" synth "$T/s" -seed -1
expect2 "synth: -size '12x'" synth "$T/s" -size 12x
expect2 "show_batch: -seed 'abc'" show_batch "$C" -seed abc
expect2 "show_batch: -image '-4'" show_batch "$C" -image -4
expect2 "bench_loader: -batch '0'" bench_loader -batch 0
expect2 "bench_loader: -size 'abc'" bench_loader -size abc
expect2 "anchors: -panel 'abc'" anchors "$C" -panel abc
expect2 "anchors: unknown or incomplete argument '-bogus'" anchors "$C" -bogus
expect2 "predgrid: -n 'abc'" predgrid "$C" w.weights -n abc
expect2 "predgrid: unknown or incomplete argument '-bogus'" predgrid "$C" w.weights -bogus
expect2 "summary: -gpu 'abc'" summary "$C" -gpu abc
expect2 "train: -gpu '-5'" train "$C" -gpu -5
# one parser for every command (src/base/args.c: dt_args_parse): missing
# positionals, choices, open ranges, lists and stray arguments say the same
expect2 "valid: <cfg> is missing" valid
expect2 "valid: <weights> is missing" valid "$C"
expect2 "test: <image> is missing (one at least)" test "$C" w.weights
expect2 "predgrid: <weights> is missing" predgrid "$C" -n 3
expect2 "valid: -iou 'x': expected one of voc|continuous" valid "$C" w.weights -iou x
expect2 "valid: -thresh '1': expected a number in [0, 1)" valid "$C" w.weights -thresh 1
expect2 "valid: -nms '0': expected a number in (0, 1]" valid "$C" w.weights -nms 0
expect2 "test: -nms '0': expected a number in (0, 1]" test "$C" w.weights a.jpg -nms 0
expect2 "predgrid: -thresh '1': expected a number in [0, 1)" predgrid "$C" w.weights -thresh 1
expect2 "demo: -c '1001': expected an integer in [0, 1000]" demo "$C" w.weights -c 1001 -dont_show
expect2 "demo: -compare '0': expected an integer in [1, 100000]" demo "$C" w.weights in.avi -compare 0
expect2 "demo: give either -c INDEX or a file / URL, not both" demo "$C" w.weights in.avi -c 1
expect2 "demo: unexpected argument 'more.avi'" demo "$C" w.weights in.avi more.avi
expect2 "bench_loader: -loader_threads '1,2,3,4,5,6,7,8,9': at most 8" bench_loader -loader_threads 1,2,3,4,5,6,7,8,9
expect2 "bench_loader: -loader_threads ',': expected thread counts" bench_loader -loader_threads ,
expect2 "bench_loader: unexpected argument 'b.data'" bench_loader a.data b.data
expect2 "synth: unexpected argument 'extra'" synth "$T/s" extra
expect2 "synth: <DIR> is missing" synth -n 3
expect2 "bench: unknown or incomplete argument '-batch'" bench "$C" -batch
expect2 "gpuinfo: unexpected argument 'x'" gpuinfo x
expect2 "lr_find: unknown or incomplete argument '-clear'" lr_find "$C" -clear
# and every refusal ends with the usage, printed from the same table
grep -qF "usage: detector lr_find <cfg> [options]" "$T/err" || fail "no usage after a refusal: $(cat "$T/err")"
grep -qF -- "-iters N" "$T/err" || fail "the usage lacks lr_find's -iters: $(cat "$T/err")"
# -h: the usage on stdout, exit 0, for every command
for c in summary bench train lr_find show_batch bench_loader valid test demo anchors predgrid synth gpuinfo; do
    "$BIN" $c -h >"$T/out" 2>"$T/err" || fail "$c -h: exit $?: $(cat "$T/err")"
    grep -qF "usage: detector $c" "$T/out" || fail "$c -h: no usage: $(cat "$T/out")"
done

# -threads far above the cores: capped at 4 x the cores, and that is what runs
cores=$(getconf _NPROCESSORS_ONLN)
cap=$((4 * cores))
"$BIN" bench "$C" -threads 100000 -iters 1 -warmup 0 >"$T/out" 2>"$T/err" ||
    fail "bench -threads 100000: exit $?: $(cat "$T/err")"
grep -qF "bench: -threads 100000: capped at $cap (4 x the $cores cores)" "$T/err" ||
    fail "no cap note: $(cat "$T/err")"
grep -q "threads $cap:" "$T/out" || fail "bench did not run $cap threads: $(cat "$T/out")"
# bench -iters 1 gives a finite rate
grep -qwiE "inf|nan" "$T/out" && fail "bench printed inf/nan: $(cat "$T/out")"

# main's options are accepted by every command (they used to be unknown to
# train, valid, test, synth, ...): parsing gets past them to the next check
"$BIN" summary "$C" -nogpu -threads 1 >"$T/out" 2>"$T/err" ||
    fail "summary -nogpu -threads 1: $(cat "$T/err")"
expect2 "anchors: -threads 'x'" anchors "$C" -threads x
expect2 "train: -threads 'x'" train "$C" -nogpu -tf32 -threads x
expect2 "valid: -batch 'x'" valid "$C" w.weights -nogpu -batch x
expect2 "synth: -n 'x'" synth "$T/s" -tf32 -n x
"$BIN" valid "$C" "$T/missing.weights" -nogpu >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "valid -nogpu: exit $rc, want 1 (no data): $(cat "$T/err")"
grep -q "unknown" "$T/err" && fail "valid -nogpu: $(cat "$T/err")"

echo "cli_args: $n bad arguments refused with exit 2 naming the flag; -threads capped at $cap"
echo "cli_args: ok"
