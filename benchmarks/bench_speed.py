"""Where students and graders wait: the kit next to its peers, measured side by side in one run.

1. Inception features (uint8 images -> pool3, batch 50): images/s of the kit's FIDInception, pytorch-fid's
   InceptionV3 and torch-fidelity's FeatureExtractorInceptionV3, all three with the same seeded random
   weights (speed does not depend on them; nothing is downloaded), in rounds that rotate their order;
   and the kit's features against torch-fidelity's, which must be equal bit for bit.
2. DCGAN training step (Table 1 networks, 32 px, batch 64, type gan): the kit's `train_step` vs the
   loop of pytorch/examples' dcgan/main.py written on the same networks (it reuses the D step's fake
   for the G step; the kit's student API computes G(z) in d_loss and again in g_loss), same weights
   and batches, alternating rounds.
3. Batch grading: seconds per submission for a class of --copies copies of the reference (each with its
   own checkpoint files, as in a real class), graded with 1 and then 2 workers (the canary, once a batch, not timed), and the
   spread of the per-submission judge times (best = fastest).

Every figure: best of N rounds, with the median and the range. Run it on a quiet machine: any other job
on the same cores changes every column (the ratios less than the rates, as the rounds interleave).

    python benchmarks/bench_speed.py [--rounds 5] [--copies 6] [--only inception dcgan batch]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dcgan  # noqa: E402
import inception  # noqa: E402


def summary(values: list[float], unit: str, best=max) -> str:
    return (f"{best(values):7.2f} {unit} (median {statistics.median(values):.2f}, "
            f"range {min(values):.2f}-{max(values):.2f}, N={len(values)})")


def ratio(a: list[float], b: list[float]) -> str:
    return f"{max(a) / max(b):.2f}x best vs best, {statistics.median(a) / statistics.median(b):.2f}x median vs median"


def rounds(runners: dict, n: int, work: float) -> dict[str, list[float]]:
    """`work` units / seconds of each runner, N rounds, the order rotated every round (after one warm-up)."""
    names = list(runners)
    for fn in runners.values():
        fn()
    rates = {name: [] for name in names}
    for r in range(n):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            runners[name]()
            rates[name].append(work / (time.perf_counter() - t0))
    return rates


# ----------------------------------------------------------------------------- 1. Inception features
def bench_inception(n_rounds: int, batch: int, size: int, tmp: Path) -> None:
    from grader.fixture import random_inception_weights
    from pytorch_fid.inception import InceptionV3
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    weights = random_inception_weights(tmp / "random-inception.pth")
    hub = tmp / "hub"                                    # pytorch-fid loads its file from the hub cache
    (hub / "checkpoints").mkdir(parents=True)
    shutil.copy(weights, hub / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth")
    saved_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        pytorch_fid = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], use_fid_inception=True).eval()
    finally:
        torch.hub.set_dir(saved_hub)
    kit = inception.load_fid_inception(weights)
    fidelity = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                           feature_extractor_weights_path=str(weights))
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    floats = images.float() / 255                        # pytorch-fid's input: [0, 1]
    with torch.no_grad():
        ours, theirs = kit(images), fidelity(images)
        exact = all(torch.equal(a, b) for a, b in zip(ours, theirs))
        diff = max((a - b).abs().max().item() for a, b in zip(ours, theirs))
        rates = rounds({"kit": lambda: kit(images), "pytorch-fid": lambda: pytorch_fid(floats),
                        "torch-fidelity": lambda: fidelity(images)}, n_rounds, batch)
    print(f"\n1. Inception features, uint8 {size}x{size} -> 299, batch {batch}, {torch.get_num_threads()} threads")
    for name, values in rates.items():
        print(f"   {name:15s} {summary(values, 'img/s')}")
    for peer in ("pytorch-fid", "torch-fidelity"):
        print(f"   kit / {peer}: {ratio(rates['kit'], rates[peer])}")
    print(f"   kit features (pool3, logits) == torch-fidelity's bit for bit: {exact} (max |diff| {diff:.1e})")


# ----------------------------------------------------------------------------- 2. DCGAN step
class ExamplesLoop:
    """pytorch/examples dcgan/main.py's iteration on the kit's networks: D on real (label 1), D on G(z)
    detached (label 0), step D; then D on the same fake (label 1), step G. BCE on D's probabilities."""

    def __init__(self, solver: dcgan.DCGAN_Solver):
        self.G, self.D, self.optim_G, self.optim_D = solver.G, solver.D, solver.optim_G, solver.optim_D

    def step(self, real: torch.Tensor) -> tuple[float, float]:
        z = torch.randn(real.size(0), dcgan.LATENT_DIM)
        self.D.zero_grad(set_to_none=True)
        out_real = self.D(real).view(-1)
        err_real = F.binary_cross_entropy(out_real, torch.ones_like(out_real))
        err_real.backward()
        fake = self.G(z)
        out_fake = self.D(fake.detach()).view(-1)
        err_fake = F.binary_cross_entropy(out_fake, torch.zeros_like(out_fake))
        err_fake.backward()
        self.optim_D.step()
        self.G.zero_grad(set_to_none=True)
        out = self.D(fake).view(-1)
        err_g = F.binary_cross_entropy(out, torch.ones_like(out))
        err_g.backward()
        self.optim_G.step()
        return (err_real + err_fake).item(), err_g.item()


