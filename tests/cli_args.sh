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
expect2 "-valid_every x: expected" train "$C" -valid_every x
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
