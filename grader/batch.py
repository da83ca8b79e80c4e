"""Grade a whole class: `python -m grader grade SUBMISSIONS/ --out grades/`.

Each submission (a folder or a .zip) is graded in two steps:
  1. record (untrusted): only the files of the manifest are copied into a fresh sandbox beside the
     kit's pristine grader; `pytest grader/` runs there in record mode (grader/probe.py) in a new
     interpreter, in its own process group, as user nobody when we are root, without network
     (unshare -n) where the OS allows it, with RLIMIT_DATA / RLIMIT_FSIZE caps, one thread, a
     per-test and a per-submission timeout (the whole group is killed). It only *records* what the
     student's code returns, as plain data.
  2. judge (trusted): the same tests run in judge mode in a folder with no student code; they
     read the record and compare it with values they compute themselves. Only these verdicts
     count: nothing the student process prints, patches or writes can raise a score.
Outputs: <out>/<id>/results.json (Gradescope schema) and <out>/grades.csv, written atomically;
a re-run skips submissions that already have results.json.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.build import copy_grader, sandbox
from grader.rubric import SECTIONS, STUDENT_FILES, TOTAL
from grader.run import GRADER_ENV

NOBODY = 65534
MAX_FILE_BYTES = 20 * 1024 * 1024          # any one submitted file
MAX_TOTAL_BYTES = 200 * 1024 * 1024        # a whole submission


@dataclass
class Limits:
    timeout: float = 300.0        # whole submission (record step)
    test_timeout: float = 60.0    # one test
    memory_mb: int = 6144         # RLIMIT_DATA (RLIMIT_AS breaks PyTorch's allocator)
    file_mb: int = 256            # RLIMIT_FSIZE


def manifest_name(path: str) -> str | None:
    """The sandbox path of a submitted file, or None if the manifest does not take it."""
    parts = PurePosixPath(path).parts
    if len(parts) == 1 and parts[0] in (*STUDENT_FILES, "inception_score.txt"):
        return parts[0]
    if (len(parts) >= 4 and parts[0] == "results" and parts[-2] == "images" and parts[-1].lower().endswith(".png")
            and (parts[1:3] == ("cyclegan", "images") or (parts[1] == "dcgan" and len(parts) == 5))):
        return "/".join(parts)
    return None


def submission_files(src: Path) -> dict[str, bytes]:
    """The manifest files of a folder or .zip (a single top folder inside is fine); no symlinks."""
    entries: dict[str, bytes] = {}
    total = 0

    def take(rel: str, read) -> None:
        nonlocal total
        rel = rel.replace("\\", "/")
        if rel.startswith("/") or ".." in PurePosixPath(rel).parts:
            return
        entries.setdefault(rel, read())
        total += len(entries[rel])
        if total > MAX_TOTAL_BYTES:
            raise ValueError(f"submission larger than {MAX_TOTAL_BYTES >> 20} MB")

    if src.is_file() and src.suffix == ".zip":
        with zipfile.ZipFile(src) as z:
            for info in z.infolist():
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if info.is_dir() or is_link or info.file_size > MAX_FILE_BYTES:
                    continue
                take(info.filename, lambda info=info: z.read(info))
    elif src.is_dir():
        for path in sorted(src.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            take(path.relative_to(src).as_posix(), path.read_bytes)
    # strip one common top folder (hw3-12345/dcgan.py), then keep only manifest files
    prefixes = {rel.split("/", 1)[0] for rel in entries if "/" in rel} - {"__MACOSX"}
    if not any(manifest_name(rel) for rel in entries) and len(prefixes) == 1:
        top = prefixes.pop() + "/"
        entries = {rel[len(top):]: data for rel, data in entries.items() if rel.startswith(top)}
    return {name: data for rel, data in entries.items() if (name := manifest_name(rel))}


def network_isolation() -> list[str] | None:
    """The command prefix that runs without network, or None where the OS does not allow it."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n", "--"]
    return None


