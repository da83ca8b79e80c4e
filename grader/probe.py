"""Probes: the only place where grader tests touch student code.

A test asks `probe(name, fn)` for what the student's code returns (fn calls it) and then
judges that plain data (numbers, strings, lists, dicts, numpy arrays) against expected
values it computes itself. Three modes ($GRADER_MODE):

  local   (default, `pytest grader/`): fn runs here; the test judges at once.
  record  (batch grading, inside the sandbox): fn runs on untrusted code; the plain result
          or the error is appended to $GRADER_RECORD; the test's verdict here is ignored.
  judge   (batch grading, in the trusted harness): no student code is imported or run;
          probe() returns what the sandbox recorded, and the test judges it. Only this
          run's verdicts count, so nothing the sandbox prints, patches or writes can
          raise a score: forged records can only claim values the harness still checks.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np

MODE = os.environ.get("GRADER_MODE", "local")
RECORD = Path(os.environ["GRADER_RECORD"]) if os.environ.get("GRADER_RECORD") else None
MAX_RECORD_BYTES = 64 * 1024 * 1024


class ProbeError(Exception):
    """The student's code raised, or its result is not plain data."""


def plain(value, depth: int = 0):
    """Convert a result to plain data; anything else is refused (no objects cross over)."""
    import torch
    if depth > 8:
        raise ProbeError("result nested too deeply")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ProbeError(f"array of dtype {value.dtype} is not numeric")
        return np.array(value)
    if isinstance(value, np.generic):
        value = value.item()
    if type(value) in (bool, int, float, str) or value is None:
        return value
    if type(value) in (list, tuple):
        return [plain(v, depth + 1) for v in value]
    if type(value) is dict:
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    raise ProbeError(f"expected plain data, got {type(value).__name__}")


def encode(value):
    if isinstance(value, np.ndarray):
        return {"__array__": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
                "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value):
    """Rebuild plain data from the record, validating every type (no pickle, no objects)."""
    if isinstance(value, dict) and "__array__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biuf":
            raise ProbeError("recorded array is not numeric")
        return np.frombuffer(base64.b64decode(value["__array__"]), dtype=dtype).reshape(value["shape"]).copy()
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): decode(v) for k, v in value.items()}
    if type(value) in (bool, int, float, str) or value is None:
        return value
    raise ProbeError(f"recorded value of type {type(value).__name__}")


def load_record(path: Path) -> dict[str, dict]:
    """{test id + probe name: {'value'|'error': ...}}. Each key is written once; a repeated
    key means something else wrote to the record, and counts as an error."""
    entries: dict[str, dict] = {}
    if not path.is_file():
        return entries
    with open(path, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        data = data[:MAX_RECORD_BYTES]
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            key = entry["key"]
            if not isinstance(key, str):
                continue
        except (ValueError, KeyError, TypeError):
            continue
        if key in entries:
            entries[key] = {"error": "the submission wrote this result twice (tampering?)"}
        elif "error" in entry:
            entries[key] = {"error": str(entry["error"])[:2000]}
        elif "value" in entry:
            try:
                entries[key] = {"value": decode(entry["value"])}
            except Exception as exc:
                entries[key] = {"error": f"unreadable result: {exc}"}
    return entries


class Probe:
    """The `probe` fixture of one test."""

    _judge_record: dict[str, dict] | None = None
    _shared: dict[str, object] = {}

    def __init__(self, test_id: str):
        self.test_id = test_id

    def __call__(self, name: str, fn, shared: bool = False):
        """`shared`: one result for every test of the file that asks for `name` (an expensive trace)."""
        key = f"{self.test_id.split('::')[0] if shared else self.test_id}::{name}"
        if not shared or MODE == "judge":
            return self._run(key, fn)
        if key not in Probe._shared:
            try:
                Probe._shared[key] = self._run(key, fn)
            except ProbeError as exc:
                Probe._shared[key] = exc
        cached = Probe._shared[key]
        if isinstance(cached, ProbeError):
            raise cached
        return cached

    def _run(self, key: str, fn):
        if MODE == "judge":
            if Probe._judge_record is None:
                Probe._judge_record = load_record(RECORD) if RECORD else {}
            entry = Probe._judge_record.get(key)
            if entry is None:
                raise ProbeError("no result: the submission crashed, timed out or was stopped before this check")
            if "error" in entry:
                raise ProbeError(entry["error"])
            return entry["value"]
        try:
            value = plain(fn())
        except BaseException as exc:   # noqa: BLE001 - student code may raise anything
            if MODE == "record":
                self._write({"key": key, "error": describe(exc)})
            if isinstance(exc, ProbeError):
                raise
            raise ProbeError(describe(exc)) from exc
        if MODE == "record":
            self._write({"key": key, "value": encode(value)})
        return value

    @staticmethod
    def _write(entry: dict) -> None:
        with open(RECORD, "a") as f:
            f.write(json.dumps(entry) + "\n")


def describe(exc: BaseException) -> str:
    import traceback
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    root = os.environ.get("GRADER_SUBMISSION", "")
    student = [f for f in tb if "grader" not in Path(f.filename).parts and f.filename.startswith(root)]
    where = f" (line {student[-1].lineno} of {Path(student[-1].filename).name})" if student else ""
    name = "Timeout" if "Timeout" in str(exc) and type(exc).__name__ == "Failed" else type(exc).__name__
    return f"{name}: {exc}{where}"[:2000]
