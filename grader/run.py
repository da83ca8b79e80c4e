"""Run the grader on a sandbox folder in a fresh interpreter and read back its scores."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from grader.rubric import SECTIONS


def run_grader(folder: Path, sections: list[str] | None = None, timeout: float = 600,
               extra_env: dict[str, str] | None = None) -> dict:
    """pytest grader/ in `folder`; returns {'sections': {key: score}, 'tests': [...], 'returncode', 'output'}."""
    folder = Path(folder).resolve()
    results = folder / ".grader-results.json"
    results.unlink(missing_ok=True)
    targets = [f"grader/test_{s}.py" for s in sections] if sections else ["grader"]
    env = {**os.environ, "GRADER_SUBMISSION": str(folder), "GRADER_RESULTS": str(results),
           "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", **(extra_env or {})}
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini"),
           "--rootdir", str(folder), "-o", "timeout=60"]
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    if not results.is_file():
        raise RuntimeError(f"the grader wrote no results in {folder}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(results.read_text())
    per_section = {key: 0.0 for key in (sections or SECTIONS)}
    for test in data["tests"]:
        per_section[test["tags"][0]] = per_section.get(test["tags"][0], 0.0) + test["score"]
    return {"sections": per_section, "tests": data["tests"], "score": data["score"],
            "returncode": proc.returncode, "output": proc.stdout}
