#!/bin/sh
# Bad image files through the commands (issue 14), on a tiny VOC set (24
# train / 8 valid images of the repository's voc2012_sample subset,
# tests/data/real, at 64x64):
#   1. train with 4 of its 24 training images unreadable (an HTML page named
#      .jpg, a GIF, a folder named .jpg, a JPEG cut short with an end marker
#      appended): every batch is trained (their places refilled: no "drop_last"
#      batch), each bad file is named in one warning over 2 epochs, and the
#      count is reported; two runs with the same seed give the same weights.
#   2. train with every image unreadable: a clear error, exit 1, and no
#      weights written (the initial weights are not saved as trained).
#   3. test on each bad file beside a good one: one error line naming each
#      file and the reason, exit 1, the good image still processed; a folder
#      does not abort the program; a 6 KB JPEG claiming 32000x32000 and a PNG
#      claiming 30000x30000 are refused from their header (peak memory stays
#      far below the 3 GB a decode would take); -max_pixels lowers the cap.
set -u
BIN=${BIN:-./detector}
SRC=$(cd "$(dirname "$0")/.." && pwd)/tests/data/real/voc2012_sample
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_bad_images.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/img" "$T/bad"
for f in $(ls "$SRC/images" | sort | head -32); do cp "$SRC/images/$f" "$T/img/"; done
. "$(dirname "$0")/voc_tiny.sh"
voc_tiny 24 32 img/
cat >"$T/tiny.cfg" <<EOD
[net]
batch=8
width=64
height=64
optimizer=adam
seed=7
data=$T/tiny.data
flip=1
[convolutional]
filters=8
size=3
stride=2
pad=1
batch_normalize=1
activation=relu
[avgpool]
[connected]
output=20
[softmax]
[stage]
epochs=2
lr=1e-3
EOD

# The bad files (real ones: ImageMagick makes the GIF and the ICO).
first=$(ls "$T/img" | sort | head -1)
printf '<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n' >"$T/bad/page.jpg"
convert "$T/img/$first" "$T/bad/anim.gif" || fail "convert (ImageMagick) could not make a GIF"
convert "$T/img/$first" -resize 64x64 "$T/bad/icon.ico" || fail "convert could not make an ICO"
mkdir "$T/bad/folder.jpg"
"$PY" - "$T/img/$first" "$T/bad" <<'EOP' || fail "could not write the damaged JPEGs"
import sys
src, out = sys.argv[1], sys.argv[2]
b = open(src, 'rb').read()
cut = len(b) * 6 // 10
while b[cut - 1] == 0xFF:
    cut -= 1
open(out + '/cut_eoi.jpg', 'wb').write(b[:cut] + b'\xff\xd9')
i = 2
while not (b[i] == 0xFF and 0xC0 <= b[i + 1] <= 0xC2):  # the frame header
    i += 2 + (b[i + 2] << 8 | b[i + 3])
c = bytearray(b)
c[i + 5:i + 9] = bytes([32000 >> 8, 32000 & 255, 32000 >> 8, 32000 & 255])
open(out + '/bomb.jpg', 'wb').write(bytes(c))
import struct, zlib
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 30000, 30000, 8, 2, 0, 0, 0))
png += chunk(b'IDAT', zlib.compress(b'\0' * 90001 * 4)) + chunk(b'IEND', b'')
open(out + '/bomb.png', 'wb').write(png)
EOP

# 1. 4 of 24 training images unreadable: their places are refilled
set -- $(sed -n '3p;9p;14p;20p' "$T/train.txt")
cp -r "$T/img" "$T/img.orig"
cp "$T/bad/page.jpg" "$T/$1"
cp "$T/bad/anim.gif" "$T/$2"
rm "$T/$3" && mkdir "$T/$3"
cp "$T/bad/cut_eoi.jpg" "$T/$4"
"$BIN" train "$T/tiny.cfg" -threads 1 -quiet >"$T/p.out" 2>"$T/p.err" ||
    { cat "$T/p.err"; fail "train with 4 unreadable images exited non-zero"; }
cat "$T/p.err"
for f in "$1" "$2" "$3" "$4"; do
    [ "$(grep -c "warning: .*$f" "$T/p.err")" -eq 1 ] || fail "$f is not named in exactly one warning"
