"""Does DCGAN learn for real? On the offline shapes32 set, a number that needs no Inception weights
after every epoch of a short CPU run, and the first and last epoch's samples side by side.

Two numbers, both on 512 samples (same z every epoch) against 512 training images:
- pixel distance: the FID formula (the kit's fid.py) on 8x8-downsampled RGB pixels (192 dimensions).
  It is not FID (no Inception features), but it falls as the generator learns the data's colours and
  layout; it wobbles from epoch to epoch, as GAN training does.
- noise: the mean absolute difference between vertically adjacent pixels, samples over data (1 = as
  busy as the data). A briefly trained DCGAN draws checkerboard noise (about 7 after one epoch);
  it falls as the generator learns smooth regions. An untrained generator draws near-constant grey
  images (about 0.1): not a good generator either, hence the two numbers.
shapes32 is plain shapes on flat backgrounds: at batch 64 and lr 1e-3 (the demo) 240 steps give flat
backgrounds of the data's colours with blobs on them; at the handout's lr 2e-4 that takes about 480.

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


def busyness(images: torch.Tensor) -> float:
    """Mean |difference| of vertically adjacent pixels."""
    return (images[..., 1:, :] - images[..., :-1, :]).abs().mean().item()


def learning_numbers(G: torch.nn.Module, real: torch.Tensor, real_stats, z: torch.Tensor) -> tuple[float, float]:
    """(pixel distance, noise) of G's samples on z; see the module docstring."""
    G.eval()
    with torch.no_grad():
        fake = G(z)
    distance = fid.frechet_distance(*fid.feature_statistics(pixels(fake).numpy()), *real_stats)
    return distance, busyness(fake) / busyness(real)


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
    real_images = torch.stack([real[int(i)] for i in pick])
    real_stats = fid.feature_statistics(pixels(real_images).numpy())
    z = torch.randn(N, dcgan.LATENT_DIM, generator=torch.Generator().manual_seed(1))
    solver = dcgan.DCGAN_Solver(args.gan_type, lr=args.lr, batch_size=args.batch_size, num_workers=0, device="cpu",
                                dataset="shapes32", results_dir=args.results)
    numbers = [learning_numbers(solver.G, real_images, real_stats, z)]        # epoch 0: untrained
    start = time.time()
    solver.train(args.epochs, max_steps=args.steps, save_every=1)
    seconds = time.time() - start
    ckpt = solver.out_dir / "checkpoints"
    for epoch in range(1, args.epochs + 1):
        G = load_checkpoint(solver.G, ckpt / f"G_epoch_{epoch:03d}.pth")
        numbers.append(learning_numbers(G, real_images, real_stats, z))
    print(f"\n{N} samples vs {N} shapes32 images: pixel distance (8x8 RGB Frechet; lower is closer) and "
          f"noise (1 = as busy as the data)")
    for epoch, (distance, noise) in enumerate(numbers):
        print(f"  epoch {epoch}{' (untrained)' if epoch == 0 else '':12s} distance {distance:7.3f}   noise {noise:6.2f}")
    first_last = []
    for epoch in (1, args.epochs):
        with torch.no_grad():
            first_last.append(load_checkpoint(solver.G, ckpt / f"G_epoch_{epoch:03d}.pth").eval()(z[:32]))
    path = save_image_grid(torch.cat(first_last), solver.out_dir / "images" / "first_vs_last_epoch.png", nrow=8)
    print(f"{args.epochs} epochs of {args.steps} steps, batch {args.batch_size}, lr {args.lr:g}: {seconds:.0f} s on the CPU; "
          f"after epoch 1 -> {args.epochs}: distance {numbers[1][0]:.2f} -> {numbers[-1][0]:.2f}, "
          f"noise {numbers[1][1]:.2f} -> {numbers[-1][1]:.2f}. "
          f"Top 4 rows of {path}: epoch 1, bottom 4: epoch {args.epochs} (same z).")


if __name__ == "__main__":
    main()
