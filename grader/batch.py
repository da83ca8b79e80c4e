"""Grade a whole class: `python -m grader grade SUBMISSIONS/ --out grades/`.

Per submission (a folder or a .zip):
  1. stage (trusted): only the files of the manifest (grader/roles.py) are copied into a fresh
     folder, with the kit's given files where the submission has none;
  2. judge (trusted): the grader's tests run in a process forked from this one (torch and pytest
     already imported), in a folder with the public and the judge-only tests, with inputs drawn
     from a seed chosen now. Each question goes to the student's code running in a sandbox
     (grader/sandbox.py: bubblewrap, its own uid, cgroup caps) and only plain answers come back.
     Nothing the student process writes, prints or patches reaches a verdict except its answers.
Before any submission, a canary grades the kit's reference through exactly this pipeline; if
it does not get full marks the batch stops with the reason (a grader problem is never a grade).
A submission whose grading failed for a reason outside its code gets status `error`, no score,
and is graded again by the next run. Outputs: <out>/<id>/results.json (Gradescope schema) and
<out>/grades.csv, written atomically; a re-run skips submissions already graded.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

from grader.build import KIT, copy_grader
from grader.roles import (CHECKPOINT_FILES, GIVEN_ALWAYS, GIVEN_COMPLETE, IMAGE_DIRS, MAX_FILE_BYTES, MAX_IMAGES,
                          MAX_TOTAL_BYTES, SCORES_FILE, SUBMITTED, manifest_name)
from grader.rubric import SECTIONS, TOTAL
from grader.run import GRADER_ENV, cores, preload, pytest_args, share_cores
from grader.sandbox import Limits, bwrap_available, remove_cgroups

JUDGE_MEMORY_MB = 6144
PARENT_ENV = dict(os.environ)
TESTING_BUDGET = 600          # seconds the Testing section may take on top of the student process deadline


BUSY_NOTE = "; a busy machine: time the students' code spends waiting for a CPU is not counted against it"


class GraderError(RuntimeError):
    """The grader itself cannot grade here (the canary failed, or the sandbox is missing)."""


@dataclass
class Options:
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "bwrap"           # 'bwrap' or 'basic' (weaker, said in every result)
    python: str | None = None        # a different interpreter for the student process (tests)
    testing_seed: int | None = None  # the Testing section's samples: one seed per batch, drawn when it starts
    machine: dict = field(default_factory=dict)   # the canary's time and the load when the batch started
    device: str = "auto"             # where the judge's own Testing work runs: 'cuda', 'cpu' or 'auto'


def judge_device(requested: str) -> str:
    """'cuda' or 'cpu' for the judge's own computation (sampling, translating, Inception, FID). Student
    code always runs in the sandbox on the CPU. Asked without initialising CUDA in this process: the
    judges are forked from it."""
    if requested not in ("auto", "cuda", "cpu"):
        raise GraderError(f"--device must be cuda, cpu or auto, got {requested!r}")
    if requested == "cpu":
        return "cpu"
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")      # a fork-safe check
    import torch
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise GraderError("--device cuda: no CUDA GPU is visible to this process (check nvidia-smi and "
                          "CUDA_VISIBLE_DEVICES, and that torch is a CUDA build), or grade with --device cpu")
    return "cpu"


# ----------------------------------------------------------------------------- submissions
@dataclass
class Intake:
    """What is taken from one submission: manifest name -> where its bytes are (a file, or a zip
    member), never the bytes themselves; they are copied to disk only when the submission is graded."""
    sources: dict[str, tuple[Path, str | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    digest: str = ""                 # sha256 of the manifest names and contents: ties results to this work
    error: str | None = None         # the submission could not be read at all


def _open(source: tuple[Path, str | None]):
    path, member = source
    if member is None:
        return open(path, "rb")
    archive = zipfile.ZipFile(path)
    stream = archive.open(member)
    stream._archive = archive        # closed with the stream (zipfile keeps its own file handle)
    return stream


def _copy(source: tuple[Path, str | None], sink, limit: int) -> int:
    """Stream at most `limit` bytes of a source into `sink` (a file or a hash); the byte count."""
    done = 0
    with _open(source) as stream:
        while done < limit and (chunk := stream.read(min(1 << 20, limit - done))):
            (sink.write if hasattr(sink, "write") else sink.update)(chunk)
            done += len(chunk)
        if hasattr(stream, "_archive"):
            stream._archive.close()
    return done


def _mode(base: Path, rel: str) -> int | None:
    """The st_mode of base/rel when it is reached through no symbolic link, else None."""
    path, mode = base, None
    try:
        for part in PurePosixPath(rel).parts:
            path = path / part
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                return None
        return mode
    except OSError:
        return None


def _plain_file(base: Path, rel: str) -> Path | None:
    """base/rel when it is a regular file reached through no symbolic link, else None."""
    mode = _mode(base, rel)
    return base / rel if mode is not None and stat.S_ISREG(mode) else None


def _folder_names(base: Path) -> dict[str, Path]:
    """The manifest's files under `base`, looked up by name (no walk: depth and clutter cannot matter)."""
    found = {name: path for name in (*SUBMITTED, SCORES_FILE, *CHECKPOINT_FILES) if (path := _plain_file(base, name))}
    for folder in IMAGE_DIRS.values():
        mode = _mode(base, folder)
        if mode is None or not stat.S_ISDIR(mode):
            continue
        try:
            names = sorted(e.name for e in os.scandir(base / folder) if e.name.lower().endswith(".png"))
        except OSError:
            continue
        for name in names[:MAX_IMAGES]:
            if (path := _plain_file(base, f"{folder}/{name}")) and manifest_name(rel := f"{folder}/{name}"):
                found[rel] = path
    return found


