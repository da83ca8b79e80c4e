"""Batch grading throughput: wall time to grade N copies of the reference with 1 and 2 workers
(judge forked per submission, student code in the bubblewrap sandbox; the canary runs once per batch
and is timed apart).

    python benchmarks/bench_batch.py [--copies 20]
"""
from __future__ import annotations

import os
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.batch import grade_class  # noqa: E402
from grader.roles import SUBMITTED as STUDENT_FILES  # noqa: E402
from grader.verify import testing_fixture  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fixture = testing_fixture()
        os.environ.update(fixture.env)
        artifacts = fixture.results
        for i in range(args.copies):
            sub = tmp / "class" / f"student{i:03d}"
            sub.mkdir(parents=True)
            for name in STUDENT_FILES:
                shutil.copy2(REPO / name, sub / name)
            shutil.copy2(artifacts / "inception_score.txt", sub)
            shutil.copytree(artifacts / "results", sub / "results")
        times = {}
        for workers in (1, 2):
            start = time.time()
            grade_class(tmp / "class", tmp / f"grades{workers}", workers=workers, run_canary=False)
            times[workers] = time.time() - start
        for workers, seconds in times.items():
            print(f"{args.copies} submissions, {workers} worker(s): {seconds:.0f} s ({seconds / args.copies:.1f} s each)")
        print(f"speed-up with 2 workers: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
