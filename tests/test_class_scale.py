"""A real class: 64 honest submissions with float32 generator checkpoints (as the solvers save them,
~89 MB each) graded in one batch; every one gets full marks and the batch process never holds the
class's bytes."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grader.roles import CHECKPOINT_FILES, SUBMITTED
from grader.rubric import TOTAL
from grader.sandbox import bwrap_available

REPO = Path(__file__).resolve().parents[1]
CLASS_SIZE = 64
pytestmark = [pytest.mark.skipif(bwrap_available() is not None, reason=f"no bubblewrap: {bwrap_available()}"),
              pytest.mark.timeout(3600), pytest.mark.e2e]

BATCH = """
import resource, sys
from pathlib import Path
from grader.batch import Options, grade_class
from grader.sandbox import Limits
grade_class(Path(sys.argv[1]), Path(sys.argv[2]), workers=2, options=Options(Limits(deadline=300, question=60)))
print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def float32_results(fixture_results: Path, dest: Path) -> Path:
    """The fixture's trained generators saved in float32 (the solvers' own format) and its claims."""
    shutil.copytree(fixture_results, dest)
    for name in CHECKPOINT_FILES:
        state = torch.load(dest / name, weights_only=True)
        torch.save({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, dest / name)
    return dest


def test_a_class_of_64_honest_submissions_is_graded_in_full(tmp_path, testing_env):
    results = float32_results(testing_env.results, tmp_path / "trained")
    size = sum((results / name).stat().st_size for name in CHECKPOINT_FILES)
    assert size > 80 << 20, f"the class's checkpoints should be handout-sized (float32), got {size >> 20} MB"
    root = tmp_path / "class"
    for k in range(CLASS_SIZE):
        sub = root / f"student{k:02d}"
        sub.mkdir(parents=True)
        for name in SUBMITTED:
            shutil.copy2(REPO / name, sub / name)
        shutil.copy2(results / "inception_score.txt", sub / "inception_score.txt")
        for name in CHECKPOINT_FILES:
            (sub / name).parent.mkdir(parents=True, exist_ok=True)
            os.link(results / name, sub / name)                       # the disk holds one copy
    out = tmp_path / "grades"
    env = {**os.environ, "PYTHONPATH": str(REPO), **testing_env.env}
    run = subprocess.run([sys.executable, "-c", BATCH, str(root), str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=3500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == CLASS_SIZE
    low = [(r["submission"], r["total"], r["status"]) for r in rows if r["status"] != "ok" or float(r["total"]) != TOTAL]
    assert not low, f"honest submissions below {TOTAL}: {low[:5]}"
    peak = int(run.stdout.split("PEAK_MB")[-1].split()[0])
    print(f"batch process peak RSS for {CLASS_SIZE} x {size >> 20} MB: {peak} MB")
    assert peak < 2048, f"the batch process peaked at {peak} MB: it holds submissions' bytes"
    similar = (out / "similar.csv").read_text().splitlines()
    assert len(similar) > CLASS_SIZE, "64 copies of one trained generator should be listed for the instructor"
    assert json.loads((out / "student00" / "results.json").read_text())["machine"]["canary_seconds"] > 0