def _zip_names(path: Path) -> dict[str, tuple[Path, str]]:
    """The manifest's files in a .zip (names only are read here), with one top folder stripped."""
    with zipfile.ZipFile(path) as archive:
        members = {}
        for info in archive.infolist():
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            rel = info.filename.replace("\\", "/")
            if info.is_dir() or is_link or rel.startswith("/") or ".." in PurePosixPath(rel).parts:
                continue
            members.setdefault(rel, info.filename)
    direct = {name: m for rel, m in members.items() if (name := manifest_name(rel))}
    if not direct:
        tops = {rel.split("/", 1)[0] for rel in members if "/" in rel} - {"__MACOSX"}
        if len(tops) == 1:
            top = tops.pop() + "/"
            direct = {name: m for rel, m in members.items() if rel.startswith(top) and (name := manifest_name(rel[len(top):]))}
    images: dict[str, int] = {}
    taken = {}
    for name, member in sorted(direct.items()):
        folder = name.rpartition("/")[0]
        if folder in IMAGE_DIRS.values():
            images[folder] = images.get(folder, 0) + 1
            if images[folder] > MAX_IMAGES:
                continue
        taken[name] = (path, member)
    return taken


def _size(source: tuple[Path, str | None]) -> int:
    path, member = source
    if member is None:
        return os.stat(path).st_size
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo(member).file_size


