"""A grader failure is never a grade: broken grading environments end in a clear error (batch) or
in status `error` without a score, and a re-run after fixing the cause grades normally."""
import errno
import json
import shutil
from pathlib import Path

import pytest

import grader.batch as batch
from grader.batch import GraderError, Options, grade_class, section_scores
from grader.roles import SUBMITTED
from grader.rubric import SECTIONS
from grader.sandbox import Limits, bwrap_available

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(deadline=120, question=20, memory_mb=3072)
pytestmark = pytest.mark.e2e
needs_bwrap = pytest.mark.skipif(bwrap_available() is not None, reason=f"no bubblewrap: {bwrap_available()}")


@pytest.fixture
def one_submission(tmp_path) -> Path:
    root = tmp_path / "subs"
    (root / "alice").mkdir(parents=True)
    for name in SUBMITTED:
        shutil.copy2(REPO / name, root / "alice" / name)
    return root


def test_missing_bubblewrap_stops_before_grading(one_submission, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GraderError, match="bubblewrap is not installed.*--sandbox basic"):
        grade_class(one_submission, tmp_path / "out")
    assert not (tmp_path / "out" / "alice").exists()


@needs_bwrap
def test_sandbox_that_cannot_import_torch_fails_the_canary_not_the_students(one_submission, tmp_path, testing_env):
    # an interpreter the sandbox can run but that lacks the kit's packages (as when the student
    # process cannot read the environment): the canary of the reference fails, nothing is graded
    python = shutil.which("python3.11", path="/usr/bin") or "/usr/bin/python3"
    with pytest.raises(GraderError, match="canary.*instead of full marks.*(torch|did not start)"):
        grade_class(one_submission, tmp_path / "out", options=Options(LIMITS, python=python))
    assert not (tmp_path / "out" / "alice" / "results.json").exists()


@needs_bwrap
def test_crashed_judge_is_an_error_then_a_rerun_grades(one_submission, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(batch, "JUDGE_MEMORY_MB", 64)            # the judge dies of memory outside the student
    grade_class(one_submission, out, options=Options(LIMITS), run_canary=False)
    res = json.loads((out / "alice" / "results.json").read_text())
    assert res["status"] == "error" and "score" not in res and res["instructor_errors"]
    assert res["output"].startswith("The grader could not grade this submission (grader error, not your code)")
    row = (out / "grades.csv").read_text().splitlines()[1].split(",")
    assert row[0] == "alice" and row[-1] == "error" and row[-2] == ""
    assert "1 grader errors" in capsys.readouterr().out
    monkeypatch.setattr(batch, "JUDGE_MEMORY_MB", 6144)          # fixed: a re-run without --force grades it
    grade_class(one_submission, out, options=Options(LIMITS), run_canary=False)
    res = json.loads((out / "alice" / "results.json").read_text())
    assert res["status"] == "ok" and section_scores(res)["fid"] == SECTIONS["fid"][1]


@needs_bwrap
def test_full_grader_disk_writes_no_score_and_says_so(one_submission, tmp_path, monkeypatch):
    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(batch, "write_atomic", full)
    with pytest.raises(GraderError, match="could not write the results of 1 submission.*No space left"):
        grade_class(one_submission, tmp_path / "out", options=Options(LIMITS), run_canary=False)
    assert not (tmp_path / "out" / "alice" / "results.json").exists()


def test_basic_sandbox_answers_and_says_its_protections_are_weaker(tmp_path):
    """Where bubblewrap is refused, `--sandbox basic` still grades, and every result says so."""
    from grader.batch import kit_intake, stage
    from grader.sandbox import Config, Sandbox
    staged = stage(kit_intake({name: REPO / name for name in SUBMITTED}), tmp_path / "staged")
    box = Sandbox(staged, Config(kind="basic", limits=LIMITS))
    try:
        assert box.ask("dcgan_params", {"part": "G"}) == 1_707_904
        assert box.protections.startswith("BASIC (bubblewrap not used)")
        scratch = Path(box._scratch_dir)
        assert scratch.is_dir()
    finally:
        box.close()
    assert not scratch.exists()
