"""`python -m grader verify`: the grader gives full marks to the reference, 0 to the skeleton,
the same scores twice, and (tests/variants) costs every chaff its tagged item and no wheat a point."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from grader.build import KIT, assign, sandbox
from grader.fixture import testing_fixture
from grader.rubric import COURSE, SECTIONS, SECTION_FILES, TOTAL
from grader.roles import SUBMITTED as STUDENT_FILES
from grader.run import run_grader, run_many

def reference_files() -> dict[str, Path]:
    return {name: KIT / name for name in STUDENT_FILES}


def fmt(sections: dict[str, float]) -> str:
    return " ".join(f"{round(sections.get(k, 0), 2):>5g}" for k in SECTIONS)


def verify(variants: bool = True, workers: int = 2, parity: bool = True, seeds: int = 6) -> bool:
    ok = True
    print(f"(course {COURSE.upper()}: {len(SECTIONS)} sections, {TOTAL} points)")
    header = f"{'run':34s}" + " ".join(f"{k[:5]:>5s}" for k in SECTIONS) + "  total  verdict"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="grader-verify-") as tmp:
        tmp = Path(tmp)
        artifacts = None
        if "testing" in SECTIONS:
            fixture = testing_fixture()
            os.environ.update({**fixture.env, "GRADER_CACHE": str(tmp / "testing-cache")})
            artifacts = fixture.results
            print(f"(Testing section: the kit's reference trained briefly, Inception with seeded random weights: "
                  f"{fixture.results})")
        ref, times = [], []
        for i in range(2):   # fresh interpreters, as a student runs it
            t0 = time.time()
            ref.append(run_grader(sandbox(tmp / f"reference{i}", reference_files(), artifacts)))
            times.append(time.time() - t0)
        for i, r in enumerate(ref):
            good = abs(r["score"] - TOTAL) < 1e-6
            ok &= good
            print(f"{'reference run ' + str(i + 1):34s}{fmt(r['sections'])}  {r['score']:>5g}  "
                  f"{'ok' if good else 'FAIL: expected ' + str(TOTAL)}")
        maxima = {k: 0.0 for k in SECTIONS}
        for t in ref[0]["tests"]:
            maxima[t["tags"][0]] += t["max_score"]
        rubric_ok = all(abs(maxima[k] - SECTIONS[k][1]) < 1e-6 for k in SECTIONS)
        ok &= rubric_ok
        print(f"{'rubric points per section':34s}{fmt(maxima)}  {sum(maxima.values()):>5g}  "
              f"{'ok' if rubric_ok else 'FAIL: test points do not add up to the rubric'}")
        same = [t["score"] for t in ref[0]["tests"]] == [t["score"] for t in ref[1]["tests"]]
        ok &= same
        print(f"{'reference runs identical':34s}{'':{6 * len(SECTIONS)}s}         {'ok' if same else 'FAIL'}")
        student = assign(tmp / "student")
        skel = run_grader(sandbox(tmp / "skeleton", {n: student / n for n in STUDENT_FILES}))
        impl_score = sum(v for k, v in skel["sections"].items() if k != "testing")
        good = impl_score == 0 and skel["returncode"] in (0, 1)
        ok &= good
        print(f"{'student skeleton (no TODO done)':34s}{fmt(skel['sections'])}  {skel['score']:>5g}  "
              f"{'ok' if good else 'FAIL: expected 0 on every implementation item'}")
        print(f"(grader wall time on the reference, fresh interpreter: {', '.join(f'{t:.1f} s' for t in times)})")
        ok &= reference_under_seeds(tmp, artifacts, workers, seeds)
        if variants:
            ok &= verify_variants(tmp, artifacts, workers, parity)
    print("VERIFY", "PASSED" if ok else "FAILED")
    return ok


def reference_under_seeds(tmp: Path, artifacts: Path, workers: int, seeds: int) -> bool:
    """Batch grading draws new inputs per submission: the reference must get 90 under every seed."""
    import secrets
    drawn = [secrets.randbits(48) for _ in range(seeds)]
    folders = [sandbox(tmp / f"reference-seed{i}", reference_files(), artifacts) for i in range(seeds)]
    results = run_many([(f, None) for f in folders], workers,       # Testing: bench_testing.py draws its seeds
                       envs=[{"GRADER_SEED": str(s), "GRADER_TESTING_SEED": "0"} for s in drawn])
    low = [f"seed {s}: {r['score']:g} ({[t['name'] for t in r['tests'] if t['score'] < t['max_score']][:2]})"
           for s, r in zip(drawn, results) if abs(r["score"] - TOTAL) > 1e-6]
    print(f"{'reference under ' + str(seeds) + ' grading seeds':34s}{'':{6 * len(SECTIONS)}s}         "
          f"{'ok' if not low else 'FAIL: ' + '; '.join(low)}")
    return not low


def verify_variants(tmp: Path, artifacts: Path, workers: int, parity: bool = True) -> bool:
    """Grade every variant on the sections its edits can touch (the others are the reference's),
    with the public `pytest grader/` and (parity) through the batch path: judge + sandbox."""
    sys.path.insert(0, str(KIT / "tests"))
    from variants import load_variants  # tests/variants/: chaffs and wheats

    variants, jobs = [v for v in load_variants() if graded_in_this_course(v)], []
    for variant in variants:
        files = reference_files()
        files.update(variant.write(tmp / "variant-src" / variant.name))
        sections = sorted({s for s, fs in SECTION_FILES.items() if set(fs) & set(variant.changed) and s in SECTIONS}
                          | ({"testing"} if variant.artifact_edit else set()))
        own_artifacts = (variant.write_artifacts(artifacts, tmp / "variant-artifacts" / variant.name)
                         if "testing" in sections else None)      # 45 MB of generators: only where graded
        jobs.append((sandbox(tmp / "variant" / variant.name, files, own_artifacts), sections))
    t0 = time.time()
    results = run_many(jobs, workers)
    ok, counts = True, {"chaff": [0, 0], "wheat": [0, 0]}
    for variant, result in zip(variants, results):
        lost = {k: round(SECTIONS[k][1] - v, 4) for k, v in result["sections"].items() if SECTIONS[k][1] - v > 1e-6}
        if variant.kind == "chaff":
            elsewhere = sorted(set(lost) - {variant.item, *variant.also})
            good = lost.get(variant.item, 0) > 0 and not elsewhere
            verdict = ("ok (caught)" if good else f"FAIL: no points lost on {variant.item}" if not lost.get(variant.item)
                       else f"FAIL: one mistake also cost {', '.join(elsewhere)}")
        else:
            good = not lost
            verdict = "ok (full marks)" if good else "FAIL: a valid implementation lost points"
        counts[variant.kind][0] += good
        counts[variant.kind][1] += 1
        ok &= good
        lost_text = ", ".join(f"{k} -{v:g}" for k, v in lost.items()) or "none"
        print(f"{variant.kind} {variant.name:28s} lost: {lost_text:40s} {verdict}")
    print(f"({len(variants)} variants graded in {time.time() - t0:.0f} s with {workers} workers)")
    ok &= check_feedback(variants, results)
    if parity:
        ok &= batch_parity(variants, jobs, results, workers)
    for kind, (good, total) in counts.items():
        print(f"{kind}s: {good}/{total} " + ("lose points on their tagged section and no other (one mistake, one "
                                             "deduction)" if kind == "chaff" else "get full marks"))
    return ok


def graded_in_this_course(variant) -> bool:
    """A variant of files this course's students write, whose tagged section (chaff) this course grades."""
    files = set(variant.changed) - {"<artifacts>"}
    if not files <= set(STUDENT_FILES) or (variant.artifact_edit and "testing" not in SECTIONS):
        return False
    if getattr(variant, "courses", ()) and COURSE not in variant.courses:
        return False
    return variant.kind == "wheat" or variant.item in SECTIONS


def batch_parity(variants, jobs, local: list[dict], workers: int) -> bool:
    """The same variants through the batch path: wheats identical full marks both ways, and no
    chaff higher in batch than locally (the student's own run never promises what batch takes)."""
    from grader.batch import Job, Options, intake, run_jobs, section_scores
    from grader.build import copy_grader
    from grader.sandbox import bwrap_available
    kind = "bwrap" if bwrap_available() is None else "basic"
    batch_jobs = []
    for variant, (folder, sections) in zip(variants, jobs):
        batch_jobs.append(Job(variant.name, intake(folder), folder, sections=sections))
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="judge-") as jd:
        copy_grader(Path(jd), judge=True)
        batch = run_jobs(batch_jobs, Path(jd), Options(sandbox=kind), workers)
    ok, higher, differ = True, [], []
    for variant, mine, theirs in zip(variants, local, batch):
        got = {k: v for k, v in section_scores(theirs).items() if k in mine["sections"]}
        if theirs.get("status") != "ok":
            differ.append(f"{variant.name} (batch status {theirs.get('status')})")
        elif variant.kind == "wheat" and got != {k: round(v, 4) for k, v in mine["sections"].items()}:
            differ.append(f"{variant.name}: local {mine['sections']} vs batch {got}")
        elif any(got[k] > mine["sections"][k] + 1e-6 for k in got):
            higher.append(f"{variant.name}: local {mine['sections']} vs batch {got}")
    ok = not higher and not differ
    print(f"batch/local parity ({kind} sandbox, {len(batch)} variants in {time.time() - t0:.0f} s): "
          f"wheats identical both ways: {'ok' if not differ else 'FAIL ' + '; '.join(differ[:3])}; "
          f"no chaff higher in batch: {'ok' if not higher else 'FAIL ' + '; '.join(higher[:3])}")
    return ok


