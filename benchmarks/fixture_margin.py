"""How far the Testing fixture's briefly trained generators sit from the "beats an untrained one" rule.

The canary and the tests grade the fixture (grader/fixture.py: the reference trained briefly on the
offline data) under many grading seeds; a fixture close to the rule's edge would make the canary
flaky. For each grading seed this prints, per model, the margin of each rule (> 0 passes):
- DCGAN: log IS(trained) - log IS(untrained) - IS_GAP, and 1 - colour distance / (COLOUR_RATIO x the
  closest untrained baseline's);
- CycleGAN: 1 - FID(trained) / (BEAT_RATIO x FID(untrained)).
and the smallest margin of each over the seeds.

    python benchmarks/fixture_margin.py [--seeds 6]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.judge.trusted import judge_tools  # noqa: E402
from grader.training_check import (BEAT_RATIO, COLOUR_RATIO, IS_GAP, check_beats_untrained,  # noqa: E402
                                   parse_claims)
from grader.fixture import testing_fixture  # noqa: E402


def margins(verdict) -> dict[str, float]:
    figures = verdict.figures
    if "is" in figures:
        trained, fresh = figures["is"]
        colour = figures["colour"]
        return {"IS gap": math.log(trained) - math.log(fresh) - IS_GAP,
                "colour": 1 - colour["trained"] / (COLOUR_RATIO * colour["untrained"])}
    trained = sum(r["trained"] for r in figures["fid"])
    fresh = sum(r["untrained"] for r in figures["fid"])
    return {"FID ratio": 1 - trained / (BEAT_RATIO * fresh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    fixture = testing_fixture()
    os.environ.update(fixture.env)
    claims = parse_claims((fixture.results / "inception_score.txt").read_text())[0]
    models = ["dcgan-gan", "cyclegan"]          # the four DCGAN claims share one checkpoint (verify.py)
    worst: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as cache:
        for seed in range(args.seeds):
            tools = judge_tools(seed)
            tools.cache = Path(cache)
            row = []
            for model in models:
                verdict = check_beats_untrained(tools, claims[model], fixture.results)
                for rule, value in margins(verdict).items():
                    worst[model, rule] = min(worst.get((model, rule), math.inf), value)
                    row.append(f"{model} {rule} {value:+.3f}{'' if verdict.ok else ' (FAILS)'}")
            print(f"grading seed {seed}: " + "; ".join(row), flush=True)
    print(f"smallest margin over {args.seeds} grading seeds (> 0 passes; relative to the rule's threshold): "
          + "; ".join(f"{model} {rule} {value:+.3f}" for (model, rule), value in worst.items()))


if __name__ == "__main__":
    main()