def can_drop_privileges() -> bool:
    """Root can run the student's code as nobody, if nobody can run this Python."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    probe = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", sys.executable, "-c", "pass"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def _limits(limits: Limits):
    def apply() -> None:
        import resource
        os.setsid()
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_mb << 20,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def record(folder: Path, limits: Limits, isolation: list[str] | None) -> tuple[str, float]:
    """Step 1: the grader in record mode on untrusted code; returns (status, seconds).

    One process runs every section. Each section that recorded nothing there (the process died,
    hung, or was tampered with before reaching it) runs again in a process of its own, so a
    crash in one file costs only the items that need it."""
    drop = []
    if can_drop_privileges():
        # nobody may add files (the record) but not change, rename or delete the grader's or the
        # submission's: everything stays root's, and the folder gets the sticky bit
        os.chmod(folder, 0o1777)
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    start = time.time()
    status = _record_run(folder, ["grader"], limits, limits.timeout, isolation, drop)
    done = recorded_sections(folder / ".grader-record.jsonl")
    rerun = [key for key in SECTIONS if key not in done]
    for key in rerun:
        _record_run(folder, [f"grader/test_{key}.py"], limits, min(limits.timeout, 120), isolation, drop)
    if rerun:
        status += f"; stopped early, re-ran {', '.join(rerun)} separately"
    return status, time.time() - start


def recorded_sections(path: Path) -> set[str]:
    from grader.probe import load_record
    from grader.rubric import section_of
    return {section_of(key) for key in load_record(path)}


def _record_run(folder: Path, targets: list[str], limits: Limits, timeout: float, isolation, drop) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "GRADER_MODE": "record",
           "GRADER_RECORD": str(folder / ".grader-record.jsonl"), "GRADER_SUBMISSION": str(folder),
           "GRADER_RESULTS": str(folder / ".untrusted-results.json"), "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8",
           **GRADER_ENV}
    cmd = [*(isolation or []), *drop, sys.executable, "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider",
           "-c", str(folder / "pytest.ini"), "--rootdir", str(folder), "-o", f"timeout={int(limits.test_timeout)}"]
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=_limits(limits))
    try:
        code = proc.wait(timeout=timeout)
        status = "ok" if code in (0, 1) else f"crashed (exit {code})"
    except subprocess.TimeoutExpired:
        status = f"timeout after {timeout:g} s"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # whatever it left running
        except ProcessLookupError:
            pass
        proc.wait()
    return status


def judge(judge_dir: Path, record_file: Path, results: Path) -> dict:
    """Step 2: the trusted verdicts from the record (no student code is imported here)."""
    env = {**os.environ, "GRADER_MODE": "judge", "GRADER_RECORD": str(record_file), "GRADER_SUBMISSION": str(judge_dir),
           "GRADER_RESULTS": str(results), **GRADER_ENV}
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "pytest", "grader", "-q", "-p", "no:cacheprovider", "-c",
                    str(judge_dir / "pytest.ini"), "--rootdir", str(judge_dir)], cwd=judge_dir, env=env,
                   capture_output=True, timeout=900)
    return json.loads(results.read_text())


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def grade_one(src: Path, out: Path, limits: Limits, isolation: list[str] | None, judge_dir: Path) -> dict:
    """Grade one submission into out/results.json (also on crash or timeout)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        notes = []
        try:
            files = submission_files(src)
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            files, notes = {}, [f"could not read the submission: {exc}"]
        staged = tmp / "staged"
        for name, data in files.items():
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            (staged / name).write_bytes(data)
        code = {n: staged / n for n in STUDENT_FILES if n in files}
        box = sandbox(tmp / "sandbox", code, staged if staged.exists() else None)
        status, seconds = record(box, limits, isolation)
        kept = tmp / "record.jsonl"
        source = box / ".grader-record.jsonl"
        if source.is_file() and not source.is_symlink():
            with open(source, "rb") as f:
                kept.write_bytes(f.read(64 << 20))
        results = judge(judge_dir, kept, tmp / "results.json")
    missing = [n for n in STUDENT_FILES if n not in files]
    notes += [f"record step: {status} ({seconds:.0f} s)", "network isolation: "
              + ("on (unshare -n)" if isolation else "NOT available on this machine"),
              "student code ran as " + ("user nobody" if can_drop_privileges() else f"uid {os.geteuid()}")]
    if missing:
        notes.append(f"files not submitted: {', '.join(missing)}")
    results["output"] = "Graded in an isolated sandbox; scores decided by the trusted harness.\n" + "\n".join(notes)
    results["status"] = status
    write_atomic(out / "results.json", json.dumps(results, indent=2))
    return results