FEEDBACK_NOISE = ("0x", "assert ", "+  where", "Traceback", "site-packages")


def feedback_problems(output: str) -> list[str]:
    """What is wrong with the feedback of one lost item (empty: a sentence that points at the code)."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    problems = [f"contains {noise!r}" for noise in FEEDBACK_NOISE if noise in output]
    if len(first.split()) < 4 or not first.endswith("."):
        problems.append("the first line is not a sentence")
    if not any(mark in first for mark in (".py", ".txt", "results/")):
        problems.append("it names no file of the submission")
    return problems


def check_feedback(variants, results: list[dict]) -> bool:
    """Every lost item of a chaff says, in one sentence, what was wrong and where; wheats get no feedback."""
    bad = []
    for variant, result in zip(variants, results):
        for test in result["tests"]:
            lost = test["score"] < test["max_score"]
            if variant.kind == "wheat" and (lost or test["output"].strip()):
                bad.append(f"{variant.name}: feedback on a valid implementation: {test['output'][:120]!r}")
            elif lost and (problems := feedback_problems(test["output"])):
                bad.append(f"{variant.name}: {test['name']}: {', '.join(problems)}: {test['output'][:160]!r}")
    print(f"feedback: {'ok' if not bad else 'FAIL'} (every lost item of every chaff: one sentence naming the "
          f"student's file, no pytest introspection; no feedback for wheats)")
    for line in bad[:10]:
        print(f"  {line}")
    return not bad
