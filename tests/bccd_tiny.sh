# Sourced by tests that train a few steps on real pictures (cli_fpn.sh,
# cli_nonsquare.sh): bccd_tiny DATA writes a VOC folder of links in $T/BCCD
# (the first 4 train and 2 val images of the tests' BCCD subset) and the
# .data file DATA over it (3 classes, backup in $T/backup).
# Needs $ROOT, $T and fail().
bccd_tiny() {
    _src=$ROOT/tests/data/real/bccd/BCCD
    mkdir -p "$T/BCCD/ImageSets/Main" && ln -s "$_src/Annotations" "$_src/JPEGImages" "$T/BCCD/" ||
        fail "set-up"
    head -4 "$_src/ImageSets/Main/train.txt" >"$T/BCCD/ImageSets/Main/train.txt"
    head -2 "$_src/ImageSets/Main/val.txt" >"$T/BCCD/ImageSets/Main/val.txt"
    cat >"$1" <<EOD
classes=3
names=$ROOT/data/bccd.names
train=BCCD/ImageSets/Main/train.txt
valid=BCCD/ImageSets/Main/val.txt
format=voc
backup=$T/backup
EOD
}