def section_scores(results: dict) -> dict[str, float]:
    scores = {key: 0.0 for key in SECTIONS}
    for test in results.get("tests", []):
        tag = (test.get("tags") or [""])[0]
        if tag in scores:
            scores[tag] += float(test["score"])
    return {k: round(v, 4) for k, v in scores.items()}


def write_csv(out: Path, ids: list[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", *SECTIONS, "total", "status"])
    for sub_id in ids:
        path = out / sub_id / "results.json"
        if path.is_file():
            res = json.loads(path.read_text())
            scores = section_scores(res)
            writer.writerow([sub_id, *scores.values(), round(sum(scores.values()), 4), res.get("status", "")])
    write_atomic(out / "grades.csv", buffer.getvalue())
    return out / "grades.csv"


def find_submissions(root: Path) -> dict[str, Path]:
    subs = {}
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.is_symlink():
            subs[path.name] = path
        elif path.is_file() and path.suffix == ".zip":
            subs[path.stem] = path
    return subs


def make_judge_dir(dest: Path) -> Path:
    copy_grader(dest)
    return dest


def grade_class(root: Path, out: Path, workers: int = 1, limits: Limits | None = None, force: bool = False) -> Path:
    limits = limits or Limits()
    subs = find_submissions(root)
    out.mkdir(parents=True, exist_ok=True)
    isolation = network_isolation()
    print(f"{len(subs)} submissions; network isolation: {'on (unshare -n)' if isolation else 'NOT available'}; "
          f"student code runs as {'user nobody' if can_drop_privileges() else 'uid ' + str(os.geteuid())}")
    todo = [s for s in subs if force or not (out / s / "results.json").is_file()]
    if len(todo) < len(subs):
        print(f"resuming: {len(subs) - len(todo)} already graded")
    with tempfile.TemporaryDirectory(prefix="judge-") as jd:
        judge_dir = make_judge_dir(Path(jd))

        def one(sub_id):
            res = grade_one(subs[sub_id], out / sub_id, limits, isolation, judge_dir)
            print(f"  {sub_id:30s} {res['score']:>6g} / {TOTAL}  {res['status']}", flush=True)
            return res
        with ThreadPoolExecutor(max(1, workers)) as pool:
            list(pool.map(one, todo))
    path = write_csv(out, list(subs))
    summarize(out, list(subs))
    return path


def summarize(out: Path, ids: list[str]) -> None:
    rows = [json.loads((out / i / "results.json").read_text()) for i in ids if (out / i / "results.json").is_file()]
    if not rows:
        return
    print(f"class summary ({len(rows)} submissions):")
    for key, (title, points) in SECTIONS.items():
        mean = sum(section_scores(r)[key] for r in rows) / len(rows)
        print(f"  {title:45s} mean {mean:6.2f} / {points}")
    kinds: dict[str, int] = {}
    for r in rows:
        kind = r.get("status", "").split(";")[0].split(" (")[0].split(" after")[0]
        kind += " (stopped early)" if "stopped early" in r.get("status", "") else ""
        kinds[kind] = kinds.get(kind, 0) + 1
    print("  record step: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