done
grep -q "$1.*it holds HTML or XML text" "$T/p.err" || fail "no reason for the HTML page"
grep -q "$2.*it holds a GIF image" "$T/p.err" || fail "no reason for the GIF"
grep -q "$3.*not a regular file (a folder)" "$T/p.err" || fail "no reason for the folder"
grep -q "$4.*premature end of data segment" "$T/p.err" || fail "no reason for the cut JPEG"
grep -q "train: 4 of 24 training images could not be read" "$T/p.err" || fail "no count of unreadable images"
grep -q "drop_last\|stayed empty" "$T/p.err" && fail "a batch was dropped: places not refilled"
[ "$(grep -c '^ *[0-9][0-9]* ' "$T/p.out")" -eq 2 ] || fail "expected 2 epochs in the table"
cp "$T/backup/tiny_final.weights" "$T/p1.weights"
rm -rf "$T/backup"
"$BIN" train "$T/tiny.cfg" -threads 1 -quiet >/dev/null 2>&1 || fail "second run failed"
cmp -s "$T/backup/tiny_final.weights" "$T/p1.weights" ||
    fail "refilled training is not reproducible (same seed, same weights expected)"
echo "train: 4 unreadable of 24, each named once, every batch trained, reproducible"

# 2. every image unreadable: an error, and nothing written
rm -rf "$T/img" "$T/backup"
mkdir "$T/img"
for f in $(ls "$T/img.orig"); do cp "$T/bad/page.jpg" "$T/img/$f"; done
"$BIN" train "$T/tiny.cfg" -threads 2 -quiet >"$T/a.out" 2>"$T/a.err"
rc=$?
cat "$T/a.err" | tail -3
[ $rc -eq 1 ] || fail "train on unreadable images exited $rc, not 1"
grep -q "error: epoch 1 trained no step" "$T/a.err" || fail "no 'trained no step' error"
grep -q "24 of 24 training images could not be read" "$T/a.err" || fail "no count"
grep -q "train: done" "$T/a.err" && fail "said done"
ls "$T/backup"/*.weights >/dev/null 2>&1 && fail "weights written: $(ls "$T/backup")"
echo "train: no readable image -> error, exit 1, nothing written"
rm -rf "$T/img" && mv "$T/img.orig" "$T/img"

# 3. test on every bad file, beside a good one
"$BIN" train "$T/tiny.cfg" -threads 2 -quiet >/dev/null 2>&1 || fail "train for test weights"
W="$T/backup/tiny_final.weights"
"$PY" - "$BIN" "$T" "$W" "$first" >"$T/t.log" 2>&1 <<'EOP'
import resource, subprocess, sys
bin, t, w, first = sys.argv[1:]
files = ['page.jpg', 'anim.gif', 'icon.ico', 'folder.jpg', 'cut_eoi.jpg', 'bomb.jpg', 'bomb.png']
r = subprocess.run([bin, 'test', t + '/tiny.cfg', w] + [t + '/bad/' + f for f in files] +
                   [t + '/img/' + first, '-out', t + '/out'], capture_output=True, text=True)
print(r.stdout + r.stderr)
print('exit', r.returncode)
print('maxrss_mib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
EOP
cat "$T/t.log"
grep -q "^exit 1$" "$T/t.log" || fail "test exited other than 1"
grep -q "folder.jpg: not a regular file (a folder)" "$T/t.log" || fail "folder: no clear error"
grep -q "icon.ico: it holds an ICO icon" "$T/t.log" || fail "ICO: no clear error"
grep -q "page.jpg: it holds HTML or XML text" "$T/t.log" || fail "HTML: no clear error"
grep -q "anim.gif: it holds a GIF image" "$T/t.log" || fail "GIF: no clear error"
grep -q "cut_eoi.jpg: damaged JPEG (Corrupt JPEG data: premature end" "$T/t.log" || fail "cut JPEG accepted"
grep -q "bomb.jpg: 32000x32000 is 1024.0 megapixels, above the limit" "$T/t.log" || fail "JPEG bomb"
grep -q "bomb.png: 30000x30000 is 900.0 megapixels, above the limit" "$T/t.log" || fail "PNG bomb"
grep -q "test: 7 of 8 images failed" "$T/t.log" || fail "failures not counted"
[ -s "$T/out/${first%.jpg}.jpg" ] || fail "the good image was not processed"
rss=$(sed -n 's/^maxrss_mib //p' "$T/t.log")
[ "$rss" -lt 1500 ] || fail "peak memory $rss MiB: a bomb was decoded"
"$BIN" test "$T/tiny.cfg" "$W" "$T/img/$first" -max_pixels 1000 -out "$T/out" >"$T/m.log" 2>&1 &&
    fail "-max_pixels 1000 accepted a $first"
grep -q "above the limit of 0.0 (max_pixels 1000" "$T/m.log" || { cat "$T/m.log"; fail "-max_pixels not applied"; }
"$BIN" test "$T/tiny.cfg" "$W" "$T/img/$first" -max_pixels 0 >/dev/null 2>"$T/m0.log" && fail "-max_pixels 0 accepted"
grep -q "max_pixels 0: expected a positive number" "$T/m0.log" || fail "no message for -max_pixels 0"
echo "test: each bad file a clear error, peak memory $rss MiB, -max_pixels applied"