def intake(src: Path) -> Intake:
    """The manifest files of a folder or .zip (a single top folder inside is fine; no links), found by
    name first, then the size limits, on those files only: clutter beside them (data sets, epoch
    checkpoints, a folder 1,000 levels deep) is never read and never counts."""
    try:
        if src.is_file() and not src.is_symlink() and src.suffix.lower() == ".zip":
            sources = _zip_names(src)
        elif src.is_dir() and not src.is_symlink():
            found = _folder_names(src)
            if not found:
                subfolders = [e for e in os.scandir(src) if e.is_dir(follow_symlinks=False)
                              and e.name != "__MACOSX" and not e.name.startswith(".")]
                if len(subfolders) == 1:
                    found = _folder_names(Path(subfolders[0].path))
            sources = {name: (path, None) for name, path in found.items()}
        else:
            return Intake(error="not a folder or a .zip file")
        taken = Intake()
        total = 0
        order = sorted(sources, key=lambda n: (n.endswith(".png"), n.endswith(".pth"), n))   # code, claims, checkpoints, images
        for name in order:
            size = _size(sources[name])
            if size > MAX_FILE_BYTES:
                taken.notes.append(f"ignored {name}: {size / 2**20:.0f} MB, over the {MAX_FILE_BYTES >> 20} MB limit of one file")
            elif total + size > MAX_TOTAL_BYTES:
                taken.notes.append(f"ignored {name}: the submission's graded files would pass {MAX_TOTAL_BYTES >> 20} MB")
            else:
                total += size
                taken.sources[name] = sources[name]
        digest = hashlib.sha256()
        for name in sorted(taken.sources):
            digest.update(name.encode() + b"\0")
            digest.update(str(_copy(taken.sources[name], digest, MAX_FILE_BYTES)).encode() + b"\0")
        taken.digest = digest.hexdigest()
        return taken
    except (OSError, ValueError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        return Intake(error=f"could not read the submission: {type(exc).__name__}: {str(exc)[:300]}")


def kit_intake(files: dict[str, Path]) -> Intake:
    """An Intake of files the kit supplies (the canary's reference and its artifacts)."""
    return Intake({name: (path, None) for name, path in files.items()}, digest="kit")


def stage(taken: Intake, dest: Path) -> Path:
    """The graded copy of a submission: its manifest files (streamed), the kit's given files where needed."""
    dest.mkdir(parents=True)
    for name, source in taken.sources.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        with open(dest / name, "wb") as out:
            _copy(source, out, MAX_FILE_BYTES)
    for name in GIVEN_COMPLETE:
        if name in GIVEN_ALWAYS or name not in taken.sources:
            shutil.copy2(KIT / name, dest / name)
    for path in [dest, *dest.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return dest


FORMULA_START = "=+-@"


def find_submissions(root: Path) -> dict[str, Path]:
    """{id: path}. An id is the folder's or zip's name made safe (letters, digits, . _ -); where that
    changed the name, or another name makes the same id, a short digest of the exact name follows, so
    an id names one submission in every run, whatever else is in the folder and in any order."""
    entries = []
    with os.scandir(root) as listing:
        for entry in listing:
            path = Path(entry.path)
            if entry.is_symlink() or not (entry.is_dir() or (entry.is_file() and path.suffix.lower() == ".zip")):
                continue
            stem = path.stem if entry.is_file() else path.name
            base = re.sub(r"[^A-Za-z0-9._-]", "_", stem).strip(".").lstrip(FORMULA_START + "_") or "submission"
            if base.lower() in ("grades", "grades.csv", "class_report", "similar"):
                base += "_"
            entries.append((base[:80], entry.name, path, base[:80] != stem))
    counts: dict[str, int] = {}
    for base, *_ in entries:
        counts[base.lower()] = counts.get(base.lower(), 0) + 1
    subs: dict[str, Path] = {}
    for base, name, path, changed in sorted(entries, key=lambda e: e[1]):
        sub_id = base
        if changed or counts[base.lower()] > 1:
            sub_id = f"{base}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
        subs[sub_id] = path
    return subs


# ----------------------------------------------------------------------------- the judge
def _judge_child(staged: Path, judge_dir: Path, results: Path, log: Path, worker: int, options: Options, seed: int,
                 sections: list[str] | None = None, env: dict[str, str] | None = None, workers: int = 1):
    """In the forked judge: the grader's tests in judge mode on `staged`; never returns."""
    code = 3
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_DATA, (JUDGE_MEMORY_MB << 20,) * 2)
        share_cores(workers)
        os.chdir(judge_dir)
        config = {"kind": options.sandbox, "worker": worker, "limits": asdict(options.limits)}
        if options.python:
            config["python"] = options.python
        tempfile.tempdir = str(results.parent / "scratch")     # whatever the judge leaves goes with the job
        os.environ.update({"GRADER_MODE": "judge", "GRADER_SUBMISSION": str(staged), "GRADER_RESULTS": str(results),
                           "GRADER_SEED": str(seed), "GRADER_SANDBOX": json.dumps(config), **GRADER_ENV,
                           "GRADER_TESTING_SEED": str(options.testing_seed if options.testing_seed is not None else seed),
                           "GRADER_CACHE": str(judge_dir / "testing-cache")})
        if options.device == "cuda":      # the judge's own work on the GPU; the sandboxed student process never sees it
            os.environ.pop("CUDA_VISIBLE_DEVICES")
            if "CUDA_VISIBLE_DEVICES" in PARENT_ENV:
                os.environ["CUDA_VISIBLE_DEVICES"] = PARENT_ENV["CUDA_VISIBLE_DEVICES"]
        os.environ["GRADER_DEVICE"] = options.device if options.device in ("cuda", "cpu") else "cpu"
        os.environ.setdefault("GAN_KIT_DATA", str(KIT / "data"))     # real images for the Testing section
        os.environ.update(env or {})
        for name in list(sys.modules):
            if name.split(".")[0] in ("grader", "conftest"):
                del sys.modules[name]
        sys.path[:] = [str(judge_dir)] + [p for p in sys.path if p not in ("", ".", str(KIT))]
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)
        import pytest
        code = int(pytest.main(pytest_args(judge_dir, sections, timeout=0)))   # the sandbox times each question
    finally:
        os._exit(code)


