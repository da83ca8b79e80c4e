"""Batch grading of a class with broken and hostile submissions, and the Gradescope autograder."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch import Limits, can_drop_privileges, grade_class, network_isolation, section_scores
from grader.gradescope import build_autograder
from grader.rubric import SECTIONS, STUDENT_FILES, TOTAL
from grader.verify import sample_artifacts
from helpers import tree_digest
from hostile import ATTACKS, attacked_source

REPO = Path(__file__).resolve().parents[1]
FULL = {key: float(points) for key, (_, points) in SECTIONS.items()}


def reference_submission(dest: Path, artifacts: Path) -> Path:
    dest.mkdir(parents=True)
    for name in STUDENT_FILES:
        shutil.copy2(REPO / name, dest / name)
    shutil.copy2(artifacts / "inception_score.txt", dest / "inception_score.txt")
    shutil.copytree(artifacts / "results", dest / "results")
    (dest / "notes.txt").write_text("not in the manifest: ignored")
    return dest


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    artifacts = sample_artifacts(tmp / "artifacts")
    root = tmp / "submissions"
    reference_submission(root / "reference", artifacts)
    for name, (file, code, _) in ATTACKS.items():
        sub = reference_submission(root / name, artifacts)
        (sub / file).write_text(attacked_source((REPO / file).read_text(), code))
    zipped = reference_submission(tmp / "zipped" / "hw3-20201234", artifacts)     # a .zip with a top folder
    (tmp / "zipped" / "__MACOSX").mkdir()                                           # and macOS debris
    (tmp / "zipped" / "__MACOSX" / "._dcgan.py").write_bytes(b"\0\5junk")
    shutil.make_archive(str(root / "zipped-reference"), "zip", zipped.parent)
    before = tree_digest(root), tree_digest(REPO / "grader"), (REPO / "dcgan.py").read_bytes()
    out = tmp / "grades"
    grade_class(root, out, workers=2, limits=Limits(timeout=200, test_timeout=10))
    after = tree_digest(root), tree_digest(REPO / "grader"), (REPO / "dcgan.py").read_bytes()
    return root, out, before, after


def results(out, name):
    return json.loads((out / name / "results.json").read_text())


def test_reference_and_zipped_reference_get_full_marks(graded_class):
    _, out, _, _ = graded_class
    for name in ("reference", "zipped-reference"):
        res = results(out, name)
        assert res["score"] == pytest.approx(TOTAL), (name, section_scores(res))
        assert {"score", "max_score", "execution_time", "tests", "output"} <= set(res)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_never_raises_a_score_and_costs_only_its_items(graded_class, attack):
    _, out, _, _ = graded_class
    res = results(out, attack)
    scores = section_scores(res)
    affected = ATTACKS[attack][2]
    if attack == "network-socket" and network_isolation() is None:
        affected = {"fid"}        # without a network namespace the socket connects and the module exits
    if attack == "delete-files":         # as nobody it cannot delete; as root only in its own sandbox
        affected = set() if can_drop_privileges() else {"inception_score"}
    assert res["score"] <= TOTAL
    for key, points in FULL.items():
        if key in affected:
            assert scores[key] <= points
        else:
            assert scores[key] == pytest.approx(points), f"{attack} cost {key}: {scores}"
    for test in res["tests"]:
        if test["score"] < test["max_score"]:
            assert test["output"].strip(), f"{attack}: {test['name']} lost points without a reason"
    if affected:
        assert sum(scores[k] for k in affected) < sum(FULL[k] for k in affected), f"{attack} lost nothing: {scores}"


def test_nothing_outside_the_sandboxes_changed(graded_class):
    _, _, before, after = graded_class
    assert before == after


def test_csv_and_resume(graded_class, capsys):
    root, out, _, _ = graded_class
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0].split(",") == ["submission", *SECTIONS, "total", "status"]
    assert len(rows) == 1 + len(ATTACKS) + 2
    stamp = (out / "reference" / "results.json").stat().st_mtime
    grade_class(root, out, workers=1)
    assert "resuming: " in capsys.readouterr().out
    assert (out / "reference" / "results.json").stat().st_mtime == stamp


def test_gradescope_autograder_in_a_simulated_layout(tmp_path):
    zip_path = build_autograder(tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
        assert {"setup.sh", "run_autograder"} <= set(z.namelist())
    artifacts = sample_artifacts(tmp_path / "artifacts")
    reference_submission(root / "submission", artifacts)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=600)
    res = json.loads((root / "results" / "results.json").read_text())
    assert res["score"] == pytest.approx(TOTAL)
    # an empty submission and a broken Python still leave a results.json
    shutil.rmtree(root / "submission"); (root / "submission").mkdir(); (root / "results" / "results.json").unlink()
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env={**env, "PYTHON": "/nonexistent"},
                   check=True, timeout=600)
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 0
