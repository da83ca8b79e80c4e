"""The autograder's pytest plumbing: probes, rubric points, score table, results.json.

Run `pytest grader/` in your homework folder. Each test carries `@pytest.mark.points(n)`;
a passing test earns its points, anything else earns 0. At the end a table shows the points
per rubric section, and results.json (Gradescope schema) is written.

The submission folder is the folder above grader/ (or $GRADER_SUBMISSION). In batch grading
($GRADER_MODE=judge) this process is the trusted judge: it starts the sandboxed student process
(grader/sandbox.py) once per session and never imports student code itself.
"""
from __future__ import annotations

import json
import os
import random
import re
import sys
import time
from pathlib import Path

import pytest

SUBMISSION = Path(os.environ.get("GRADER_SUBMISSION", Path(__file__).resolve().parent.parent)).resolve()
RESULTS = Path(os.environ.get("GRADER_RESULTS", SUBMISSION / "results.json"))
if os.environ.get("GRADER_MODE", "local") == "local":
    sys.path.insert(0, str(SUBMISSION))

from grader.probe import MODE, Probe, cpu_and_wait, starved  # noqa: E402
from grader.rubric import SECTIONS, section_of  # noqa: E402

_START = time.time()
_LOAD = list(os.getloadavg())
_RESULTS: dict[str, dict] = {}


@pytest.fixture
def probe() -> Probe:
    """probe(question, **inputs): the student's answer, as plain data (see probe.py)."""
    return Probe()


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


def pytest_sessionstart(session):
    if MODE != "judge":
        return
    from grader.sandbox import Config, Limits, Sandbox, SandboxError
    config = json.loads(os.environ.get("GRADER_SANDBOX", "{}"))
    limits = Limits(**config.pop("limits", {}))
    try:
        Probe.sandbox = Sandbox(SUBMISSION, Config(limits=limits, **config))
    except SandboxError as exc:
        Probe.sandbox = exc


def pytest_ignore_collect(collection_path, config):
    """Only the sections of this folder's course (grader/course.py): the kit's own grader/ holds both."""
    name = collection_path.name
    if name.startswith("test_") and name.endswith(".py") and collection_path.parent == Path(__file__).parent:
        return section_of(name) not in SECTIONS or None
    return None


# ----------------------------------------------------------------------------- points and report
def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): rubric points of a grader test")
    config.addinivalue_line("markers", "student(*names): the student's code ('module:Qual.name') or file a test judges")
    if config.getoption("tbstyle", "auto") == "auto":   # the table below says what failed; --tb=short brings tracebacks back
        config.option.tbstyle = "no"
        config.option.reportchars = ""


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


# terminal escapes first, then C0/C1 controls (tab and newline kept), bidirectional overrides and
# isolates, and the Unicode line/paragraph separators: feedback shows the text as written, in order
CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                     r"\u2066-\u2069\u2028\u2029\ufeff]")


def clean(text: str, limit: int = 2000) -> str:
    """Plain text for every output format: no control characters, terminal escapes or bidi tricks, bounded."""
    return CONTROL.sub("", text)[:limit]


