"""Probes: the only way a grader test reaches student code.

A test asks `probe(question, **inputs)` (a function of grader/questions.py, plain inputs) and
judges the plain answer against values it computes itself. Two modes ($GRADER_MODE):

  local  (default, the student's `pytest grader/`): the question runs in this process.
  judge  (batch grading and Gradescope, trusted): this process never imports student code; the
         question goes to the sandboxed student process (grader/sandbox.py) and only its answer
         comes back. The tests, their expected values and the grading seed stay here.

Inputs come from `fresh(k)`, seeded by $GRADER_SEED: fixed for a student's self-check, drawn
anew for every submission by the judge, so no answer can be prepared in advance."""
from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np

from grader.codec import CodecError, encode, plain

MODE = os.environ.get("GRADER_MODE", "local")
SEED = int(os.environ.get("GRADER_SEED", "0"))


class ProbeError(Exception):
    """The student's code raised, or its answer is not plain data."""


def fresh(k: int):
    """A torch.Generator for the k-th input of a test, from this grading's seed."""
    import torch
    return torch.Generator().manual_seed((SEED * 1_000_003 + k) % 2**63)


def fresh_np(k: int) -> np.random.Generator:
    return np.random.default_rng([SEED, k])


def fresh_int(k: int) -> int:
    """A seed for the student process's own random draws (e.g. network initialisation)."""
    return int(fresh_np(k).integers(0, 2**31))


class Probe:
    """The `probe` fixture: probe(question, **inputs) -> the student's answer."""

    sandbox = None                     # the judge's Sandbox (set by conftest in judge mode)
    _cache: dict[str, object] = {}

    def __call__(self, question: str, **inputs):
        inputs = plain(inputs)
        key = question + hashlib.sha256(json.dumps(encode(inputs), sort_keys=True).encode()).hexdigest()
        if key not in Probe._cache:
            Probe._cache[key] = self._ask(question, inputs)
        answer = Probe._cache[key]
        if isinstance(answer, ProbeError):
            raise answer
        return answer

    def _ask(self, question: str, inputs: dict):
        if MODE == "judge":
            from grader.sandbox import AnswerError
            if isinstance(Probe.sandbox, Exception) or Probe.sandbox is None:
                raise Probe.sandbox or RuntimeError("no sandbox in judge mode")
            try:
                return Probe.sandbox.ask(question, inputs)
            except AnswerError as exc:
                return ProbeError(str(exc))
        from grader.questions import answer, where
        try:
            return answer(question, inputs)
        except CodecError as exc:
            return ProbeError(f"{exc}")
        except BaseException as exc:   # noqa: BLE001 - student code may raise anything
            return ProbeError(f"{type(exc).__name__}: {exc}"[:1500] + where(exc))


def number(value, what: str) -> float:
    """The student's answer as one finite real number, else AssertionError. Every comparison of an answer
    goes through this (or checks shapes first): an empty array, a list, NaN or an object that claims to
    equal anything must never satisfy `pytest.approx` or `abs(a - b) <= tol` vacuously."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        value = float(value)                 # a plain float from here on, whatever its class claimed
        if math.isfinite(value):
            return value
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf" and np.isfinite(value).all():
        return float(value.reshape(()))
    shown = f"an array of shape {list(value.shape)}" if isinstance(value, np.ndarray) else repr(value)[:80]
    raise AssertionError(f"{what}: expected one finite number, got {shown}")


def cpu_and_wait(pids) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) summed over every thread of `pids`, from
    the kernel's own accounting (/proc/PID/task/TID/schedstat; zeros where it is not available). Whose
    time a timeout was is judged on these: computing or sleeping is the code's, waiting is the machine's."""
    on_cpu = waiting = 0
    for pid in pids:
        try:
            tasks = list(os.scandir(f"/proc/{pid}/task"))
        except OSError:
            continue
        for task in tasks:
            try:
                with open(os.path.join(task.path, "schedstat")) as f:
                    run, wait, _ = (int(v) for v in f.read().split())
            except (OSError, ValueError):
                continue
            on_cpu, waiting = on_cpu + run, waiting + wait
    return on_cpu / 1e9, waiting / 1e9


def starved(cpu: float, waited: float, wall: float, budget: float, share: float = 0.5) -> bool:
    """Ran out of time for the machine's sake: computed less than `share` of the budget, and was not
    mostly sleeping or blocked on its own (it was runnable, waiting for a CPU)."""
    return cpu < share * budget and cpu + waited >= 0.5 * wall


def for_each(cases, check_one, everyone: str) -> None:
    """check_one(case) for every case; one message, said once (`everyone`) when all fail alike."""
    failures = {}
    for case in cases:
        try:
            check_one(case)
        except (AssertionError, ProbeError) as exc:
            text = str(exc).strip()
            failures[case] = text.splitlines()[0] if text else type(exc).__name__
    if not failures:
        return
    messages = set(failures.values())
    if len(failures) == len(cases) and len(messages) == 1:
        raise AssertionError(f"{everyone}: {messages.pop()}")
    raise AssertionError("; ".join(f"for '{c}': {m}" for c, m in failures.items()))
