"""The grader itself: handout generation, scoring of the reference and the skeleton, results.json."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.build import assign, sandbox
from grader.roles import GIVEN_COMPLETE, JUDGE_DIR, JUDGE_GRADER, SANDBOX_GRADER, SUBMITTED as STUDENT_FILES
from grader.rubric import SECTIONS, TOTAL
from grader.run import run_grader

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    return assign(tmp_path_factory.mktemp("dist") / "student")


def test_rubric_adds_up_to_90():
    assert TOTAL == 90 and [p for _, p in SECTIONS.values()] == [10, 20, 10, 20, 10, 10, 10]


def test_handout_has_no_solutions_and_its_todos_raise(handout):
    for path in handout.rglob("*.py"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path
    assert "F.binary_cross_entropy(d_real" not in (handout / "dcgan.py").read_text()
    assert not (handout / "tests").exists() and not (handout / "grader" / JUDGE_DIR).exists()
    assert "tests" not in (handout / "pytest.ini").read_text()      # no missing folder on the path
    assert not any((handout / "grader" / name).exists() for name in JUDGE_GRADER)
    assert set(SANDBOX_GRADER) <= {p.name for p in (handout / "grader").iterdir()}
    assert {"README.md", "Makefile", "env.yml", "requirements.txt"} <= {p.name for p in handout.iterdir()}
    assert (handout / "data" / "download_dataset.sh").is_file()
    # the handout's loader knows every set its download script does (the list ships with both)
    listed = subprocess.run([sys.executable, "-c", "import dataloader; print(sorted(dataloader.CYCLEGAN_DATASETS))"],
                            cwd=handout, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "horse2zebra" in listed.stdout, listed.stderr
    sys.path.insert(0, str(handout))
    try:
        spec = importlib.util.spec_from_file_location("student_dcgan", handout / "dcgan.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)                 # the skeleton imports
        with pytest.raises(NotImplementedError, match="dcgan.py, DCGAN_Generator.__init__: the TODO above"):
            module.DCGAN_Generator()
    finally:
        sys.path.remove(str(handout))


def test_assign_cli_refuses_malformed_markers(tmp_path, monkeypatch):
    import grader.build as build
    fake_kit = tmp_path / "kit"
    (fake_kit / "grader").mkdir(parents=True)
    for name in set(STUDENT_FILES) | set(GIVEN_COMPLETE):
        (fake_kit / name).write_text("x = 1\n")
    (fake_kit / "dcgan.py").write_text("# TODO: a\n# BEGIN SOLUTION\nx = 1\n")   # never closed
    monkeypatch.setattr(build, "KIT", fake_kit)
    from grader.markers import MarkerError
    with pytest.raises(MarkerError, match="never closed"):
        build.assign(tmp_path / "out")


def test_broken_student_file_costs_only_its_sections(tmp_path):
    files = {name: REPO / name for name in STUDENT_FILES}
    broken = tmp_path / "fid.py"
    broken.write_text("def frechet_distance(:\n")            # syntax error
    files["fid.py"] = broken
    result = run_grader(sandbox(tmp_path / "sub", files), ["fid", "inception_score"])
    assert result["sections"] == {"fid": 0.0, "inception_score": 10.0}
    failing = [t["output"] for t in result["tests"] if t["tags"] == ["fid"]]
    assert all("could not import fid.py: SyntaxError" in out for out in failing)


def test_results_json_follows_the_gradescope_schema(tmp_path):
    result = run_grader(sandbox(tmp_path / "sub", {n: REPO / n for n in STUDENT_FILES}), ["fid"])
    data = json.loads((tmp_path / "sub" / ".grader-results.json").read_text())
    assert {"score", "max_score", "execution_time", "tests"} <= set(data)
    for test in data["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(test)
    assert data["score"] == data["max_score"] == 10 and result["returncode"] == 0


@pytest.mark.e2e
@pytest.mark.timeout(2800)
def test_verify_passes():
    """python -m grader verify: reference 90 twice, skeleton 0, every chaff caught in its own section only,
    every wheat full marks, feedback that points at the student's code, batch/local parity."""
    proc = subprocess.run([sys.executable, "-m", "grader", "verify"], cwd=REPO, capture_output=True, text=True,
                          timeout=2700)
    print(proc.stdout[-6000:])
    assert proc.returncode == 0 and "VERIFY PASSED" in proc.stdout, proc.stdout[-4000:] + proc.stderr[-2000:]
    for line in ("feedback: ok", "wheats identical both ways: ok; no chaff higher in batch: ok",
                 "lose points on their tagged section and no other"):
        assert line in proc.stdout


def test_every_grader_module_has_exactly_one_role():
    from grader import roles
    groups = [set(roles.SANDBOX_GRADER), set(roles.PUBLIC_GRADER) - set(roles.SANDBOX_GRADER),
              set(roles.JUDGE_GRADER), set(roles.INSTRUCTOR_TOOLS)]
    files = {p.name for p in (REPO / "grader").glob("*.py") if not p.name.startswith("test_")}
    assert sum(len(g) for g in groups) == len(set().union(*groups)), "a module has two roles"
    assert set().union(*groups) == files, f"modules without a role: {files - set().union(*groups)}"


def test_the_judges_generators_never_reach_the_handout(handout, tmp_path):
    from grader.build import LeakError, check_no_leak, judge_secrets
    secret = judge_secrets(handout)
    assert any("nn.ConvTranspose2d" in line for line in secret)          # the trusted Table 1 is a secret
    for path in handout.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".md", ".txt"}:
            assert not ({l.strip() for l in path.read_text(errors="replace").splitlines()} & secret), path
    leaked = tmp_path / "leaked"
    leaked.mkdir()
    (leaked / "notes.py").write_text(sorted(secret)[0] + "\n")
    with pytest.raises(LeakError, match="judge's code leaked"):
        check_no_leak(leaked, {}, secret)


@pytest.mark.parametrize("cores,memory_gb,expected", [(2, 24, 2), (16, 24, 6), (8, 2, 1), (1, 64, 1)])
def test_batch_grading_defaults_to_one_worker_per_core_within_memory(monkeypatch, cores, memory_gb, expected):
    import os

    import grader.batch as batch
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PHYS_PAGES": memory_gb << 18, "SC_PAGE_SIZE": 4096}[name])
    assert batch.default_workers(4096) == expected
