#!/bin/sh
# detector synth: a VOC set the data code reads (show_batch-free check via
# `valid`'s reader path is in test_valid.c); here the CLI: files and counts,
# same seed -> byte-identical files, another seed -> other files, bad
# arguments -> usage and a non-zero status.
set -u
BIN=${BIN:-./detector}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_synth.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" synth "$T/a" -n 30 -size 64 -seed 3 >"$T/a.log" 2>&1 || fail "synth a: $(cat "$T/a.log")"
"$BIN" synth "$T/b" -n 30 -size 64 -seed 3 >/dev/null 2>&1 || fail "synth b"
"$BIN" synth "$T/c" -n 30 -size 64 -seed 4 >/dev/null 2>&1 || fail "synth c"
grep -q "30 images (24 train, 6 val) of 64x64" "$T/a.log" || fail "summary line: $(cat "$T/a.log")"
[ "$(ls "$T/a/JPEGImages" | wc -l)" -eq 30 ] || fail "30 images expected"
[ "$(ls "$T/a/Annotations" | wc -l)" -eq 30 ] || fail "30 annotations expected"
[ "$(wc -l <"$T/a/ImageSets/Main/train.txt")" -eq 24 ] || fail "train.txt: 24 ids expected"
[ "$(wc -l <"$T/a/ImageSets/Main/val.txt")" -eq 6 ] || fail "val.txt: 6 ids expected"
[ -s "$T/a/synth.data" ] && [ -s "$T/a/synth.names" ] || fail "synth.data / synth.names missing"
# objects in the XML = objects the summary line counts
n_xml=$(cat "$T"/a/Annotations/*.xml | grep -c "<object>")
grep -q "of 64x64, $n_xml objects" "$T/a.log" || fail "object count $n_xml vs $(cat "$T/a.log")"
(cd "$T/a" && find . -type f | sort | xargs md5sum) >"$T/a.md5"
(cd "$T/b" && find . -type f | sort | xargs md5sum) >"$T/b.md5"
(cd "$T/c" && find . -type f | sort | xargs md5sum) >"$T/c.md5"
cmp -s "$T/a.md5" "$T/b.md5" || fail "same seed gave different files"
cmp -s "$T/a.md5" "$T/c.md5" && fail "another seed gave the same files"
# bad arguments
"$BIN" synth >/dev/null 2>&1 && fail "no DIR accepted"
"$BIN" synth "$T/d" -n x >/dev/null 2>&1 && fail "-n x accepted"
"$BIN" synth "$T/d" -n 1 >"$T/d.log" 2>&1 && fail "-n 1 accepted"
grep -q "need n >= 2" "$T/d.log" || fail "no reason for -n 1: $(cat "$T/d.log")"
echo "cli_synth: ok"
