"""Batch grading of a class with broken and hostile submissions, and the Gradescope autograder.

One class is graded once (module fixture) with two workers: the kit's reference (as a folder, as a
.zip with a top folder and macOS debris, and under hostile names), the honest skeleton, and every
attack of tests/hostile. Each attack must get exactly its honest score."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch import Options, find_submissions, grade_class, section_scores
from grader.build import assign
from grader.gradescope import build_autograder
from grader.rubric import SECTIONS, TOTAL
from grader.sandbox import UID_BASE, Limits, bwrap_available
from helpers import submission, tree_digest
from test_intake import deep_folder, remove
from hostile import ATTACKS, attacked_source

REPO = Path(__file__).resolve().parents[1]
FULL = {key: float(points) for key, (_, points) in SECTIONS.items()}
ZERO = {key: 0.0 for key in SECTIONS}
LIMITS = Limits(deadline=150, question=8, memory_mb=3072)
pytestmark = [pytest.mark.skipif(bwrap_available() is not None, reason=f"no bubblewrap: {bwrap_available()}"),
              pytest.mark.timeout(1200), pytest.mark.e2e]


def sandbox_processes() -> list[str]:
    """Processes of the workers' own uids (none may outlive the batch)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and UID_BASE <= entry.stat().st_uid < UID_BASE + 16:
                found.append(entry.name)
        except OSError:
            pass
    return found


def temp_leftovers() -> set[str]:
    import tempfile
    return {p.name for p in Path(tempfile.gettempdir()).iterdir()
            if p.name.startswith(("grade-", "judge-", "grader-questions-", "student-work-"))}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, testing_env):
    tmp = tmp_path_factory.mktemp("class")
    artifacts = testing_env.results
    skeleton = assign(tmp / "handout")
    root = tmp / "submissions"
    submission(root / "reference", REPO, artifacts)
    submission(root / "skeleton", skeleton, None)
    for name, attack in ATTACKS.items():
        base = REPO if attack.base == "reference" else skeleton
        sub = submission(root / name, base, artifacts if attack.base == "reference" else None)
        (sub / attack.file).write_text(attacked_source((base / attack.file).read_text(), attack))
    submission(root / "zz-reference-after-daemon", REPO, artifacts)
    submission(root / "zz-skeleton-after-daemon", skeleton, None)
    submission(root / "weird name (1) é", REPO, artifacts)
    deep = submission(root / "deep-folder", REPO, artifacts)                        # 1,100 folders deep beside the code
    deep_folder(deep, 1100)
    zipped = submission(tmp / "zipped" / "hw3-20201234", REPO, artifacts)          # a .zip with a top folder
    (tmp / "zipped" / "__MACOSX").mkdir()                                           # and macOS debris
    (tmp / "zipped" / "__MACOSX" / "._dcgan.py").write_bytes(b"\0\5junk")
    shutil.make_archive(str(root / "grades.csv"), "zip", zipped.parent)            # named like the output
    before = tree_digest(root), tree_digest(REPO / "grader"), (REPO / "dcgan.py").read_bytes()
    leftovers = temp_leftovers()
    out = tmp / "grades"
    try:
        grade_class(root, out, workers=2, options=Options(LIMITS))
        after = tree_digest(root), tree_digest(REPO / "grader"), (REPO / "dcgan.py").read_bytes()
    finally:
        remove(deep / "d")               # pytest's own clean-up recurses: not 1,100 levels
    return root, out, before, after, leftovers


def results(out, name):
    return json.loads((out / name / "results.json").read_text())


def test_reference_copies_get_full_marks(graded_class):
    root, out, *_ = graded_class
    ids = find_submissions(root)
    weird = [i for i in ids if i.startswith("weird_name")]
    zipped = [i for i in ids if i.startswith("grades.csv_")]
    assert len(zipped) == 1 and len(weird) == 1 and all(c.isalnum() or c in "._-" for c in weird[0])
    for name in ("reference", zipped[0], weird[0], "zz-reference-after-daemon", "deep-folder"):
        res = results(out, name)
        assert res["status"] == "ok" and section_scores(res) == FULL, (name, section_scores(res))
        assert "bubblewrap" in res["output"] and "grading seed" in res["output"]


