#!/bin/sh
# Downloads PASCAL VOC2007 trainval into data/VOCdevkit and writes the
# lesson's split (fast.ai 2018, lesson 8): the 2501 images of VOC2007
# `train`, 20% (500) held out for validation by fastai 0.7's
# get_cv_idxs(2501, val_pct=0.2, seed=42), i.e.
#   np.random.seed(42); val = np.random.permutation(2501)[:500]
# over the images in the order of the lesson's pascal_train2007.json (= the
# order of ImageSets/Main/train.txt). Writes
#   data/VOCdevkit/VOC2007/ImageSets/Main/lesson_train.txt (2001 ids)
#   data/VOCdevkit/VOC2007/ImageSets/Main/lesson_val.txt   (500 ids)
# as data/voc2007.data expects. Needs the network, curl or wget, tar, and
# python3 with numpy (for the exact permutation). Not run by the tests.
set -eu
cd "$(dirname "$0")/.."
URL=${VOC_URL:-http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar}
MIRROR=https://pjreddie.com/media/files/VOCtrainval_06-Nov-2007.tar
mkdir -p data
tar_file=data/VOCtrainval_06-Nov-2007.tar
if [ ! -d data/VOCdevkit/VOC2007/JPEGImages ]; then
    if [ ! -s "$tar_file" ]; then
        echo "downloading $URL"
        fetch() {
            if command -v curl >/dev/null 2>&1; then curl -fL --retry 3 -o "$tar_file.part" "$1"
            else wget -O "$tar_file.part" "$1"; fi
        }
        fetch "$URL" || { echo "retrying from $MIRROR"; fetch "$MIRROR"; }
        mv "$tar_file.part" "$tar_file"
    fi
    tar -xf "$tar_file" -C data
fi
main=data/VOCdevkit/VOC2007/ImageSets/Main
[ -s "$main/train.txt" ] || { echo "error: $main/train.txt missing after extraction" >&2; exit 1; }
n=$(wc -l < "$main/train.txt")
[ "$n" -eq 2501 ] || { echo "error: $main/train.txt has $n ids, expected 2501" >&2; exit 1; }
python3 - "$main" <<'PY'
import sys
import numpy as np
main = sys.argv[1]
ids = [l.strip() for l in open(f"{main}/train.txt") if l.strip()]
np.random.seed(42)
val = set(np.random.permutation(len(ids))[: int(0.2 * len(ids))].tolist())
with open(f"{main}/lesson_train.txt", "w") as f:
    f.writelines(i + "\n" for k, i in enumerate(ids) if k not in val)
with open(f"{main}/lesson_val.txt", "w") as f:
    f.writelines(i + "\n" for k, i in enumerate(ids) if k in val)
print(f"{main}: lesson_train.txt {len(ids) - len(val)} ids, lesson_val.txt {len(val)} ids")
PY
echo "VOC2007 ready: data/voc2007.data"