@dataclass
class Job:
    sub_id: str
    intake: Intake                         # where the submission's files are (read only when it is graded)
    out: Path
    tmp: Path | None = None
    pid: int = 0
    worker: int = 0
    started: float = 0.0
    seed: int = 0
    sections: list[str] | None = None      # only these rubric sections (verify's parity runs)
    env: dict[str, str] = field(default_factory=dict)   # the canary's own data and Inception weights


def start_judge(job: Job, judge_dir: Path, options: Options, workers: int = 1) -> None:
    job.tmp = Path(tempfile.mkdtemp(prefix="grade-"))
    (job.tmp / "scratch").mkdir()
    staged = stage(job.intake, job.tmp / "submission")
    job.seed = secrets.randbits(48)
    job.started = time.monotonic()
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _judge_child(staged, judge_dir, job.tmp / "results.json", job.tmp / "judge.log", job.worker, options, job.seed,
                     job.sections, job.env, workers)
    job.pid = pid


def finish_judge(job: Job, exit_code: int | None, options: Options) -> dict:
    """results.json for a finished (or killed) judge; status 'error' for any grader failure."""
    results_path = job.tmp / "results.json"
    log = (job.tmp / "judge.log").read_text(errors="replace")[-3000:] if (job.tmp / "judge.log").is_file() else ""
    seconds = time.monotonic() - job.started
    try:
        results = json.loads(results_path.read_text()) if results_path.is_file() else None
    except (OSError, ValueError):
        results = None
    if results is None or exit_code not in (0, 1):
        why = "killed after its time limit" if exit_code is None else f"exit {exit_code}"
        last = [l for l in log.splitlines() if l.strip()][-1:] or [""]
        results = {"status": "error", "tests": [], "grader_errors": [f"the judge failed ({why}): {last[0][-300:]}"],
                   "judge_log": log}
    errors = results.get("grader_errors") or []
    missing = [n for n in SUBMITTED if n not in job.intake.sources]
    notes = list(job.intake.notes)
    if missing:
        notes.append(f"files not submitted: {', '.join(missing)}")
    notes.append(f"graded in {seconds:.0f} s with grading seed {job.seed} (Testing samples: seed {options.testing_seed}, "
                 f"judge device {options.device}); protections: {results.get('protections', 'n/a')}")
    results["machine"] = {**options.machine, **(results.get("machine") or {})}
    if errors:
        results["status"] = "error"
        results.pop("score", None)
        results["output"] = ("The grader could not grade this submission (grader error, not your code); your "
                             "instructor has been told.\n" + "\n".join(notes))
        results["instructor_errors"] = errors
    else:
        results["status"] = "ok"
        results["output"] = "Graded in an isolated sandbox; scores decided by the trusted judge.\n" + "\n".join(notes)
    results["submission_digest"] = job.intake.digest
    results["judge_seconds"] = round(seconds, 1)
    results["judge_device"] = options.device
    return results


