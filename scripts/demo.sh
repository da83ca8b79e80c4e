#!/usr/bin/env bash
# `make demo`: the kit end to end on the offline data, on the CPU, in a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export GAN_KIT_OFFLINE=1   # no Inception weights here: metrics that need them are skipped (--metrics none)
echo "== 1. offline data (data/shapes32, data/seasons)"
$PY data/make_offline_data.py
echo "== 2. DCGAN (GAN loss) on shapes32, 4 short epochs on the CPU: two numbers per epoch, epoch 1 vs 4 side by side"
# the handout's batch 64; lr 1e-3 instead of its 2e-4, so that 240 steps show shapes on flat backgrounds
$PY benchmarks/dcgan_learns.py --gan_type gan --epochs 4 --steps 60 --lr 1e-3
$PY dcgan.py --gan_type gan --dataset shapes32 --train false --metrics none --num_samples 64
echo "   sample grids: $(ls results/dcgan/gan/images/*.png | tr '\n' ' ')"
echo "== 3. CycleGAN on the seasons set at 64x64: untrained vs trained, against the ground truth"
$PY benchmarks/cyclegan_learns.py --steps 40 --batch_size 4 --image_size 64
$PY cyclegan.py --train false --dataset seasons --image_size 64 --metrics none
echo "   image grids: results/cyclegan/images/  translations: results/cyclegan/evaluation/"
echo "== 4. the grader on the reference solution (and on the generated student skeleton)"
$PY -m grader verify --no-variants --seeds 1   # the corpus and 6 grading seeds: make verify
