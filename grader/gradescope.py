"""Gradescope: `python -m grader gradescope --out autograder.zip` writes an autograder whose
run_autograder grades /autograder/submission with the batch grader's isolation (grader/batch.py)
and always leaves /autograder/results/results.json, even on a crash or a timeout."""
from __future__ import annotations

import json
import shutil
import tempfile
import traceback
import zipfile
from pathlib import Path

from grader.build import KIT
from grader.rubric import TOTAL

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update && apt-get install -y python3 python3-pip python3-venv util-linux
cd /autograder/source
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install -r requirements.txt pytest pytest-timeout
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and PYTHON let you try it locally.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$ROOT/results"
cd "$ROOT/source" || exit 0
"$PY" -m grader grade-one "$ROOT/submission" --results "$ROOT/results/results.json"
if [ ! -s "$ROOT/results/results.json" ]; then
  echo '{"score": 0, "output": "The autograder itself failed; your instructor has been told.", "tests": []}' \\
    > "$ROOT/results/results.json"
fi
exit 0
"""

SOURCE_FILES = ("util.py", "inception.py", "pytest.ini", "requirements.txt")


def build_autograder(out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        for name in SOURCE_FILES:
            z.write(KIT / name, name)
        for path in sorted((KIT / "grader").glob("*.py")):
            z.write(path, f"grader/{path.name}")
    return out


def grade_into(submission: Path, results: Path, timeout: float = 600) -> int:
    """Grade one folder into `results`; on any failure write a zero score with the reason."""
    from grader.batch import Limits, grade_one, make_judge_dir, network_isolation
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            res = grade_one(submission, tmp / "out", Limits(timeout=timeout), network_isolation(),
                            make_judge_dir(tmp / "judge"))
            shutil.copy2(tmp / "out" / "results.json", results)
        print(f"score {res['score']} / {TOTAL}")
        return 0
    except Exception:
        results.write_text(json.dumps({"score": 0, "output": "The autograder failed:\n" + traceback.format_exc()[-3000:],
                                       "tests": []}))
        return 1
