"""Small helpers shared by the kit's tests."""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes: equal digests, identical trees."""
    h = hashlib.sha256()
    files, stack = [], [root]
    while stack:                         # no recursion: a test tree may be 1,100 folders deep
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    files.append(Path(entry.path))
    for p in sorted(files):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def run_script(script: str, *args: str, data_root: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`python SCRIPT ARGS` in a fresh interpreter, offline, on the data under data_root."""
    env = {**os.environ, "GAN_KIT_DATA": str(data_root), "GAN_KIT_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def run_cli(script: str, *args: str, data_root: Path, cwd: Path) -> Ran:
    """The same as run_script, in this process: the script's main() through util.cli_main (what its
    `__main__` runs), with its output and exit code captured. A fresh interpreter costs ~5 s of torch
    import on 2 cores; each script keeps one run_script test for the real `python SCRIPT`. An exception
    that the CLI does not turn into an `error:` line propagates and fails the test."""
    import dataloader
    import util
    main = importlib.import_module(Path(script).stem).main
    out, err, code = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dataloader, "DATA_ROOT", Path(data_root))
        mp.setenv("GAN_KIT_DATA", str(data_root))
        mp.setenv("GAN_KIT_OFFLINE", "1")
        mp.setattr(sys, "argv", [str(REPO / script), *args])
        mp.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                util.cli_main(main, list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Ran(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def float64():
    """torch's default dtype float64 inside, restored after (the agreement tests compare computations
    whose float32 rounding, amplified by GAN training, would hide a real difference)."""
    import torch
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def submission(dest: Path, code: Path, artifacts: Path | None) -> Path:
    """A student's folder: the code files of `code`, and the Testing artifacts (claims, checkpoints) if given."""
    import shutil
    from grader.roles import SUBMITTED
    dest.mkdir(parents=True)
    for name in SUBMITTED:
        shutil.copy2(code / name, dest / name)
    if artifacts is not None:
        shutil.copy2(artifacts / "inception_score.txt", dest / "inception_score.txt")
        shutil.copytree(artifacts / "results", dest / "results")
    (dest / "notes.txt").write_text("not in the manifest: ignored")
    return dest
