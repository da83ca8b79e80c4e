"""Gradescope: `python -m grader gradescope --out autograder.zip` writes an autograder whose
run_autograder grades /autograder/submission with the batch grader's design (grader/batch.py):
the trusted judge in /autograder/source asks the sandboxed student process (bubblewrap, which
setup.sh installs), which sees only the interpreter, the submission and the question modules.
Each run first checks, cheaply, that the sandbox can import every dependency and answer a
question on the kit's reference; if not, results.json says "autograder error" and holds no
score. It always leaves /autograder/results/results.json, even on a crash or a timeout."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from grader.build import KIT, copy_grader, public_pytest_ini
from grader.roles import INSTRUCTOR_TOOLS, SUBMITTED
from grader.rubric import TOTAL

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update && apt-get install -y python3 python3-pip python3-venv util-linux bubblewrap
cd /autograder/source
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# Gradescope machines have no GPU: torch's CPU wheels (the default ones carry several GB of CUDA);
# the pins come from requirements.txt, and a +cpu build satisfies them
/autograder/venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu $(grep -E '^torch(vision)?==' requirements.txt)
/autograder/venv/bin/pip install -r requirements.txt pytest pytest-timeout
# the Testing section samples the submitted generators: Inception weights and real images
/autograder/venv/bin/python -c "import inception; print(inception.resolve_weights())"
/autograder/venv/bin/python -c "from torchvision.datasets import CIFAR10; CIFAR10('data/cifar10', download=True)"
bash data/download_dataset.sh summer2winter_yosemite
/autograder/venv/bin/python data/make_offline_data.py     # shapes32 and seasons, for offline-trained claims
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and PYTHON let you try it locally.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$ROOT/results"
cd "$ROOT/source" || exit 0
"$PY" -m grader grade-one "$ROOT/submission" --results "$ROOT/results/results.json"
if [ ! -s "$ROOT/results/results.json" ]; then
  echo '{"output": "Autograder error: the autograder itself failed (not your code); your instructor has been told.", "tests": []}' \\
    > "$ROOT/results/results.json"
fi
exit 0
"""

SOURCE_FILES = ("util.py", "inception.py", "pytest.ini", "requirements.txt", "data/download_dataset.sh",
                "data/cyclegan_datasets.txt", "data/make_offline_data.py", *SUBMITTED)


def build_autograder(out: Path) -> Path:
    """The zip: setup.sh, run_autograder, the kit's given files and reference (the canary and the
    stand-ins for files a student does not submit), the grader with its judge-only tests."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy_grader(Path(tmp), judge=True)
        for name in INSTRUCTOR_TOOLS:
            shutil.copy2(KIT / "grader" / name, Path(tmp) / "grader" / name)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                z.writestr(info, text)
            for name in dict.fromkeys(SOURCE_FILES):
                if name == "pytest.ini":
                    z.writestr(name, public_pytest_ini())
                else:
                    z.write(KIT / name, name)
            for path in sorted(Path(tmp, "grader").rglob("*.py")) + [Path(tmp, "grader", "COURSE")]:
                z.write(path, path.relative_to(tmp).as_posix())          # COURSE: which rubric it grades by
    return out


def cheap_canary(options) -> str | None:
    """None if the sandbox starts (imports torch and the questions) and answers right on the reference."""
    from grader.batch import kit_intake, stage
    from grader.sandbox import AnswerError, Config, Sandbox, SandboxError
    with tempfile.TemporaryDirectory() as tmp:
        staged = stage(kit_intake({name: KIT / name for name in SUBMITTED}), Path(tmp) / "reference")
        try:
            box = Sandbox(staged, Config(kind=options.sandbox, limits=options.limits, python=options.python))
        except SandboxError as exc:
            return str(exc)
        try:
            got = box.ask("cyclegan_discriminator_facts", {"sizes": [32], "seed": 0})     # both courses have it
            params = got.get("params") if isinstance(got, dict) else got
            return None if params == 2_764_672 else f"the reference answered {params!r} instead of 2764672"
        except (AnswerError, SandboxError) as exc:
            return f"the sandbox could not answer on the reference: {exc}"
        finally:
            box.close()


def grade_into(submission: Path, results: Path, timeout: float = 600, options=None) -> int:
    """Grade one folder into `results`; any grader failure is an "autograder error" without a score."""
    from grader.batch import Job, Options, intake, run_jobs
    from grader.sandbox import Limits
    options = options or Options(limits=Limits(deadline=timeout))
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        from grader.batch import class_data_ready, testing_ready
        testing_ready()
        class_data_ready({"submission": intake(submission)})
        problem = cheap_canary(options)
        if problem:
            raise RuntimeError(f"canary failed: {problem}")
        with tempfile.TemporaryDirectory() as tmp:
            judge_dir = Path(tmp)
            copy_grader(judge_dir, judge=True)
            res = run_jobs([Job("submission", intake(submission), results.parent)], judge_dir, options, 1)[0]
        if res["status"] == "error":
            raise RuntimeError("; ".join(res.get("instructor_errors", []))[:2000])
        res["score"] = round(sum(t["score"] for t in res["tests"]), 4)
        results.write_text(json.dumps(res, indent=2))
        print(f"score {res['score']} / {TOTAL}")
        return 0
    except Exception as exc:
        print(traceback.format_exc()[-3000:], file=sys.stderr)
        results.write_text(json.dumps({"output": "Autograder error: the grader could not grade this submission "
                                                 "(not your code); your instructor has been told.",
                                       "status": "error", "instructor_errors": [str(exc)[:2000]], "tests": []}))
        return 1
