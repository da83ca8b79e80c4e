"""The Testing section (grader/training_check.py): what it costs and how often it rejects an honest claim.

    python benchmarks/bench_testing.py [--seeds 20] [--skip-cost]

1. Cost: the whole section for six generators at the handout's settings (DCGAN claims of N=1000,
   one split of 100 judged, against the same z through an untrained G; CycleGAN at 256 px, a claim
   of N=309 -> one split of 31, FID with 32 translations per direction). Untrained reference
   generators stand in for trained ones (the cost does not depend on the weights); the Inception
   network has seeded random weights (same cost as the real ones).
2. False rejects: the kit's fixture (the reference trained briefly, honest claims written by
   `--train false`) re-checked under `--seeds` fresh grading seeds; every item must pass.
Run on a quiet machine; torch uses 2 threads (--threads); --device cuda: the judge on a GPU.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))

import torch  # noqa: E402

from grader.training_check import CHECKPOINTS, check_beats_untrained, check_claim, parse_claims  # noqa: E402
from grader.fixture import testing_fixture  # noqa: E402


def section(tools, folder: Path, timings: dict | None = None) -> list[tuple[str, bool, bool]]:
    out = []
    for model, claim in parse_claims((folder / "inception_score.txt").read_text())[0].items():
        t0 = time.time()
        out.append((model, check_claim(tools, claim, folder).ok, check_beats_untrained(tools, claim, folder).ok))
        if timings is not None:
            timings[model] = time.time() - t0
    return out


def cost(fixture) -> None:
    import cyclegan
    import dcgan
    sys.path.insert(0, str(KIT / "data"))
    import make_offline_data
    from grader.judge.trusted import judge_tools
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_offline_data.make_seasons(tmp / "data", seed=0, splits={"trainA": 4, "trainB": 4, "testA": 64,
                                                                      "testB": 64}, size=256)
        shutil.copytree(fixture.data / "shapes32", tmp / "data" / "shapes32")
        sub = tmp / "submission"
        lines = []
        for model, files in CHECKPOINTS.items():
            for i, rel in enumerate(files):
                (sub / rel).parent.mkdir(parents=True, exist_ok=True)
                torch.manual_seed(len(lines) * 2 + i)   # six different files
                net = dcgan.DCGAN_Generator() if model.startswith("dcgan") else cyclegan.CycleGAN_Generator()
                torch.save(net.state_dict(), sub / rel)
            lines.append(f"{model}: IS = 1.0500 +- 0.0100 (N=1000, splits=10, seed=0, dataset=shapes32)"
                         if model.startswith("dcgan") else
                         "cyclegan: IS = 1.0500 +- 0.0100 (N=309, splits=10, seed=0, dataset=seasons, size=256)")
        (sub / "inception_score.txt").write_text("\n".join(lines) + "\n")
        os.environ["GAN_KIT_DATA"] = str(tmp / "data")
        os.environ.pop("GRADER_FID_SAMPLES", None)
        import grader.training_check as tc
        tc.FID_SAMPLES = 32
        t0 = time.time()
        tools = judge_tools(seed=1)
        tools.net()
        loading = time.time() - t0
        timings: dict[str, float] = {}
        section(tools, sub, timings)
        seconds = time.time() - t0
    print(f"cost: the Testing section for six generators at the handout's settings: {seconds:.0f} s "
          f"on {torch.get_num_threads()} threads (budget 300 s): Inception loads in {loading:.0f} s, "
          + ", ".join(f"{model} {t:.0f} s" for model, t in timings.items()))


def false_rejects(fixture, seeds: int) -> None:
    from grader.judge.trusted import judge_tools
    os.environ.update(fixture.env)
    bad, t0 = [], time.time()
    for seed in range(1000, 1000 + seeds):
        for model, claim_ok, beats_ok in section(judge_tools(seed=seed), fixture.results):
            if not (claim_ok and beats_ok):
                bad.append(f"seed {seed} {model}: claim {claim_ok}, beats untrained {beats_ok}")
    checks = seeds * 10
    print(f"false rejects: {len(bad)} of {checks} items ({seeds} grading seeds x 5 models x 2 items) on the "
          f"fixture's honest claims, {time.time() - t0:.0f} s")
    for line in bad:
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--cost-only", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the cost figure is for 2)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the judge's passes run (the batch grader's --device)")
    args = parser.parse_args()
    os.environ["GRADER_DEVICE"] = args.device         # judge_tools reads it, as in a batch judge
    torch.set_num_threads(args.threads)
    fixture = testing_fixture()
    os.environ["GAN_KIT_INCEPTION_WEIGHTS"] = str(fixture.weights)
    if not args.skip_cost:
        cost(fixture)
    if not args.cost_only:
        false_rejects(fixture, args.seeds)


if __name__ == "__main__":
    main()
