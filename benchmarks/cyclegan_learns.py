"""Does CycleGAN learn for real? On the offline seasons set, the ground-truth L1 of A->B
translations before and after a short CPU training run, side by side.

    python benchmarks/cyclegan_learns.py [--steps 40] [--batch_size 4] [--image_size 64]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cyclegan  # noqa: E402
from util import save_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--results", default="results")
    args = parser.parse_args()
    solver = cyclegan.CycleGAN_Solver(batch_size=args.batch_size, num_workers=0, device="cpu", dataset="seasons",
                                      image_size=args.image_size, results_dir=args.results)
    for name, net in solver.networks().items():   # the untrained generators, evaluated the same way
        save_checkpoint(net, solver.out_dir / "checkpoints" / f"{name}_final.pth")
    before = solver.test(metrics="none")
    start = time.time()
    solver.train(1, max_steps=args.steps)
    seconds = time.time() - start
    after = solver.test(metrics="none")
    print(f"\n{'':28s}{'untrained':>12s}{'trained':>12s}")
    for d in ("A2B", "B2A"):
        print(f"ground-truth L1 {d:12s}{before[d]['l1']:>12.4f}{after[d]['l1']:>12.4f}")
    drop = 1 - after["A2B"]["l1"] / before["A2B"]["l1"]
    print(f"A->B L1 reduced by {100 * drop:.1f}% after {args.steps} steps of batch {args.batch_size} "
          f"at {args.image_size}x{args.image_size} ({seconds:.0f} s on the CPU); goal >= 30%")


if __name__ == "__main__":
    main()
