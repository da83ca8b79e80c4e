"""`python -m grader verify`: the grader gives full marks to the reference, 0 to the skeleton,
the same scores twice, and (tests/variants) costs every chaff its tagged item and no wheat a point."""
from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.build import KIT, assign, sandbox
from grader.rubric import COURSE, SECTIONS, SECTION_FILES, TOTAL
from grader.roles import SUBMITTED as STUDENT_FILES
from grader.roles import CHECKPOINT_FILES, manifest_name
from grader.run import run_grader, run_many

LOGIT_STD = 4.0
TRAIN_STEPS = {"dcgan": 120, "cyclegan": 30}   # training steps of the fixture's generators
FIXTURE_SHAPES = {"train": 256, "test": 16}
FIXTURE_DCGAN_BATCH = 32


def random_inception_weights(path: Path, images=None, logit_std: float = LOGIT_STD) -> Path:
    """Seeded random FID-Inception weights, BatchNorm statistics calibrated on `images` (uint8
    [B,3,H,W]; random pixels if None) and fc scaled to logits of std `logit_std`. For the kit's
    own checks only (no download, seconds): the Testing logic does not depend on which fixed
    network scores the samples."""
    import torch
    sys.path.insert(0, str(KIT))
    import inception
    torch.manual_seed(0)
    if images is None:
        images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8)
    net = inception.FIDInception()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None           # cumulative average over the calibration batch
    net.train()
    with torch.no_grad():
        net(images)
        net.eval()
        logits = net(images)[1]
        net.fc.weight.mul_(logit_std / logits.std())     # LOGIT_STD: peaked enough for the IS to tell generators apart
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


def small_offline_data(root: Path) -> Path:
    """shapes32 and a 32-px seasons set, enough for brief training and the Testing section."""
    sys.path.insert(0, str(KIT / "data"))
    import make_offline_data
    make_offline_data.make_shapes32(root, seed=0, splits=FIXTURE_SHAPES)
    make_offline_data.make_seasons(root, seed=0, splits={"trainA": 24, "trainB": 24, "testA": 20, "testB": 20}, size=32)
    return root


def trained_artifacts(folder: Path, data_root: Path, weights: Path, steps: dict[str, int] = TRAIN_STEPS) -> Path:
    """A real submission's results: the reference trained briefly (DCGAN on shapes32 at lr 1e-3,
    CycleGAN at 32 px on seasons), then `--train false`, writing honest claims.
    To save time one DCGAN run stands for all four types: their checkpoints are the same file, so
    `--train false` would write the same line four times (same seed, same samples); it runs once
    and the other three claims repeat its line under their own names."""
    import shutil
    import torch
    sys.path.insert(0, str(KIT))
    import cyclegan
    import dataloader
    import dcgan
    saved_root, saved_threads = dataloader.DATA_ROOT, torch.get_num_threads()
    dataloader.DATA_ROOT = data_root
    torch.set_num_threads(min(2, saved_threads))      # 1 in a parallel test worker (see tests/conftest.py)
    try:
        scores = folder / "inception_score.txt"
        folder.mkdir(parents=True, exist_ok=True)
        trained = dcgan.DCGAN_Solver("gan", lr=1e-3, batch_size=FIXTURE_DCGAN_BATCH, num_workers=0, device="cpu",
                                     dataset="shapes32", results_dir=folder / "results")
        epochs = -(-steps["dcgan"] // (FIXTURE_SHAPES["train"] // FIXTURE_DCGAN_BATCH))   # the small set: 8 steps an epoch
        trained.train(epochs, save_every=epochs)
        dcgan.DCGAN_Solver("gan", num_workers=0, device="cpu", dataset="shapes32",
                           results_dir=folder / "results").test(num_samples=20, weights=str(weights), scores_file=scores)
        claim = scores.read_text().splitlines()[-1]                  # "dcgan-gan: IS = ..."
        for gan_type in dcgan.GAN_TYPES[1:]:
            out_dir = folder / "results" / "dcgan" / gan_type
            shutil.copytree(trained.out_dir / "checkpoints", out_dir / "checkpoints", dirs_exist_ok=True)
            shutil.copytree(trained.out_dir / "images", out_dir / "images", dirs_exist_ok=True)
            with open(scores, "a") as f:
                f.write(claim.replace("dcgan-gan:", f"dcgan-{gan_type}:", 1) + "\n")
        solver = cyclegan.CycleGAN_Solver(num_workers=0, device="cpu", dataset="seasons", image_size=32,
                                          results_dir=folder / "results")
        solver.train(1, max_steps=steps["cyclegan"], save_every=1)
        solver.test(weights=str(weights), scores_file=scores)
    finally:
        dataloader.DATA_ROOT = saved_root
        torch.set_num_threads(saved_threads)
    return folder


@dataclass
class Fixture:
    """A trained submission's results with honest claims, the small data they were trained on and
    the (random) Inception weights that scored them. Environment for a grader run: `env`."""
    results: Path
    data: Path
    weights: Path

    @property
    def env(self) -> dict[str, str]:
        return {"GAN_KIT_DATA": str(self.data), "GAN_KIT_INCEPTION_WEIGHTS": str(self.weights),
                "GRADER_FID_SAMPLES": "12"}


FIXTURE_SOURCES = ("dcgan.py", "cyclegan.py", "util.py", "dataloader.py", "inception.py", "inception_score.py",
                   "fid.py", "data/make_offline_data.py", "grader/verify.py")


def testing_fixture() -> Fixture:
    """Built once per version of the code it depends on (~1.5 min on 2 cores), kept in .cache/."""
    import hashlib
    digest = hashlib.sha256(b"".join((KIT / name).read_bytes() for name in FIXTURE_SOURCES)).hexdigest()[:16]
    final = KIT / ".cache" / f"testing-fixture-{digest}"
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / "testing-fixture.lock", "w") as lock:     # parallel test workers: one builds
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "done").is_file():
            _build_testing_fixture(final)
    return Fixture(final / "results", final / "data", final / "random-inception.pth")


def _build_testing_fixture(final: Path) -> None:
    """Train, evaluate and keep what a student submits, in a scratch folder renamed to `final` when done."""
    import shutil
    import torch
    build = Path(tempfile.mkdtemp(prefix="fixture-", dir=final.parent))
    data = small_offline_data(build / "data")
    weights = random_inception_weights(build / "random-inception.pth", calibration_images(data))
    trained_artifacts(build / "results", data, weights)
    for path in sorted((build / "results").rglob("*"), reverse=True):   # keep what a student submits
        rel = path.relative_to(build / "results").as_posix()
        if path.is_file() and not manifest_name(rel):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for rel in CHECKPOINT_FILES:            # fp16, as the handout allows (half the size)
        state = torch.load(build / "results" / rel, weights_only=True)
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, build / "results" / rel)
    (build / "done").write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(build, final)


def calibration_images(data: Path):
    import torch
    from grader.training_check import _image_files, _load_images
    return torch.cat([_load_images(_image_files(data / "shapes32" / "train")[:12], 32),
                      _load_images(_image_files(data / "seasons" / "trainA")[:12], 32)])


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
