#!/usr/bin/env bash
# Download a CycleGAN dataset by name (default: summer2winter_yosemite) into data/NAME/
# and check that trainA, trainB, testA and testB are there with images in them.
#   bash data/download_dataset.sh [NAME]
#   then: python cyclegan.py --dataset NAME --train true   (names: data/cyclegan_datasets.txt)
# Offline? Use the synthetic set instead: python data/make_offline_data.py  (then --dataset seasons)
set -euo pipefail
NAME="${1:-summer2winter_yosemite}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# the one list of names (cyclegan.py --dataset reads the same file)
KNOWN="$(grep -v '^#' "$HERE/cyclegan_datasets.txt" | tr '\n' ' ')"
case " $KNOWN " in
  *" $NAME "*) ;;
  *) echo "error: unknown dataset '$NAME'. Choose one of: $KNOWN" >&2; exit 2 ;;
esac
# where the kit reads data (dataloader.DATA_ROOT): $GAN_KIT_DATA if set, else this folder
DEST="${GAN_KIT_DATA:-$HERE}"
mkdir -p "$DEST"
URL="http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/$NAME.zip"
ZIP="$DEST/$NAME.zip"
echo "downloading $URL"
if ! curl -fL --retry 2 --connect-timeout 20 -o "$ZIP" "$URL"; then
  rm -f "$ZIP"
  echo "error: could not download $URL (offline?)." >&2
  echo "       Train on the offline synthetic set instead: python data/make_offline_data.py; then --dataset seasons" >&2
  exit 1
fi
rm -rf "${DEST:?}/$NAME"
unzip -q "$ZIP" -d "$DEST"
rm -f "$ZIP"
for split in trainA trainB testA testB; do
  dir="$DEST/$NAME/$split"
  if [ ! -d "$dir" ]; then echo "error: $dir is missing after unpacking" >&2; exit 1; fi
  n=$(find "$dir" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l)
  if [ "$n" -eq 0 ]; then echo "error: $dir holds no images" >&2; exit 1; fi
  echo "  $split: $n images"
done
if [ "$NAME" = summer2winter_yosemite ]; then
  echo "  (expected: trainA 1231, trainB 962, testA 309, testB 238)"
fi
echo "ready: $DEST/$NAME"
