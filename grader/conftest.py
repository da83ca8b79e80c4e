"""The autograder's pytest plumbing: student imports, rubric points, score table, results.json.

Run `pytest grader/` in your homework folder. Each test carries `@pytest.mark.points(n)`;
a passing test earns its points, anything else earns 0. At the end a table shows the points
per rubric section, and results.json (Gradescope schema) is written.

The submission folder is the folder above grader/ (or $GRADER_SUBMISSION).
"""
from __future__ import annotations

import importlib
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path

import pytest

SUBMISSION = Path(os.environ.get("GRADER_SUBMISSION", Path(__file__).resolve().parent.parent)).resolve()
RESULTS = Path(os.environ.get("GRADER_RESULTS", SUBMISSION / "results.json"))
sys.path.insert(0, str(SUBMISSION))

from grader.probe import MODE, Probe  # noqa: E402
from grader.rubric import SECTIONS, section_of  # noqa: E402

_START = time.time()
_RESULTS: dict[str, dict] = {}
_IMPORTS: dict[str, object] = {}


# ----------------------------------------------------------------------------- student modules
def student_module(name: str):
    """Import the student's `name`.py once; a broken file fails only the tests that need it."""
    if MODE == "judge":
        raise RuntimeError("student code is never run in judge mode")
    if name not in _IMPORTS:
        try:
            _IMPORTS[name] = importlib.import_module(name)
        except BaseException as exc:  # SyntaxError, SystemExit, anything raised at import time
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            at = f" (line {where.lineno} of {Path(where.filename).name})" if where else ""
            _IMPORTS[name] = f"could not import {name}.py: {type(exc).__name__}: {exc}{at}"
    module = _IMPORTS[name]
    if isinstance(module, str):
        raise ImportError(module)
    return module


class Student:
    """A student module, imported on first use (inside a probe, so errors are recorded)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(student_module(self._name), attr)


@pytest.fixture
def dcgan():
    return Student("dcgan")


@pytest.fixture
def cyclegan():
    return Student("cyclegan")


@pytest.fixture
def dataloader():
    return Student("dataloader")


@pytest.fixture
def inception_score():
    return Student("inception_score")


@pytest.fixture
def fid():
    return Student("fid")


@pytest.fixture
def probe(request) -> Probe:
    """probe(name, fn): what fn() returns from the student's code, as plain data (see probe.py)."""
    return Probe(request.node.nodeid)


@pytest.fixture
def submission() -> Path:
    return SUBMISSION


@pytest.fixture(autouse=True)
def _deterministic():
    """Every test starts from the same seeds, on the CPU, single-threaded math."""
    import numpy as np
    import torch
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_grad_enabled(True)
    yield


# ----------------------------------------------------------------------------- points and report
def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): rubric points of a grader test")


def pytest_collection_modifyitems(items):
    """A parametrized test's points are shared equally by its cases."""
    counts: dict[tuple, int] = {}
    for item in items:
        key = (item.nodeid.split("::")[0], item.originalname)
        counts[key] = counts.get(key, 0) + 1
    for item in items:
        marker = item.get_closest_marker("points")
        item.grader_points = (float(marker.args[0]) / counts[(item.nodeid.split("::")[0], item.originalname)]
                              if marker else 0.0)


def _points(item) -> float:
    return getattr(item, "grader_points", 0.0)


def _short(report) -> str:
    if report.passed:
        return ""
    if hasattr(report.longrepr, "reprcrash") and report.longrepr.reprcrash is not None:
        text = report.longrepr.reprcrash.message
    else:
        text = str(report.longrepr)
    return text.strip().removeprefix("grader.probe.ProbeError: ")[:2000]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    entry = _RESULTS.setdefault(item.nodeid, {"item": item, "status": "passed", "output": ""})
    if report.failed or (report.skipped and report.when != "teardown"):
        if entry["status"] == "passed":  # keep the first failure (setup or call)
            entry["status"] = "failed" if report.failed else "skipped"
            entry["output"] = _short(report) if report.failed else f"skipped: {report.longrepr[2]}"


def _rows():
    rows = []
    for nodeid, entry in _RESULTS.items():
        item = entry["item"]
        max_score = _points(item)
        doc = (item.function.__doc__ or "").strip().splitlines()
        rows.append({
            "nodeid": nodeid, "section": section_of(nodeid), "max_score": max_score,
            "score": max_score if entry["status"] == "passed" else 0.0, "status": entry["status"],
            "name": item.name, "doc": doc[0] if doc else item.name, "output": entry["output"],
        })
    return rows


def pytest_terminal_summary(terminalreporter):
    rows = _rows()
    if not rows:
        return
    write = terminalreporter.write_line
    write("")
    write("=" * 72)
    write(f"{'rubric section':40s}{'points':>12s}{'tests passed':>18s}")
    write("-" * 72)
    total = maximum = 0.0
    for key, (title, points) in SECTIONS.items():
        mine = [r for r in rows if r["section"] == key]
        if not mine:
            continue
        score = sum(r["score"] for r in mine)
        total, maximum = total + score, maximum + points
        passed = sum(r["status"] == "passed" for r in mine)
        write(f"{title:40s}{round(score, 2):>7g} / {points:<4g}{passed:>10d} / {len(mine)}")
    write("-" * 72)
    write(f"{'TOTAL':40s}{round(total, 2):>7g} / {maximum:<4g}")
    write("=" * 72)
    for r in rows:
        if r["status"] != "passed" and r["max_score"]:
            write(f"  -{round(r['max_score'], 2):g}  {r['doc']}: {r['output'].splitlines()[0] if r['output'] else r['status']}")
    write(f"(results written to {RESULTS}; these are the public tests)")


def pytest_sessionfinish(session, exitstatus):
    rows = _rows()
    if not rows:
        return
    tests = []
    for number, r in enumerate(rows, 1):
        title = SECTIONS.get(r["section"], (r["section"], 0))[0]
        tests.append({"name": f"{title}: {r['doc']}", "number": str(number), "score": r["score"],
                      "max_score": r["max_score"], "status": "passed" if r["status"] == "passed" else "failed",
                      "output": r["output"], "visibility": "visible", "tags": [r["section"]]})
    results = {"score": round(sum(t["score"] for t in tests), 4), "max_score": round(sum(t["max_score"] for t in tests), 4),
               "execution_time": round(time.time() - _START, 3), "visibility": "visible",
               "stdout_visibility": "visible", "output": "Public tests (run locally).", "tests": tests}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, RESULTS)
