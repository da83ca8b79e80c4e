"""The student process cannot block the judge, turn its own slowness into a grader error, or leave a
message for the next submission in the kernel's keyrings."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import AnswerError, Config, Limits, Sandbox, bwrap_available

REPO = Path(__file__).resolve().parents[1]
READY = ("import json, struct, sys, time\n"
         "time.sleep({delay})\n"
         "body = json.dumps({{'ready': True}}).encode()\n"
         "sys.stdout.buffer.write(struct.pack('>Q', len(body)) + body)\n"
         "sys.stdout.buffer.flush()\n"
         "time.sleep(600)\n")


def fake_child(tmp_path: Path, delay: float) -> str:
    """An 'interpreter' that says it is ready after `delay` seconds and then never reads a request."""
    program = tmp_path / "child.py"
    program.write_text(READY.format(delay=delay))
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {program}\n")
    script.chmod(0o755)
    return str(script)


def test_a_child_that_stops_reading_costs_the_question_within_its_time(tmp_path):
    box = Sandbox(REPO, Config(kind="basic", python=fake_child(tmp_path, 0), limits=Limits(deadline=60, question=3)))
    try:
        start = time.monotonic()
        with pytest.raises(AnswerError, match="longer than"):
            box.ask("feature_statistics", {"features": np.zeros((2000, 100))})      # 1.6 MB: more than a pipe holds
        assert time.monotonic() - start < 20
    finally:
        box.close()


def test_a_start_cut_short_by_the_submissions_own_deadline_is_the_students_loss(tmp_path):
    box = Sandbox(REPO, Config(kind="basic", python=fake_child(tmp_path, 30), limits=Limits(deadline=2, question=1)))
    try:
        with pytest.raises(AnswerError, match="no time left"):
            box.ask("feature_statistics", {"features": np.zeros((4, 3))})
    finally:
        box.close()


WORKER = ("import json, struct, sys, time\n"
          "def send(message):\n"
          "    body = json.dumps(message).encode()\n"
          "    sys.stdout.buffer.write(struct.pack('>Q', len(body)) + body)\n"
          "    sys.stdout.buffer.flush()\n"
          "send({'ready': True})\n"
          "while True:\n"
          "    header = sys.stdin.buffer.read(8)\n"
          "    if len(header) < 8:\n"
          "        break\n"
          "    request = json.loads(sys.stdin.buffer.read(struct.unpack('>Q', header)[0]))\n"
          "    work = request['inputs']['work']\n"
          "    if work == 'sleep':\n"
          "        time.sleep(1e6)\n"
          "    start = time.process_time()\n"
          "    while work == 'spin' or time.process_time() - start < work:   # CPU seconds, however long they take\n"
          "        pass\n"
          "    send({'value': 1})\n")


def worker_child(tmp_path: Path) -> str:
    """An 'interpreter' that answers {'work': s} after s seconds of its own CPU time ('spin': never, 'sleep': sleeps)."""
    program = tmp_path / "worker.py"
    program.write_text(WORKER)
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {program}\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def busy_machine():
    """Twice as many busy processes as cores, at normal priority, for the test's duration."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    time.sleep(0.5)
    yield
    for proc in burners:
        proc.kill()
        proc.wait()


@pytest.mark.e2e
def test_honest_work_on_a_busy_machine_is_asked_again_not_failed(tmp_path, busy_machine):
    """1.5 s of CPU with a 2.5 s limit, on a machine where the process gets a fraction of a core."""
    box = Sandbox(REPO, Config(kind="basic", python=worker_child(tmp_path), limits=Limits(deadline=200, question=2.5)))
    try:
        assert box.ask("fid_work", {"work": 1.5}) == 1
        assert box.charged < 2.5 * 3, box.charged     # the time spent waiting for a CPU is not the student's
    finally:
        box.close()


@pytest.mark.e2e
@pytest.mark.parametrize("work,reason", [("spin", "computed for"), ("sleep", "sleeping or waiting")])
def test_slow_code_loses_its_question_with_the_codes_own_time(tmp_path, busy_machine, work, reason):
    box = Sandbox(REPO, Config(kind="basic", python=worker_child(tmp_path), limits=Limits(deadline=200, question=2)))
    try:
        with pytest.raises(AnswerError, match=reason):
            box.ask("fid_work", {"work": work})
    finally:
        box.close()


KEY_SYSCALLS = '''
import ctypes as _ctypes
_libc = _ctypes.CDLL(None, use_errno=True)
def _add_key(text):
    return _libc.syscall(248, b"user", b"gan-kit-channel", text, len(text), -4)      # add_key to @u
def _read_key():
    key = _libc.syscall(250, 10, -4, b"user", b"gan-kit-channel", 0)                  # KEYCTL_SEARCH
    if key < 0:
        return -1.0
    buffer = _ctypes.create_string_buffer(64)
    n = _libc.syscall(250, 11, key, buffer, 64)                                       # KEYCTL_READ
    return float(buffer.raw[:n].decode())
'''


@pytest.mark.e2e
@pytest.mark.skipif(bwrap_available() is not None or os.uname().machine != "x86_64",
                    reason="bubblewrap sandbox on x86_64 (syscall numbers)")
def test_a_key_written_by_one_submission_cannot_be_read_by_the_next(tmp_path):
    """Both run as the same worker uid one after the other; the first stores a key in its user keyring."""
    writer, reader = tmp_path / "writer", tmp_path / "reader"
    for folder, body in ((writer, "_add_key(b'42')\n"), (reader, "")):
        folder.mkdir()
        shutil.copy2(REPO / "util.py", folder / "util.py")
        source = (REPO / "fid.py").read_text()
        head = source.index("\ndef feature_statistics")
        (folder / "fid.py").write_text(source[:head] + "\n" + KEY_SYSCALLS + body + source[head:].replace(
            "def feature_statistics(", "def _kit_feature_statistics(") +
            "\n\ndef feature_statistics(features):\n    return [_read_key(), _read_key()]\n")
        os.chmod(folder, 0o755)
    limits = Limits(deadline=120, question=60)
    first = Sandbox(writer, Config(limits=limits))
    try:
        wrote = first.ask("feature_statistics", {"features": np.zeros((4, 3))})
        assert float(wrote[0]) == 42.0, f"the writer could not use its own keyring: {wrote}"   # the channel exists inside
        uid = first.uid
    finally:
        first.close()
    second = Sandbox(reader, Config(limits=limits))
    try:
        assert second.uid == uid, "the test needs both submissions under one uid"
        got = second.ask("feature_statistics", {"features": np.zeros((4, 3))})
        assert float(got[0]) == -1.0, f"the next submission read the key: {got}"
    finally:
        second.close()
