"""A grade never depends on how busy the grading machine is: the reference keeps full marks with the
machine deliberately loaded (twice as many busy processes as cores, at normal priority), in a
student's local `pytest grader/` with a cold cache and in two batch gradings run at the same time,
one of which also grades a submission that starts 64 busy threads."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.build import assign
from grader.build import sandbox as build_sandbox
from grader.roles import SUBMITTED
from grader.rubric import SECTIONS, TOTAL
from grader.run import run_grader
from grader.sandbox import bwrap_available
from helpers import submission

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.skipif(bwrap_available() is not None, reason=f"no bubblewrap: {bwrap_available()}"),
              pytest.mark.timeout(3000), pytest.mark.e2e]

BATCH = """
import sys
from pathlib import Path
from grader.batch import Options, grade_class
from grader.sandbox import Limits
grade_class(Path(sys.argv[1]), Path(sys.argv[2]), workers=2, options=Options(Limits(deadline=300, question=60)))
"""

BUSY_THREADS = """
import threading
def _burn():
    while True:
        pass
for _ in range(64):
    threading.Thread(target=_burn, daemon=True).start()
"""


@pytest.fixture
def busy_machine():
    """Twice as many busy processes as cores, at normal priority, while the test runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    yield
    for proc in burners:
        proc.kill()
        proc.wait()


def grades(out: Path) -> dict[str, tuple[float, str]]:
    with open(out / "grades.csv") as f:
        return {row["submission"]: (float(row["total"] or 0), row["status"]) for row in csv.DictReader(f)}


def test_two_batches_at_once_on_a_loaded_machine_grade_as_they_would_alone(tmp_path, testing_env, busy_machine):
    skeleton = assign(tmp_path / "handout")
    runs = []
    for name in ("first", "second"):
        root = tmp_path / name
        submission(root / "reference", REPO, testing_env.results)
        submission(root / "skeleton", skeleton, None)
        if name == "second":                       # a neighbour that starts 64 busy threads at import
            busy = submission(root / "busy-threads", REPO, testing_env.results)
            source = (busy / "fid.py").read_text()
            (busy / "fid.py").write_text(source + "\n" + BUSY_THREADS)
        env = {**os.environ, "PYTHONPATH": str(REPO), **testing_env.env}
        runs.append((root, tmp_path / f"{name}-grades", subprocess.Popen(
            [sys.executable, "-c", BATCH, str(root), str(tmp_path / f"{name}-grades")], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for root, out, proc in runs:
        log = proc.communicate(timeout=2800)[0]
        assert proc.returncode == 0, log[-3000:]
        got = grades(out)
        assert got["reference"] == (TOTAL, "ok"), (root.name, got, log[-2000:])
        assert got["skeleton"] == (0.0, "ok"), (root.name, got)
        if "busy-threads" in got:
            total, status = got["busy-threads"]
            assert status == "ok" and total >= TOTAL - SECTIONS["fid"][1], got     # at most its own section


def test_the_students_own_run_with_a_cold_cache_on_a_loaded_machine(tmp_path, testing_env, busy_machine):
    folder = build_sandbox(tmp_path / "student", {name: REPO / name for name in SUBMITTED}, testing_env.results)
    result = run_grader(folder, timeout=2800, extra_env={**testing_env.env, "GRADER_CACHE": str(tmp_path / "cold")})
    lost = [(t["name"], t["output"][:200]) for t in result["tests"] if t["score"] < t["max_score"]]
    assert result["score"] == pytest.approx(TOTAL), lost
