"""Build folders the grader runs in: the student handout (`assign`) and submission sandboxes.

A sandbox is self-contained: the kit's pristine public grader/, pytest.ini and given files, then
the student's files from the manifest on top (what a student's own `pytest grader/` sees).
A judge folder is the trusted side of batch grading: the public tests plus grader/judge/.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from grader.course import HANDOUT_README
from grader.markers import BEGIN, END, MARKER_RE, strip_solutions
from grader.rubric import COURSE, SECTIONS
from grader.roles import GIVEN_COMPLETE, HANDOUT_CODE, JUDGE_DIR, JUDGE_GRADER, JUDGE_KIT_FILES, PUBLIC_GRADER, SCORES_FILE, SUBMITTED

KIT = Path(__file__).resolve().parent.parent
ARTIFACTS = (SCORES_FILE, "results")     # what the Testing section reads


class LeakError(RuntimeError):
    """Solution text would reach the student handout."""


def copy_grader(dest: Path, judge: bool = False) -> None:
    """The public grader (plumbing, questions, the course's test_*.py, grader/COURSE naming the course);
    with `judge`, also the judge-only code."""
    (dest / "grader").mkdir(parents=True, exist_ok=True)
    src = KIT / "grader"
    for name in PUBLIC_GRADER + tuple(f"test_{key}.py" for key in SECTIONS):
        shutil.copy2(src / name, dest / "grader" / name)
    (dest / "grader" / "COURSE").write_text(COURSE + "\n")
    for name in JUDGE_GRADER if judge else ():
        shutil.copy2(src / name, dest / "grader" / name)
    if judge and (src / JUDGE_DIR).is_dir():
        shutil.copytree(src / JUDGE_DIR, dest / "grader" / JUDGE_DIR, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (dest / "grader" / JUDGE_DIR / "kit").mkdir(exist_ok=True)
        for name in JUDGE_KIT_FILES:      # the judge's own Inception, never a submitted file
            shutil.copy2(KIT / name, dest / "grader" / JUDGE_DIR / "kit" / name)
    (dest / "pytest.ini").write_text(public_pytest_ini())


def public_pytest_ini() -> str:
    """The kit's pytest.ini without its own tests/ folder on the path (a handout has none)."""
    lines = (KIT / "pytest.ini").read_text().splitlines()
    return "\n".join(" ".join(w for w in line.split() if w != "tests") if line.startswith("pythonpath") else line
                     for line in lines) + "\n"


def solution_lines(source: str) -> set[str]:
    """Code lines that stand only inside solution blocks (the text that must not leak)."""
    inside, outside, in_block = set(), set(), False
    for line in source.splitlines():
        match = MARKER_RE.match(line)
        if match:
            in_block = match.group(2) == "BEGIN"
            continue
        (inside if in_block else outside).add(line.strip())
    return {l for l in inside - outside if len(l) > 12 and not l.startswith("#")}


def judge_lines() -> set[str]:
    """Code lines of grader/judge/ (the trusted Table 1/2 generators and metrics): in no handout file."""
    found = set()
    for path in (KIT / "grader" / JUDGE_DIR).glob("*.py"):
        found |= {l.strip() for l in path.read_text().splitlines()      # lines that build networks or metrics
                  if len(l.strip()) > 30 and not l.strip().startswith(("#", '"', "from ", "import "))
                  and any(word in l for word in ("nn.", "np.", "torch.", "xlogy", "eigh"))}
    return found


def check_no_leak(out: Path, secrets: dict[str, set[str]], everywhere: set[str] = frozenset()) -> None:
    """No marker anywhere; no solution line of a kit file in its student version; no line of
    `everywhere` (the judge's code) in any file."""
    for path in out.rglob("*"):
        if not path.is_file() or path.suffix not in {".py", ".md", ".txt", ".ini", ".sh", ".yml", ""}:
            continue
        text = path.read_text(errors="replace")
        if BEGIN in text or END in text:
            raise LeakError(f"{path}: a solution marker survived")
        leaked = sorted({l.strip() for l in text.splitlines()} & secrets.get(path.name, set()))
        if leaked and path.parent == out:
            raise LeakError(f"{path}: solution code leaked: {leaked[0]!r}")
        judged = sorted({l.strip() for l in text.splitlines()} & everywhere)
        if judged:
            raise LeakError(f"{path}: the judge's code leaked: {judged[0]!r}")


STUDENT_MAKEFILE = """\
# make setup: create .venv;  make data: offline datasets;  make grade: run the autograder
PY ?= python3.11
BIN := .venv/bin

.PHONY: setup data grade
$(BIN)/.installed: requirements.txt
\t$(PY) -m venv .venv
\t$(BIN)/pip install --quiet --upgrade pip
\t$(BIN)/pip install --quiet -r requirements.txt pytest pytest-timeout
\ttouch $@
setup: $(BIN)/.installed
data: setup
\t$(BIN)/python data/make_offline_data.py
grade: setup
\t$(BIN)/python -m pytest grader/
"""


def assign(out: Path) -> Path:
    """Write the student handout of the active course (grader/course.py) into `out` (replaced if present)."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    secrets: dict[str, set[str]] = {}
    for name in HANDOUT_CODE:
        source = (KIT / name).read_text()
        secrets[name] = solution_lines(source)
        student = strip_solutions(source, name)
        compile(student, name, "exec")          # the skeleton must at least parse
        (out / name).write_text(student)
    copy_grader(out)
    (out / "data").mkdir()
    for name in ("download_dataset.sh", "cyclegan_datasets.txt", "make_offline_data.py"):
        shutil.copy2(KIT / "data" / name, out / "data" / name)
    for name in ("requirements.txt", "env.yml"):
        shutil.copy2(KIT / name, out / name)
    (out / "Makefile").write_text(STUDENT_MAKEFILE)
    (out / "README.md").write_text(handout_readme())
    check_no_leak(out, secrets, judge_secrets(out))
    return out


SHARED_RE = re.compile(r"<!-- shared: ([\w-]+) -->\n(.*?)<!-- end shared -->\n?", re.S)


def handout_readme() -> str:
    """The course's README: its grader/HANDOUT*.md with the parts written once in HANDOUT.md filled in
    (`<!-- shared: NAME -->`) and the rubric table made from grader/rubric.py (`<!-- rubric -->`)."""
    shared = {name: body for name, body in SHARED_RE.findall((KIT / "grader" / "HANDOUT.md").read_text())}
    text = SHARED_RE.sub(lambda m: m.group(2), (KIT / "grader" / HANDOUT_README[COURSE]).read_text())

    def fill(match: re.Match) -> str:
        if match.group(1) not in shared:
            raise LeakError(f"{HANDOUT_README[COURSE]}: no shared part {match.group(1)!r} in HANDOUT.md")
        return shared[match.group(1)]
    text = re.sub(r"<!-- shared: ([\w-]+) -->\n?", fill, text)
    rubric = "| section | points |\n|---|---|\n" + "".join(f"| {title} | {points} |\n" for title, points in SECTIONS.values())
    return text.replace("<!-- rubric -->\n", rubric)


def judge_secrets(handout: Path) -> set[str]:
    """The judge's code lines, less those the skeleton hands out anyway (e.g. a `forward` signature)."""
    given = {l.strip() for name in HANDOUT_CODE for l in (handout / name).read_text().splitlines()}
    return judge_lines() - given


def sandbox(dest: Path, files: dict[str, Path], artifacts: Path | None = None) -> Path:
    """A grading folder: the kit's given files and grader, then the student `files` on top."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in GIVEN_COMPLETE:
        shutil.copy2(KIT / name, dest / name)
    copy_grader(dest)
    for name, path in files.items():
        if name in SUBMITTED:
            shutil.copy2(path, dest / name)
    if artifacts is not None:
        for name in ARTIFACTS:
            src = artifacts / name
            if src.is_dir():
                shutil.copytree(src, dest / name, dirs_exist_ok=True)
            elif src.is_file():
                shutil.copy2(src, dest / name)
    return dest
