"""Run the grader on sandbox folders and read back their scores.

`run_grader` starts a fresh interpreter (what a student's `pytest grader/` does).
`run_many` is for trusted code (the reference and the variants corpus): it imports torch,
numpy, scipy and pytest once and forks one child per folder, which cuts the ~5 s start-up
of every run. Each child still gets its own process and a clean set of student modules.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from grader.roles import SUBMITTED as STUDENT_FILES
from grader.rubric import SECTIONS

GRADER_ENV = {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "PYTHONDONTWRITEBYTECODE": "1"}


def pytest_args(folder: Path, sections: list[str] | None, timeout: int = 60) -> list[str]:
    """The one pytest command line of the grader (local runs, the corpus and the batch judge)."""
    targets = [f"grader/test_{s}.py" for s in sections] if sections else ["grader"]
    return [*targets, "-q", "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini"),
            "--rootdir", str(folder), "-o", f"timeout={timeout}"]


def read_results(folder: Path, sections: list[str] | None, returncode: int, output: str = "") -> dict:
    results = folder / ".grader-results.json"
    if not results.is_file():
        log = folder / ".grader-output.txt"
        output = output or (log.read_text(errors="replace") if log.is_file() else "")
        raise RuntimeError(f"the grader wrote no results in {folder} (exit {returncode}):\n{output[-3000:]}")
    data = json.loads(results.read_text())
    per_section = {key: 0.0 for key in (sections or SECTIONS)}
    for test in data["tests"]:
        per_section[test["tags"][0]] = per_section.get(test["tags"][0], 0.0) + test["score"]
    return {"sections": per_section, "tests": data["tests"], "score": data["score"],
            "returncode": returncode, "output": output}


def run_grader(folder: Path, sections: list[str] | None = None, timeout: float = 600,
               extra_env: dict[str, str] | None = None) -> dict:
    """pytest grader/ in `folder` in a fresh interpreter."""
    folder = Path(folder).resolve()
    (folder / ".grader-results.json").unlink(missing_ok=True)
    env = {**os.environ, "GRADER_SUBMISSION": str(folder),
           "GRADER_RESULTS": str(folder / ".grader-results.json"), **GRADER_ENV, **(extra_env or {})}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", *pytest_args(folder, sections)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return read_results(folder, sections, proc.returncode, proc.stdout + proc.stderr)


def preload() -> None:
    """Import what every grader run needs once, before forking (no threads started)."""
    import numpy, PIL.Image, pytest, scipy.linalg, scipy.special, scipy.stats, torch, torchvision  # noqa: F401
    import torchvision.transforms, torchvision.utils  # noqa: F401
    torch.set_num_threads(1)


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def share_cores(workers: int) -> None:
    """In a forked grading process, one of `workers`: numpy's and scipy's BLAS (the FID's 2048-d
    eigendecompositions) on this worker's share of the cores. Left alone, every worker runs a BLAS thread
    per core and their spinning threads fight: 2 workers graded a class slower than 1 (0.85x, measured).
    torch stays at 1 thread (preload): a forked process cannot use an OpenMP pool its parent started."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(max(1, cores() // max(1, workers)), user_api="blas")


def _child(folder: Path, sections: list[str] | None, timeout: int, env: dict | None = None, workers: int = 1) -> None:
    """In the forked child: a clean module state for this folder, then pytest.main."""
    code = 3
    try:
        signal.alarm(timeout)
        share_cores(workers)
        os.chdir(folder)
        os.environ.update({"GRADER_SUBMISSION": str(folder), "GRADER_RESULTS": str(folder / ".grader-results.json"),
                           **GRADER_ENV, **(env or {})})
        students = {name.removesuffix(".py") for name in STUDENT_FILES} | {"inception"}
        for name in list(sys.modules):
            if name.split(".")[0] in students | {"grader", "variants", "conftest"}:
                del sys.modules[name]
        kit = str(Path(__file__).resolve().parent.parent)
        sys.path[:] = [str(folder)] + [p for p in sys.path if p not in ("", ".", kit)]
        fd = os.open(folder / ".grader-output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        import pytest
        code = int(pytest.main(pytest_args(folder, sections)))
    finally:
        os._exit(code)


def run_many(jobs: list[tuple[Path, list[str] | None]], workers: int = 2, timeout: int = 600,
             envs: list[dict] | None = None) -> list[dict]:
    """Grade trusted folders, `workers` forked children at a time (each with its `envs` entry); results
    in job order."""
    preload()
    sys.stdout.flush(); sys.stderr.flush()
    pending = [(i, Path(folder).resolve(), sections) for i, (folder, sections) in enumerate(jobs)]
    running: dict[int, tuple[int, Path, list[str] | None]] = {}
    results: list[dict | None] = [None] * len(jobs)
    while pending or running:
        while pending and len(running) < max(1, workers):
            i, folder, sections = pending.pop(0)
            (folder / ".grader-results.json").unlink(missing_ok=True)
            pid = os.fork()
            if pid == 0:
                _child(folder, sections, timeout, envs[i] if envs else None, workers)
            running[pid] = (i, folder, sections)
        pid, status = os.wait()
        i, folder, sections = running.pop(pid)
        results[i] = read_results(folder, sections, os.waitstatus_to_exitcode(status))
    return results
