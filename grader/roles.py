"""Who owns which file: the one place that says what is student work, what is given, what the
sandboxed student process may see of the grader, and what only the trusted judge sees.

    student handout   SUBMITTED + GIVEN + PUBLIC_GRADER (+ data scripts, README)
    sandbox (child)   the submission's SUBMITTED files, GIVEN_ALWAYS, SANDBOX_GRADER; nothing else
    trusted judge     everything under grader/ (public tests + grader/judge/), never student code
"""
from __future__ import annotations

from pathlib import PurePosixPath

from grader.course import active_course

# code a student submits, per course (grader/course.py); util.py is handed out complete, but
# students submit whole files and given code counts too, so the submitted util.py is the one graded
COURSE_SUBMITTED = {
    "ai604": ("dcgan.py", "cyclegan.py", "dataloader.py", "inception_score.py", "fid.py", "util.py"),
    "ee898": ("attention.py", "cyclegan.py", "dataloader.py", "fid.py", "util.py"),
}
COURSE = active_course()
SUBMITTED = COURSE_SUBMITTED[COURSE]
# handed out complete and always graded with the kit's own copy (never taken from a submission)
GIVEN_ALWAYS = ("inception.py",)
# handed out complete: the kit's copy stands in when a submission lacks one
GIVEN_COMPLETE = ("util.py", "inception.py")
HANDOUT_CODE = tuple(sorted(set(SUBMITTED) | set(GIVEN_ALWAYS)))

# what the Testing section reads from a submission (besides the code)
SCORES_FILE = "inception_score.txt"
IMAGE_DIRS = {"dcgan-gan": "results/dcgan/gan/images", "dcgan-lsgan": "results/dcgan/lsgan/images",
              "dcgan-wgan": "results/dcgan/wgan/images", "dcgan-wgan-gp": "results/dcgan/wgan-gp/images",
              "cyclegan": "results/cyclegan/images"}
# the final generators the Testing section samples (grader/training_check.py)
CHECKPOINT_FILES = (*(f"results/dcgan/{t}/checkpoints/G_final.pth" for t in ("gan", "lsgan", "wgan", "wgan-gp")),
                    "results/cyclegan/checkpoints/G_A2B_final.pth", "results/cyclegan/checkpoints/G_B2A_final.pth")

# grader/ files the student process may import while it answers probes: questions, never verdicts
SANDBOX_GRADER = ("__init__.py", "codec.py", "questions.py", "mocks.py", "child.py")
# the public self-check that ships in the handout (its tests judge with their own public cases)
PUBLIC_GRADER = SANDBOX_GRADER + ("course.py", "conftest.py", "probe.py", "rubric.py", "roles.py", "arch.py", "training_check.py")
# judge-only: the sandbox driver and grader/judge/ (the trusted generators and metrics of the
# Testing section, with a copy of the kit's inception.py + util.py); never in the handout or a sandbox
JUDGE_GRADER = ("sandbox.py",)
JUDGE_DIR = "judge"
JUDGE_KIT_FILES = ("inception.py", "util.py")
# the instructor's tools (python -m grader ...): in the Gradescope autograder, never in the handout
INSTRUCTOR_TOOLS = ("__main__.py", "batch.py", "build.py", "fixture.py", "gradescope.py", "markers.py", "report.py",
                    "run.py", "verify.py")

MAX_FILE_BYTES = 40 * 1024 * 1024          # any one submitted file (a float32 CycleGAN G is 31 MB)
MAX_TOTAL_BYTES = 200 * 1024 * 1024        # a whole submission's graded files (six float32 generators: ~90 MB)
MAX_IMAGES = 64                            # PNGs taken from one image folder (sorted by name)


def manifest_name(path: str) -> str | None:
    """The graded name of a submitted file, or None if the manifest does not take it."""
    parts = PurePosixPath(path).parts
    if len(parts) == 1 and parts[0] in (*SUBMITTED, SCORES_FILE):
        return parts[0]
    if "/".join(parts) in CHECKPOINT_FILES:
        return "/".join(parts)
    folder = "/".join(parts[:-1])
    if parts and parts[-1].lower().endswith(".png") and folder in IMAGE_DIRS.values():
        return "/".join(parts)
    return None
