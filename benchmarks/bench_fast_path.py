"""Eager vs the fast path (util.FastPath) of the given training loops, side by side in one process.

For each setting, from the same initial weights and the same batches:
  1. loss agreement: the losses of the first `--steps` iterations, fast vs eager (max relative difference
     at the first iteration and over all of them);
  2. speed: iterations/s of eager and fast, measured in rounds that alternate the two (best and median of
     N rounds, after warm-up iterations that include the compilation).

    python benchmarks/bench_fast_path.py --device cuda                 # the GPU table of the README
    python benchmarks/bench_fast_path.py --device cpu --settings dcgan-b64 --rounds 3

Run it on a quiet machine: another job on the same device changes both columns.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cyclegan  # noqa: E402
import dcgan  # noqa: E402
import util  # noqa: E402

# name: (family, batch, image size)
SETTINGS = {"cyclegan-b1-256": ("cyclegan", 1, 256), "cyclegan-b4-128": ("cyclegan", 4, 128),
            "dcgan-b64": ("dcgan", 64, 32), "dcgan-b256": ("dcgan", 256, 32)}


def new_solver(family: str, batch: int, size: int, device: str, seed: int = 0, gan_type: str = "lsgan"):
    """A solver with the initial weights of `seed` (the same for eager and fast)."""
    torch.manual_seed(seed)
    if family == "dcgan":
        return dcgan.DCGAN_Solver(gan_type, batch_size=batch, num_workers=0, device=device)
    return cyclegan.CycleGAN_Solver(batch_size=batch, num_workers=0, device=device, image_size=size)


def batches(family: str, batch: int, size: int, count: int, device: str, seed: int = 1) -> list[tuple]:
    """`count` fixed training batches in [-1, 1] (one real batch for DCGAN, an (A, B) pair for CycleGAN)."""
    gen = torch.Generator().manual_seed(seed)
    parts = 1 if family == "dcgan" else 2
    return [tuple((torch.rand(batch, 3, size, size, generator=gen) * 2 - 1).to(device) for _ in range(parts))
            for _ in range(count)]


def losses(family: str, fast: bool, steps: int, batch: int, size: int, device: str, gan_type: str = "lsgan",
           nudge: bool = False) -> tuple[list[list[float]], bool]:
    """The losses of `steps` iterations of the given loop's step, and whether the fast path stayed on.
    nudge: every initial weight moved by one unit of float32 rounding (x (1 + 2^-23)): how far two eager
    runs drift apart from rounding alone, the yardstick for the fast path's float32 differences."""
    solver = new_solver(family, batch, size, device, gan_type=gan_type)
    if nudge:
        with torch.no_grad():
            for net in solver.networks().values() if family == "cyclegan" else (solver.G, solver.D):
                for p in net.parameters():
                    p.mul_(1 + 2 ** -23)
    path = solver.fast_path(fast)
    util.set_seed(0)
    out = []
    for data in batches(family, batch, size, steps, device):
        result = path.step(solver.train_step, *data)
        out.append(list(result.values()) if isinstance(result, dict) else list(result))
    stayed_on = path.enabled
    path.off()
    return out, stayed_on


def relative_differences(fast: list[list[float]], eager: list[list[float]]) -> list[float]:
    """Per iteration, the largest |fast - eager| / max(|eager|, 1e-3) over the losses."""
    return [max(abs(f - e) / max(abs(e), 1e-3) for f, e in zip(fs, es)) for fs, es in zip(fast, eager)]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def speeds(family: str, batch: int, size: int, device: str, rounds: int, iters: int, warmup: int) -> dict:
    """Iterations/s of eager and fast, rounds alternating the two (the order flips each round)."""
    runs = {}
    for fast in (False, True):
        solver = new_solver(family, batch, size, device)
        runs[fast] = (solver, solver.fast_path(fast), batches(family, batch, size, 4, device))
    times = {False: [], True: []}
    for fast, (solver, path, data) in runs.items():             # warm-up: compilation, cudnn autotuning
        for i in range(warmup):
            path.step(solver.train_step, *data[i % len(data)])
    for r in range(rounds):
        for fast in ((False, True) if r % 2 == 0 else (True, False)):
            solver, path, data = runs[fast]
            sync(device)
            t0 = time.perf_counter()
            for i in range(iters):
                path.step(solver.train_step, *data[i % len(data)])
            sync(device)
            times[fast].append(iters / (time.perf_counter() - t0))
    stayed_on = runs[True][1].enabled
    for solver, path, _ in runs.values():
        path.off()
    return {"eager": times[False], "fast": times[True], "fast_on": stayed_on}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=20, help="iterations compared for the loss agreement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20, help="iterations per timed round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"fast path vs eager on {name}, torch {torch.__version__}")
    print(f"{'setting':16s} {'eager it/s':>18s} {'fast it/s':>18s} {'speed-up':>9s} "
          f"{'loss diff it1':>14s} {'max over ' + str(args.steps):>13s} {'eager nudged':>13s}")
    for setting in args.settings:
        family, batch, size = SETTINGS[setting]
        eager, _ = losses(family, False, args.steps, batch, size, args.device)
        fast, on = losses(family, True, args.steps, batch, size, args.device)
        diffs = relative_differences(fast, eager)
        drift = relative_differences(losses(family, False, args.steps, batch, size, args.device, nudge=True)[0], eager)
        speed = speeds(family, batch, size, args.device, args.rounds, args.iters, args.warmup)
        e, f = max(speed["eager"]), max(speed["fast"])
        cell = lambda v: f"{max(v):7.2f} (med {statistics.median(v):6.2f})"   # noqa: E731
        note = "" if on and speed["fast_on"] else "  (fast path fell back to eager)"
        print(f"{setting:16s} {cell(speed['eager']):>18s} {cell(speed['fast']):>18s} {f / e:8.2f}x "
              f"{diffs[0]:14.1e} {max(diffs):13.1e} {max(drift):13.1e}{note}")
    print(f"best (median) of {args.rounds} rounds x {args.iters} iterations, after {args.warmup} warm-up "
          f"iterations; loss differences: largest relative |fast - eager| at iteration 1 and over "
          f"{args.steps}, same weights and batches; 'eager nudged': the same for two eager runs whose "
          f"initial weights differ by one float32 rounding (GAN training amplifies any rounding difference)")


if __name__ == "__main__":
    main()