def _message(report) -> str:
    """The failure in the student's terms: no pytest introspection, no reprs with addresses."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = []
    for line in text.strip().splitlines():
        if line.lstrip().startswith(("assert ", "+", "where ")):
            break
        lines.append(line)
    text = "\n".join(lines).strip()
    for prefix in ("grader.probe.ProbeError: ", "AssertionError: ", "Failed: ", "ProbeError: "):
        text = text.removeprefix(prefix)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _location(item) -> str:
    """'dcgan.py:142 in DCGAN_Solver.d_loss' for the code a test judges (the file, if that is all)."""
    marker = item.get_closest_marker("student")
    if marker is None:
        return ""
    code = [n for n in marker.args if ":" in n]
    try:
        found = Probe()("locate", names=code) if code else {}
    except Exception:  # noqa: BLE001 - a location is a courtesy, never a reason to fail the report
        found = {}
    places = []
    for name in marker.args:
        module, _, path = name.partition(":")
        if not path:
            places.append(name)
        elif isinstance(found, dict) and isinstance(found.get(name), list) and len(found[name]) == 2:
            places.append(f"{found[name][0]}:{found[name][1]} in {path}")
        else:
            places.append(f"{module}.py, {path}")
    return ", ".join(places)


def feedback(message: str, location: str) -> str:
    """One sentence first (what was expected, what the code did), then where to look."""
    lines = message.strip().splitlines() or ["this check failed"]
    first = lines[0].rstrip()
    if location and not re.search(r"\(\w+\.py:\d+", first):
        first = f"{first} (see {location})"
    if not first.endswith((".", "?", "!")):
        first += "."
    return clean("\n".join([first, *lines[1:]]))


def _is_grader_error(call) -> bool:
    if MODE != "judge":
        return False
    from grader.sandbox import SandboxError
    from grader.training_check import CannotCheck
    return call.excinfo is not None and call.excinfo.errisinstance((SandboxError, CannotCheck))


BUSY_SHARE = 0.5        # a test that timed out while this process got less CPU than this share of it was starved


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    item.grader_clock = (*cpu_and_wait([os.getpid()]), time.monotonic())
    yield


def _machine_too_busy(item, call) -> bool:
    """A test that ran out of time for the machine's sake, not the code's: a Testing check (the grader's own
    computation, with a generous limit of its own), or any test whose process got under BUSY_SHARE of a
    CPU while it ran (other work took the cores)."""
    if call.excinfo is None or "from pytest-timeout" not in str(call.excinfo.value):
        return False
    if section_of(item.nodeid) == "testing":
        return True
    if not hasattr(item, "grader_clock"):
        return False
    cpu0, wait0, wall0 = item.grader_clock
    cpu1, wait1 = cpu_and_wait([os.getpid()])
    wall = time.monotonic() - wall0
    return starved(cpu1 - cpu0, wait1 - wait0, wall, wall, BUSY_SHARE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    entry = _RESULTS.setdefault(item.nodeid, {"item": item, "status": "passed", "output": ""})
    if report.failed or (report.skipped and report.when != "teardown"):
        if entry["status"] == "passed":  # keep the first failure (setup or call)
            if report.failed and _machine_too_busy(item, call):
                entry["status"] = "error"
                entry["output"] = ("the grading machine was too busy to finish this check in time (grader error, not "
                                   "your code; your instructor has been told)" if MODE == "judge" else
                                   "your machine was too busy to finish this check in time (not your code's doing: "
                                   "this process got little CPU): run it again")
            elif report.failed and _is_grader_error(call):
                entry["status"] = "error"
                entry["output"] = ("the grader could not run this check (grader error; your instructor has been "
                                   "told): " + clean(str(call.excinfo.value), 500))
            else:
                entry["status"] = "failed" if report.failed else "skipped"
                entry["output"] = (feedback(_message(report), _location(item)) if report.failed
                                   else f"skipped: {report.longrepr[2]}")


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
            lost = "not checked" if r["status"] == "error" else f"-{round(r['max_score'], 2):g}"
            write(f"  {lost}  {r['doc']}: {r['output'].splitlines()[0] if r['output'] else r['status']}")
    write(f"(results written to {RESULTS}; these are the public tests)")


def pytest_sessionfinish(session, exitstatus):
    protections = None
    if MODE == "judge" and Probe.sandbox is not None and not isinstance(Probe.sandbox, Exception):
        protections = Probe.sandbox.protections
        Probe.sandbox.close()
    rows = _rows()
    if not rows:
        return
    tests = []
    for number, r in enumerate(rows, 1):
        title = SECTIONS.get(r["section"], (r["section"], 0))[0]
        tests.append({"name": f"{title}: {r['doc']}", "number": str(number), "score": r["score"],
                      "max_score": r["max_score"], "status": "passed" if r["status"] == "passed" else "failed",
                      "output": r["output"], "visibility": "visible", "tags": [r["section"]]})
    errors = [f"{r['nodeid']}: {r['output']}" for r in rows if r["status"] == "error"]
    results = {"score": round(sum(t["score"] for t in tests), 4), "max_score": round(sum(t["max_score"] for t in tests), 4),
               "execution_time": round(time.time() - _START, 3), "visibility": "visible",
               "stdout_visibility": "visible", "output_format": "text", "test_output_format": "text", "output": "Public tests (run locally)." if MODE == "local" else "",
               "tests": tests, "grader_errors": errors}
    if MODE == "judge" and Probe.sandbox is not None:
        sandbox = Probe.sandbox
        results["protections"] = str(sandbox) if isinstance(sandbox, Exception) else protections
        results["student_process_starts"] = 0 if isinstance(sandbox, Exception) else sandbox.starts
        results["machine"] = {"load_average_at_start": _LOAD, "load_average_at_end": list(os.getloadavg()),
                              "asked_again_for_load": [] if isinstance(sandbox, Exception) else sandbox.asked_again}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, RESULTS)