def test_skeleton_scores_zero(graded_class):
    _, out, *_ = graded_class
    for name in ("skeleton", "zz-skeleton-after-daemon"):
        assert section_scores(results(out, name)) == ZERO, name


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_gets_exactly_its_honest_score(graded_class, attack):
    _, out, *_ = graded_class
    res = results(out, attack)
    scores, spec = section_scores(res), ATTACKS[attack]
    assert res["status"] == "ok", res.get("instructor_errors")
    if spec.base == "skeleton":
        assert scores == ZERO, f"{attack} earned points from a skeleton: {scores}"
        return
    for key, points in FULL.items():
        if key in spec.affected:
            assert scores[key] <= points
        else:
            assert scores[key] == pytest.approx(points), f"{attack} cost {key}: {scores}"
    for test in res["tests"]:
        if test["score"] < test["max_score"]:
            assert test["output"].strip(), f"{attack}: {test['name']} lost points without a reason"


def test_broken_code_costs_its_items_with_the_reason(graded_class):
    _, out, *_ = graded_class
    reasons = {"syntax-error": "SyntaxError", "sys-exit-at-import": "SystemExit",
               "os-exit-at-import": "ended the grading process", "infinite-loop-in-forward": "longer than",
               "blocked-signals-loop": "longer than", "raw-protocol-frames": "", "huge-allocation": ""}
    for attack, reason in reasons.items():
        spec = ATTACKS[attack]
        lost = [t for t in results(out, attack)["tests"] if t["tags"][0] in spec.affected and t["score"] < t["max_score"]]
        assert lost, f"{attack} lost nothing"
        assert all(reason in t["output"] for t in lost), (attack, [t["output"] for t in lost][:2])


def test_nothing_outlives_the_batch_and_nothing_outside_changed(graded_class):
    _, _, before, after, leftovers = graded_class
    assert before == after
    assert sandbox_processes() == []
    assert temp_leftovers() <= leftovers


def test_csv_and_resume(graded_class, capsys):
    root, out, *_ = graded_class
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0].split(",") == ["submission", *SECTIONS, "total", "status"]
    assert len(rows) == 1 + len(find_submissions(root))
    stamp = (out / "reference" / "results.json").stat().st_mtime
    grade_class(root, out, workers=1, options=Options(LIMITS))
    assert "resuming: " in capsys.readouterr().out
    assert (out / "reference" / "results.json").stat().st_mtime == stamp
    # copies of one trained generator are listed for the instructor (never a grade)
    similar = (out / "similar.csv").read_text().splitlines()
    assert "reference,zz-reference-after-daemon,results/cyclegan/checkpoints/G_A2B_final.pth,identical file" in similar
    assert any(line.startswith("reference,zz-reference-after-daemon,own code") for line in similar)   # copied code too
    page = (out / "class_report.html").read_text()                 # the class report, after every batch
    assert (out / "class_report" / "sections.png").is_file() and "Items most often lost" in page


def test_a_rerun_grades_a_new_submission_under_an_earlier_name(graded_class, tmp_path):
    """A late skeleton named like an earlier reference must not inherit its grade."""
    root, out, *_ = graded_class
    late_root, late_out = tmp_path / "late", tmp_path / "grades"
    shutil.copytree(out / "reference", late_out / "reference")                   # the earlier grading of the name
    submission(late_root / "reference", assign(tmp_path / "handout"), None)      # now a skeleton
    grade_class(late_root, late_out, workers=1, options=Options(LIMITS), run_canary=False)
    assert section_scores(results(late_out, "reference")) == ZERO


def test_gradescope_autograder_in_a_simulated_layout(tmp_path, testing_env):
    zip_path = build_autograder(tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
        names = set(z.namelist())
    assert {"setup.sh", "run_autograder", "grader/sandbox.py"} <= names
    # setup.sh installs torch's CPU wheels at exactly the pins of requirements.txt
    setup = (root / "source" / "setup.sh").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup
    pins = subprocess.run(["bash", "-c", "grep -E '^torch(vision)?==' requirements.txt"], cwd=root / "source",
                          capture_output=True, text=True, check=True).stdout.split()
    assert sorted(pins) == sorted(line for line in (REPO / "requirements.txt").read_text().splitlines()
                                  if line.startswith(("torch==", "torchvision==")))
    submission(root / "submission", REPO, testing_env.results)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=600)
    res = json.loads((root / "results" / "results.json").read_text())
    assert res["score"] == pytest.approx(TOTAL)
    # an empty submission scores 0; a broken Python is an autograder error, not a score
    shutil.rmtree(root / "submission"); (root / "submission").mkdir(); (root / "results" / "results.json").unlink()
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=600)
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 0
    (root / "results" / "results.json").unlink()
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env={**env, "PYTHON": "/nonexistent"},
                   check=True, timeout=600)
    broken = json.loads((root / "results" / "results.json").read_text())
    assert "score" not in broken and broken["output"].startswith("Autograder error")