def intake_error(job: Job, why: str) -> dict:
    """The result of a submission that could not be graded for a reason outside its code."""
    return {"status": "error", "tests": [], "instructor_errors": [why], "submission_digest": job.intake.digest,
            "output": "The grader could not grade this submission (grader error, not your code); your instructor "
                      "has been told."}


def default_workers(submission_memory_mb: int) -> int:
    """One judge per core (each judge and its student process compute on one thread, and take turns),
    at most as many as the machine's memory holds submissions at their memory cap."""
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
    return max(1, min(cores(), memory_mb // submission_memory_mb))


def run_jobs(jobs: list[Job], judge_dir: Path, options: Options, workers: int, report=None) -> list[dict]:
    """Grade `jobs`, `workers` forked judges at a time; results in job order."""
    preload()
    if options.testing_seed is None:
        options = replace(options, testing_seed=secrets.randbits(48))
    pending, running, results = list(range(len(jobs))), {}, [None] * len(jobs)
    free = list(range(max(1, workers)))
    limit = options.limits.deadline + 120 + TESTING_BUDGET
    while pending or running:
        while pending and free:
            i = pending.pop(0)
            jobs[i].worker = free.pop(0)
            try:
                if jobs[i].intake.error:
                    raise ValueError(jobs[i].intake.error)
                start_judge(jobs[i], judge_dir, options, workers)
            except (OSError, ValueError, RuntimeError, EOFError, zipfile.BadZipFile) as exc:
                # the submission cannot be read, or the grader's disk or fork failed: an error for this
                # job (the instructor sees why), never a grade, and the rest of the class goes on
                free.append(jobs[i].worker)
                results[i] = intake_error(jobs[i], f"could not start grading: {exc}")
                if jobs[i].tmp:
                    shutil.rmtree(jobs[i].tmp, ignore_errors=True)
                if report:
                    report(jobs[i], results[i])
                continue
            running[jobs[i].pid] = i
        time.sleep(0.05)
        for pid, i in list(running.items()):
            job = jobs[i]
            done, status = os.waitpid(pid, os.WNOHANG)
            code = os.waitstatus_to_exitcode(status) if done else None
            if not done and time.monotonic() - job.started > limit:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            elif not done:
                continue
            del running[pid]
            free.append(job.worker)
            remove_cgroups(f"gan-kit-{pid}-")         # a killed judge could not remove its own
            results[i] = finish_judge(job, code, options)
            results[i]["checkpoints"] = checkpoint_prints(job.tmp / "submission")
            shutil.rmtree(job.tmp, ignore_errors=True)
            if report:
                report(job, results[i])
    return results


# ----------------------------------------------------------------------------- copied checkpoints
PRINT_VALUES = 16          # values taken from each weight tensor for a checkpoint's fingerprint
NEAR_COPY = 0.02           # relative distance of two fingerprints below which checkpoints count as copies


def checkpoint_prints(staged: Path) -> dict[str, dict]:
    """{checkpoint: {"sha256", "print"}} of a staged submission (trusted code, weights_only load). The
    print is the first values of every weight tensor, ordered by shape and values, not by name: a copy
    saved again (fp16, renamed modules, another layout) keeps it; independent training does not."""
    import torch
    prints = {}
    for name in CHECKPOINT_FILES:
        path = staged / name
        if not path.is_file():
            continue
        entry = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            heads = sorted((tuple(v.shape), [round(float(x), 6) for x in v.flatten()[:PRINT_VALUES].float()])
                           for v in state.values() if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() > 1)
            entry["print"] = [x for _, values in heads for x in values]
        except Exception:  # noqa: BLE001 - an unreadable checkpoint has no print (the Testing section says why)
            pass
        prints[name] = entry
    return prints


def copied_checkpoints(out: Path, ids: list[str]) -> list[dict]:
    """Pairs of submissions whose submitted checkpoints are identical or near-identical: listed for the
    instructor to review (never a grade)."""
    import numpy as np
    found, seen = [], {}
    for sub_id in ids:
        res = read_results(out / sub_id / "results.json") or {}
        for name, entry in (res.get("checkpoints") or {}).items():
            if isinstance(entry, dict):
                seen.setdefault(name, []).append((sub_id, entry))
    for name, entries in seen.items():
        for i, (a, ea) in enumerate(entries):
            for b, eb in entries[i + 1:]:
                if ea.get("sha256") == eb.get("sha256"):
                    found.append({"a": a, "b": b, "file": name, "kind": "identical file"})
                    continue
                pa, pb = np.asarray(ea.get("print") or [], float), np.asarray(eb.get("print") or [], float)
                if pa.size and pa.shape == pb.shape and np.linalg.norm(pa) > 0:
                    distance = float(np.linalg.norm(pa - pb) / np.linalg.norm(pa))
                    if distance < NEAR_COPY:
                        found.append({"a": a, "b": b, "file": name, "kind": f"near-identical weights ({distance:.1e})"})
    return found


CODE_BYTES = 1 << 20     # of each file, for the copied-code check (a real one is ~20 KB; a huge one must not stall it)


def submitted_code(intakes: dict[str, Intake]) -> dict[str, dict[str, str]]:
    """Each submission's Python files (their first CODE_BYTES), for the copied-code check of the class report."""
    code = {}
    for sub_id, taken in intakes.items():
        files = {}
        for name in SUBMITTED:
            if name in taken.sources:
                buffer = io.BytesIO()
                try:
                    _copy(taken.sources[name], buffer, CODE_BYTES)
                except (OSError, zipfile.BadZipFile):
                    continue          # unreadable now: that submission's grade already says so
                files[name] = buffer.getvalue().decode("utf-8", errors="replace")
        code[sub_id] = files
    return code


def handout_code() -> dict[str, str]:
    from grader.markers import strip_solutions
    return {name: strip_solutions((KIT / name).read_text(), name) for name in SUBMITTED}


def write_similar(out: Path, ids: list[str], code_pairs: list[dict] = ()) -> list[dict]:
    pairs = copied_checkpoints(out, ids) + list(code_pairs)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission_a", "submission_b", "file", "kind"])
    for pair in pairs:
        writer.writerow([pair["a"], pair["b"], pair["file"], pair["kind"]])
    write_atomic(out / "similar.csv", buffer.getvalue())
    return pairs


# ----------------------------------------------------------------------------- outputs
def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def section_scores(results: dict) -> dict[str, float]:
    scores = {key: 0.0 for key in SECTIONS}
    for test in results.get("tests", []):
        tag = (test.get("tags") or [""])[0]
        if tag in scores:
            scores[tag] += float(test["score"])
    return {k: round(v, 4) for k, v in scores.items()}


def read_results(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def write_csv(out: Path, ids: list[str]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", *SECTIONS, "total", "status"])
    for sub_id in ids:
        res = read_results(out / sub_id / "results.json")
        if res is None:
            continue
        if res.get("status") == "error":
            writer.writerow([sub_id, *([""] * len(SECTIONS)), "", "error"])
        else:
            scores = section_scores(res)
            writer.writerow([sub_id, *scores.values(), round(sum(scores.values()), 4), res.get("status", "")])
    write_atomic(out / "grades.csv", buffer.getvalue())
    return out / "grades.csv"


def summarize(out: Path, ids: list[str]) -> None:
    rows = [r for i in ids if (r := read_results(out / i / "results.json"))]
    graded = [r for r in rows if r.get("status") != "error"]
    print(f"class summary ({len(graded)} graded, {len(rows) - len(graded)} grader errors):")
    for key, (title, points) in SECTIONS.items():
        if graded:
            mean = sum(section_scores(r)[key] for r in graded) / len(graded)
            print(f"  {title:45s} mean {mean:6.2f} / {points}")
    if len(rows) > len(graded):
        print("  grader errors (not grades; fix the cause and run again, they are re-graded):")
        for i in ids:
            r = read_results(out / i / "results.json")
            if r and r.get("status") == "error":
                print(f"    {i}: {(r.get('instructor_errors') or ['?'])[0][:300]}")


# ----------------------------------------------------------------------------- canary and class
def reference_job(artifacts: Path | None, env: dict[str, str] | None = None) -> Job:
    files = {name: KIT / name for name in SUBMITTED}
    if artifacts is not None:
        files.update(_folder_names(artifacts))
    return Job("canary (the kit's reference)", kit_intake(files), Path("."), env=dict(env or {}))


def testing_ready() -> None:
    """The Testing section needs the real Inception weights: a GraderError before grading, not a
    grader error in every result. (A course without a Testing section needs nothing.)"""
    if "testing" not in SECTIONS:
        return
    from grader.judge.trusted import kit_inception
    from grader.training_check import CannotCheck
    try:
        kit_inception()
    except CannotCheck as exc:
        raise GraderError(f"the Testing section cannot run on this machine: {exc}") from None


def class_data_ready(intakes: dict[str, Intake]) -> None:
    """The data sets the class's claims name must be on this machine before anyone is graded (else every
    Testing item of theirs would be a grader error): a GraderError that names what is missing."""
    if "testing" not in SECTIONS:
        return
    from grader.training_check import missing_data, parse_claims
    named = set()
    for taken in intakes.values():
        if SCORES_FILE in taken.sources:
            with _open(taken.sources[SCORES_FILE]) as stream:
                claims, _ = parse_claims(stream.read(1_000_000).decode("utf-8", errors="replace"))
            named |= {(claim.family, claim.dataset) for claim in claims.values()}
    root = Path(os.environ.get("GAN_KIT_DATA", KIT / "data"))
    missing = missing_data(root, named)
    if missing:
        raise GraderError(f"the class's claims name data this machine lacks: {', '.join(missing)}; nothing was "
                          f"graded. Put the data sets there (data/download_dataset.sh, or torchvision's CIFAR10 with "
                          f"download=True into {root / 'cifar10'}) or point GAN_KIT_DATA at them, then run again.")


def canary(judge_dir: Path, options: Options) -> float:
    """Grade the kit's reference through the students' pipeline; GraderError unless it gets full marks.
    Its Testing section uses the kit's fixture (the reference trained briefly, its small data and the
    random Inception weights that scored it), so the canary proves the checks, not the weights."""
    from grader.fixture import testing_fixture
    t0 = time.monotonic()
    testing_ready()
    artifacts, env = None, {}
    if "testing" in SECTIONS:
        fixture = testing_fixture()
        artifacts = fixture.results
        env = {**fixture.env, "GRADER_CACHE": str(fixture.results.parent / "canary-cache")}   # fixed seed: cached
    res = run_jobs([reference_job(artifacts, env)], judge_dir, replace(options, testing_seed=0), 1)[0]
    score = sum(section_scores(res).values())
    if res.get("status") == "error" or abs(score - TOTAL) > 1e-6:
        lost = [f"{t['name']}: {t['output'].splitlines()[0] if t['output'] else '?'}" for t in res.get("tests", [])
                if t["score"] < t["max_score"]]
        causes = (res.get("instructor_errors") or []) + lost
        raise GraderError(
            f"the canary (the kit's own reference) got {score:g} / {TOTAL} instead of full marks, so this machine "
            f"cannot grade; nothing was graded. First cause: {causes[0][:600] if causes else 'unknown'}\n"
            "Fix: make sure the grader's Python environment and its packages can be read and imported by the "
            "sandbox (install bubblewrap with `apt-get install bubblewrap`, or `--sandbox basic` for weaker "
            "isolation), then run again.")
    return time.monotonic() - t0


def check_sandbox(options: Options) -> None:
    if options.sandbox == "bwrap":
        problem = bwrap_available()
        if problem:
            raise GraderError(f"{problem}; or grade with `--sandbox basic` (weaker isolation, said in every result)")


def already_graded(out: Path, sub_id: str, taken: Intake, force: bool = False) -> bool:
    """Results that belong to this very submission (the same manifest files), not to an earlier one
    that had its name; grader errors are always graded again."""
    res = read_results(out / sub_id / "results.json")
    return (not force and res is not None and res.get("status") != "error" and bool(taken.digest)
            and res.get("submission_digest") == taken.digest)


def grade_class(root: Path, out: Path, workers: int | None = None, options: Options | None = None, force: bool = False,
                run_canary: bool = True) -> Path:
    options = options or Options()
    options = replace(options, device=judge_device(options.device))
    workers = workers or default_workers(options.limits.memory_mb)
    check_sandbox(options)
    subs = find_submissions(root)
    out.mkdir(parents=True, exist_ok=True)
    intakes = {sub_id: intake(path) for sub_id, path in subs.items()}    # names and digests only, no bytes kept

    todo = [s for s in subs if not already_graded(out, s, intakes[s], force)]
    print(f"{len(subs)} submissions; sandbox: {options.sandbox}; workers: {workers}; judge device: {options.device}")
    if len(todo) < len(subs):
        print(f"resuming: {len(subs) - len(todo)} already graded (same files as then)")
    with tempfile.TemporaryDirectory(prefix="judge-") as jd:
        judge_dir = Path(jd)
        copy_grader(judge_dir, judge=True)
        if todo and run_canary:
            class_data_ready({s: intakes[s] for s in todo})
            load = os.getloadavg()[0]
            seconds = canary(judge_dir, options)
            options = replace(options, machine={"canary_seconds": round(seconds, 1), "load_average_before_canary": load})
            print(f"canary: the kit's reference graded {TOTAL} / {TOTAL} in {seconds:.0f} s (load average {load:.1f}"
                  f"{BUSY_NOTE if load > cores() else ''})")
        jobs = [Job(sub_id, intakes[sub_id], out / sub_id) for sub_id in todo]

        unwritten: list[str] = []

        def report(job: Job, res: dict) -> None:
            score = "error" if res["status"] == "error" else f"{sum(section_scores(res).values()):g} / {TOTAL}"
            try:
                job.out.mkdir(parents=True, exist_ok=True)
                write_atomic(job.out / "results.json", json.dumps(res, indent=2))
            except OSError as exc:          # the grader's disk: nothing is written, the next run grades it
                unwritten.append(f"{job.sub_id}: {exc}")
                score = "not saved"
            print(f"  {job.sub_id:30s} {score:>10s}  {res['status']}", flush=True)
        run_jobs(jobs, judge_dir, options, workers, report)
    if unwritten:
        raise GraderError(f"could not write the results of {len(unwritten)} submission(s) (first: {unwritten[0]}); "
                          "free space under the output folder and run again: they will be graded then")
    path = write_csv(out, list(subs))
    summarize(out, list(subs))
    from grader.report import copied_code, write_class_report
    pairs = write_similar(out, list(subs), copied_code(submitted_code(intakes), handout_code()))
    if pairs:
        print(f"shared checkpoints or code: {len(pairs)} pair(s) to review (not a grade), listed in "
              f"{out / 'similar.csv'}:")
        for pair in pairs[:20]:
            print(f"  {pair['a']} and {pair['b']}: {pair['file']} ({pair['kind']})")
    print(f"class report: {write_class_report(out, list(subs), pairs)}")
    return path