def bench_dcgan(n_rounds: int, iters: int, batch: int = 64) -> None:
    solvers = {}
    for name in ("kit", "examples"):
        torch.manual_seed(0)                              # the same initial weights for both
        solvers[name] = dcgan.DCGAN_Solver("gan", batch_size=batch, num_workers=0, device="cpu")
    steps = {"kit": solvers["kit"].train_step, "examples": ExamplesLoop(solvers["examples"]).step}
    data = [torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(i)) * 2 - 1 for i in range(4)]

    def runner(step):
        return lambda: [step(data[i % len(data)]) for i in range(iters)]

    rates = rounds({name: runner(step) for name, step in steps.items()}, n_rounds, iters)
    print(f"\n2. DCGAN training step (Table 1 networks, 32 px, batch {batch}, type gan, {iters} steps a round)")
    for name, values in rates.items():
        print(f"   {name:15s} {summary(values, 'it/s')}")
    print(f"   kit / examples loop: {ratio(rates['kit'], rates['examples'])}; the kit's API runs G(z) in d_loss "
          f"and again in g_loss (the handout's student functions), the examples reuse it")


# ----------------------------------------------------------------------------- 3. batch grading
def distinct_checkpoints(results: Path, k: int) -> None:
    """Flip the lowest bit of one weight in each checkpoint: the same quality of generator, but its own
    file, as in a real class (the judge caches the Testing section's work by file digest, so identical
    copies would be graded once and replayed)."""
    for path in results.rglob("*.pth"):
        state = torch.load(path, weights_only=True)
        name = next(n for n, v in state.items() if v.is_floating_point())
        value = state[name].clone()
        value.view({2: torch.int16, 4: torch.int32}[value.element_size()]).view(-1)[0] ^= k
        state[name] = value
        torch.save(state, path)


def bench_batch(copies: int, tmp: Path) -> None:
    from grader.batch import default_workers, grade_class
    from grader.roles import SUBMITTED
    from grader.sandbox import Limits
    from grader.fixture import testing_fixture

    fixture = testing_fixture()
    os.environ.update(fixture.env)
    for i in range(copies):
        sub = tmp / "class" / f"student{i:03d}"
        sub.mkdir(parents=True)
        for name in SUBMITTED:
            shutil.copy2(REPO / name, sub / name)
        shutil.copy2(fixture.results / "inception_score.txt", sub)
        shutil.copytree(fixture.results / "results", sub / "results")
        distinct_checkpoints(sub / "results", i + 1)
    print(f"\n3. Batch grading: {copies} submissions (the reference, each with its own checkpoint files), "
          f"bubblewrap sandbox; the default --workers here is {default_workers(Limits().memory_mb)}")
    walls = {}
    for workers in (1, 2):
        out = tmp / f"grades{workers}"
        start = time.perf_counter()
        grade_class(tmp / "class", out, workers=workers, run_canary=False)
        walls[workers] = time.perf_counter() - start
        each = [float(m.group(1)) for p in sorted(out.glob("*/results.json"))
                for m in [re.search(r"graded in (\d+) s", p.read_text())] if m]
        print(f"   {workers} worker(s): {walls[workers] / copies:5.1f} s a submission of wall time ({walls[workers]:.0f} s "
              f"for {copies}); one submission's judge: {summary(each, 's', best=min)}")
    print(f"   2 workers / 1 worker: {walls[1] / walls[2]:.2f}x throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each measurement (N)")
    parser.add_argument("--batch", type=int, default=50, help="Inception batch")
    parser.add_argument("--size", type=int, default=32, help="Inception input images' size (resized to 299)")
    parser.add_argument("--iters", type=int, default=10, help="DCGAN steps a round")
    parser.add_argument("--copies", type=int, default=6, help="submissions in the batch-grading class")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--only", nargs="+", choices=("inception", "dcgan", "batch"),
                        default=["inception", "dcgan", "batch"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"kit vs peers on this CPU ({os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads); best of N rounds. Figures are only comparable on a quiet machine.")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "inception" in args.only:
            bench_inception(args.rounds, args.batch, args.size, tmp)
        if "dcgan" in args.only:
            bench_dcgan(args.rounds, args.iters)
        if "batch" in args.only:
            bench_batch(args.copies, tmp)


if __name__ == "__main__":
    main()
