# Sourced by tests that train a few steps on the tests' VOC subset
# (cli_train.sh, cli_bad_images.sh; cli_mpi.sh and cli_mpi_gpu.sh through
# mpi_common.sh): voc_tiny NTRAIN LAST_VALID PREFIX writes $T/train.txt (the
# first NTRAIN images of $SRC/images, sorted by name), $T/valid.txt (images
# 25..LAST_VALID), each name after PREFIX (a folder, with its slash), and
# $T/tiny.data over them (20 classes, the annotations in
# $SRC/gts/pascalvoc_format, backup in $T/backup).
# Needs $SRC (tests/data/real/voc2012_sample) and $T.
voc_tiny() {
    ls "$SRC/images" | sort | head -"$1" | sed "s|^|$3|" >"$T/train.txt"
    ls "$SRC/images" | sort | sed -n 25,"$2"p | sed "s|^|$3|" >"$T/valid.txt"
    cat >"$T/tiny.data" <<EOD
classes=20
names=$SRC/voc.names
train=train.txt
valid=valid.txt
annotations=$SRC/gts/pascalvoc_format
format=voc
backup=backup
EOD
}
