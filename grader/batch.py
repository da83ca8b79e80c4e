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
import io
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

from grader.build import KIT, copy_grader
from grader.roles import GIVEN_ALWAYS, GIVEN_COMPLETE, MAX_FILE_BYTES, MAX_TOTAL_BYTES, SUBMITTED, manifest_name
from grader.rubric import SECTIONS, TOTAL
from grader.run import GRADER_ENV, cores, preload, pytest_args, share_cores
from grader.sandbox import Limits, bwrap_available, remove_cgroups

JUDGE_MEMORY_MB = 6144
TESTING_BUDGET = 600          # seconds the Testing section may take on top of the student process deadline


class GraderError(RuntimeError):
    """The grader itself cannot grade here (the canary failed, or the sandbox is missing)."""


@dataclass
class Options:
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "bwrap"           # 'bwrap' or 'basic' (weaker, said in every result)
    python: str | None = None        # a different interpreter for the student process (tests)
    testing_seed: int | None = None  # the Testing section's samples: one seed per batch, drawn when it starts


# ----------------------------------------------------------------------------- submissions
def submission_files(src: Path) -> dict[str, bytes]:
    """The manifest files of a folder or .zip (a single top folder inside is fine); no links."""
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

    if src.is_file() and not src.is_symlink() and src.suffix == ".zip":
        with zipfile.ZipFile(src) as z:
            for info in z.infolist()[:10_000]:
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if info.is_dir() or is_link or info.file_size > MAX_FILE_BYTES:
                    continue
                take(info.filename, lambda info=info: z.read(info))
    elif src.is_dir() and not src.is_symlink():
        for path in sorted(src.rglob("*"))[:10_000]:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            take(path.relative_to(src).as_posix(), path.read_bytes)
    # strip one common top folder (hw3-12345/dcgan.py), then keep only manifest files
    prefixes = {rel.split("/", 1)[0] for rel in entries if "/" in rel} - {"__MACOSX"}
    if not any(manifest_name(rel) for rel in entries) and len(prefixes) == 1:
        top = prefixes.pop() + "/"
        entries = {rel[len(top):]: data for rel, data in entries.items() if rel.startswith(top)}
    return {name: data for rel, data in entries.items() if (name := manifest_name(rel))}


def stage(files: dict[str, bytes], dest: Path) -> Path:
    """The graded copy of a submission: its manifest files, the kit's given files where needed."""
    dest.mkdir(parents=True)
    for name, data in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    for name in GIVEN_COMPLETE:
        if name in GIVEN_ALWAYS or name not in files:
            shutil.copy2(KIT / name, dest / name)
    for path in [dest, *dest.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return dest


def find_submissions(root: Path) -> dict[str, Path]:
    """{id: path}; ids are sanitised file names (letters, digits, . _ -), unique."""
    subs: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.is_symlink() or not (path.is_dir() or (path.is_file() and path.suffix == ".zip")):
            continue
        base = re.sub(r"[^A-Za-z0-9._-]", "_", path.stem if path.is_file() else path.name).strip(".") or "submission"
        base = base[:80] if base not in ("grades", "grades.csv") else base + "_"
        sub_id, n = base, 1
        while sub_id in subs:
            n += 1
            sub_id = f"{base}-{n}"
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
    files: dict[str, bytes] | None
    out: Path
    notes: list[str]
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
    staged = stage(job.files or {}, job.tmp / "submission")
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
    missing = [n for n in SUBMITTED if job.files is not None and n not in job.files]
    notes = list(job.notes)
    if missing:
        notes.append(f"files not submitted: {', '.join(missing)}")
    notes.append(f"graded in {seconds:.0f} s with grading seed {job.seed} (Testing samples: seed {options.testing_seed}); protections: "
                 f"{results.get('protections', 'n/a')}")
    if errors:
        results["status"] = "error"
        results.pop("score", None)
        results["output"] = ("The grader could not grade this submission (grader error, not your code); your "
                             "instructor has been told.\n" + "\n".join(notes))
        results["instructor_errors"] = errors
    else:
        results["status"] = "ok"
        results["output"] = "Graded in an isolated sandbox; scores decided by the trusted judge.\n" + "\n".join(notes)
    return results


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
                start_judge(jobs[i], judge_dir, options, workers)
            except OSError as exc:             # the grader's disk or fork: an error for this job, not a grade
                free.append(jobs[i].worker)
                results[i] = {"status": "error", "tests": [], "instructor_errors": [f"could not start grading: {exc}"],
                              "output": "The grader could not grade this submission (grader error, not your code)."}
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
            shutil.rmtree(job.tmp, ignore_errors=True)
            if report:
                report(job, results[i])
    return results


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
    files = {name: (KIT / name).read_bytes() for name in SUBMITTED}
    if artifacts is not None:
        for path in artifacts.rglob("*"):
            if path.is_file() and manifest_name(rel := path.relative_to(artifacts).as_posix()):
                files[rel] = path.read_bytes()
    return Job("canary (the kit's reference)", files, Path("."), [], env=dict(env or {}))


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


def canary(judge_dir: Path, options: Options) -> float:
    """Grade the kit's reference through the students' pipeline; GraderError unless it gets full marks.
    Its Testing section uses the kit's fixture (the reference trained briefly, its small data and the
    random Inception weights that scored it), so the canary proves the checks, not the weights."""
    from grader.verify import testing_fixture
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


def grade_class(root: Path, out: Path, workers: int | None = None, options: Options | None = None, force: bool = False,
                run_canary: bool = True) -> Path:
    options = options or Options()
    workers = workers or default_workers(options.limits.memory_mb)
    check_sandbox(options)
    subs = find_submissions(root)
    out.mkdir(parents=True, exist_ok=True)
    done = {s for s in subs if not force and (r := read_results(out / s / "results.json")) and r.get("status") != "error"}
    todo = [s for s in subs if s not in done]
    print(f"{len(subs)} submissions; sandbox: {options.sandbox}; workers: {workers}")
    if done:
        print(f"resuming: {len(done)} already graded")
    with tempfile.TemporaryDirectory(prefix="judge-") as jd:
        judge_dir = Path(jd)
        copy_grader(judge_dir, judge=True)
        if todo and run_canary:
            print(f"canary: the kit's reference graded {TOTAL} / {TOTAL} in {canary(judge_dir, options):.0f} s")
        jobs = []
        for sub_id in todo:
            try:
                files, notes = submission_files(subs[sub_id]), []
            except (ValueError, zipfile.BadZipFile, OSError) as exc:
                files, notes = {}, [f"could not read the submission: {exc}"]
            jobs.append(Job(sub_id, files, out / sub_id, notes))

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
    return path
