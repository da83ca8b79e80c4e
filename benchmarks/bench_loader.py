"""Can CycleGAN's data loader keep up with a fast training step? Pairs/s of the training loader.

Summer2winter-style data: 256x256 images (the offline seasons renderer at 256 px, PNG), the training
transforms of the homework (bicubic resize to 286, random 256 crop, flip, to [-1, 1]), batch 1, the
kit's create_dataloader with the given number of workers. Each setting reads two epochs (the second
shows what persistent workers save), best of `--rounds`.

    python benchmarks/bench_loader.py [--images 120] [--workers 0 1 2] [--rounds 3]

A training iteration consumes one pair: a loader at P pairs/s keeps up with a step of up to P it/s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

import dataloader  # noqa: E402
import make_offline_data  # noqa: E402


def pairs_per_second(workers: int, size: int) -> tuple[float, float]:
    """(first epoch, second epoch) pairs/s of the training loader."""
    loader, _ = dataloader.create_dataloader("seasons", 1, workers, size)
    rates = []
    for _ in range(2):
        t0 = time.perf_counter()
        count = sum(1 for _ in loader)
        rates.append(count / (time.perf_counter() - t0))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=120, help="training images per domain")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_offline_data.make_seasons(root, seed=0, size=args.size,
                                       splits={"trainA": args.images, "trainB": args.images, "testA": 4, "testB": 4})
        dataloader.DATA_ROOT = root
        print(f"CycleGAN training loader, {args.size}px PNG pairs, batch 1, best of {args.rounds} rounds "
              f"(1 torch thread in the main process; {torch.get_num_threads()} intra-op)")
        print(f"{'workers':>8s} {'epoch 1 pairs/s':>16s} {'epoch 2 pairs/s':>16s}")
        for workers in args.workers:
            best = [0.0, 0.0]
            for _ in range(args.rounds):
                best = [max(b, r) for b, r in zip(best, pairs_per_second(workers, args.size))]
            print(f"{workers:8d} {best[0]:16.1f} {best[1]:16.1f}")


if __name__ == "__main__":
    main()
