"""Training throughput with 1 and 2 processes (torchrun, DistributedDataParallel), side by side.

    python benchmarks/bench_ddp.py [--model dcgan|cyclegan] [--rounds 5] [--steps 20] [--device cpu]

Each round launches `torchrun --nproc_per_node N` of this file for N = 1 and N = 2 in turn (rotated),
every process with the same per-process batch and 1 torch thread (on a CPU, one core per process); a
process times --steps training steps after 3 warm-up steps, and process 0 reports images/s of the
global batch. Prints each N's best and median over the rounds and the ratio of the bests. On a
2-core machine the 2-process run has every core busy: run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def worker(model: str, steps: int, device: str) -> None:
    import torch
    import util
    torch.set_num_threads(1)
    dev = util.init_distributed(device)
    torch.manual_seed(0)
    if model == "dcgan":
        import dcgan
        solver, batch = dcgan.DCGAN_Solver("gan", batch_size=64, device=dev), 64
        solver.distribute()
        data = (torch.rand(batch, 3, 32, 32, device=dev) * 2 - 1,)
    else:
        import cyclegan
        solver, batch = cyclegan.CycleGAN_Solver(batch_size=1, device=dev, image_size=64), 1
        solver.distribute()
        data = tuple(torch.rand(batch, 3, 64, 64, device=dev) * 2 - 1 for _ in range(2))
    for _ in range(3):
        solver.train_step(*data)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        solver.train_step(*data)
    sync()
    seconds = time.perf_counter() - start
    if util.is_main_process():
        print(f"RESULT {util.world_size() * batch * steps / seconds:.3f}")
    util.close_distributed()


def launch(nproc: int, args: argparse.Namespace) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                          str(nproc), __file__, "--worker", "--model", args.model, "--steps", str(args.steps),
                          "--device", args.device], capture_output=True, text=True, env=env, timeout=1800)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise SystemExit(f"torchrun with {nproc} processes failed:\n{out.stderr[-2000:]}")
    return float(lines[0].split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan", choices=("dcgan", "cyclegan"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.model, args.steps, args.device)
    results: dict[int, list[float]] = {1: [], 2: []}
    for r in range(args.rounds):
        for nproc in ((1, 2) if r % 2 == 0 else (2, 1)):
            results[nproc].append(launch(nproc, args))
    print(f"{args.model} on {args.device}, per-process batch {64 if args.model == 'dcgan' else 1}, "
          f"{args.steps} timed steps, {args.rounds} rounds (N = {args.rounds})")
    for nproc, values in results.items():
        print(f"  {nproc} process{'es' if nproc > 1 else '  '}: best {max(values):8.2f} images/s   "
              f"median {statistics.median(values):8.2f}   spread {min(values):.2f}..{max(values):.2f}")
    print(f"  ratio 2 vs 1 (best): {max(results[2]) / max(results[1]):.2f}x")


if __name__ == "__main__":
    main()
