"""Does DCGAN learn for real? On the offline shapes32 set, a number that needs no Inception weights
after every epoch of a short CPU run, and the first and last epoch's samples side by side.

The number is a pixel-space Frechet distance: the FID formula (the kit's fid.py) applied to
8x8-downsampled RGB pixels (192 dimensions) of 512 samples against 512 training images. It is not
FID (no Inception features), but it falls as the generator learns the data's colours and layout;
an untrained generator (epoch 0) draws near-constant grey images.

    python benchmarks/dcgan_learns.py [--epochs 4] [--steps 60] [--gan_type gan]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dcgan  # noqa: E402
import fid  # noqa: E402
from dataloader import create_dataset  # noqa: E402
from util import load_checkpoint, save_image_grid  # noqa: E402

N = 512


def pixels(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images -> 8x8 RGB pixels, flattened (float64)."""
    return F.adaptive_avg_pool2d(images.double(), 8).flatten(1)


def pixel_distance(G: torch.nn.Module, real_stats, z: torch.Tensor) -> float:
    G.eval()
    with torch.no_grad():
        fake = fid.feature_statistics(pixels(G(z)).numpy())
    return fid.frechet_distance(*fake, *real_stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gan_type", default="gan", choices=dcgan.GAN_TYPES)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=60, help="steps per epoch")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--results", default="results")
    args = parser.parse_args()
    torch.manual_seed(0)
    real = create_dataset("shapes32", train=True)
    pick = torch.randperm(len(real))[:N]
    real_stats = fid.feature_statistics(pixels(torch.stack([real[int(i)] for i in pick])).numpy())
    z = torch.randn(N, dcgan.LATENT_DIM, generator=torch.Generator().manual_seed(1))
    solver = dcgan.DCGAN_Solver(args.gan_type, lr=args.lr, batch_size=args.batch_size, num_workers=0, device="cpu",
                                dataset="shapes32", results_dir=args.results)
    distances = [pixel_distance(solver.G, real_stats, z)]        # epoch 0: untrained
    start = time.time()
    solver.train(args.epochs, max_steps=args.steps, save_every=1)
    seconds = time.time() - start
    ckpt = solver.out_dir / "checkpoints"
    for epoch in range(1, args.epochs + 1):
        distances.append(pixel_distance(load_checkpoint(solver.G, ckpt / f"G_epoch_{epoch:03d}.pth"), real_stats, z))
    print(f"\npixel Frechet distance to shapes32 (8x8 RGB, {N} samples; lower is closer to the data)")
    for epoch, d in enumerate(distances):
        print(f"  epoch {epoch}{' (untrained)' if epoch == 0 else '':12s} {d:8.3f}")
    first_last = []
    for epoch in (1, args.epochs):
        with torch.no_grad():
            first_last.append(load_checkpoint(solver.G, ckpt / f"G_epoch_{epoch:03d}.pth").eval()(z[:32]))
    path = save_image_grid(torch.cat(first_last), solver.out_dir / "images" / "first_vs_last_epoch.png", nrow=8)
    print(f"{args.epochs} epochs of {args.steps} steps, batch {args.batch_size}, lr {args.lr:g}: {seconds:.0f} s on the CPU; "
          f"distance {distances[1]:.3f} after epoch 1 -> {distances[-1]:.3f} after epoch {args.epochs}. "
          f"Top 4 rows of {path}: epoch 1, bottom 4: epoch {args.epochs} (same z).")


if __name__ == "__main__":
    main()
