"""The rubric: one grader test file per section, and the points of each section, per course
(AI604: 90 points; EE898 PA2: 60 autograded points, see grader/course.py).

Principles every grader test follows (checked by `python -m grader verify` on tests/variants):
- One mistake, one deduction: a mistake costs points in the section its behaviour belongs to and
  in no other (verify fails a chaff that loses points outside its tagged section), at least one
  point: an item covers a behaviour for all four GAN types, never a quarter per type.
- Behaviour, not style: any implementation that behaves as the handout says gets full marks
  (the wheats), whatever its layout, names, F.* or nn.*, batch or image size.
- The judge decides, student code only answers: tests ask questions with inputs drawn at grading
  time and compute every expected value themselves (grader/probe.py, grader/questions.py).
"""
from __future__ import annotations

from grader.course import active_course

# key (= test file test_<key>.py): (title in the handout, points), per course
COURSE_SECTIONS: dict[str, dict[str, tuple[str, int]]] = {
    "ai604": {
        "dcgan_model": ("1.1 DCGAN model", 10),
        "dcgan_training": ("1.2 DCGAN training (losses, GP, clipping)", 20),
        "cyclegan_model": ("2.1 CycleGAN model", 10),
        "cyclegan_training": ("2.2 CycleGAN training (dataset, losses)", 20),
        "inception_score": ("3.1 Inception Score", 10),
        "fid": ("3.2 FID", 10),
        "testing": ("3.3 Testing (claims recomputed from G)", 10),
    },
    # EE898 PA2: Step 1 (CycleGAN design + LSGAN/cycle losses) 30, Step 2 (self-attention) 20,
    # Step 3 (FID, reported both ways) 10; Step 4 (extra credit) and the report: the instructor's
    "ee898": {
        "cyclegan_model": ("Step 1.1 CycleGAN model", 10),
        "cyclegan_training": ("Step 1.2 CycleGAN losses and data", 20),
        "attention_module": ("Step 2.1 Self-attention block", 10),
        "attention_models": ("Step 2.2 Attention G and D", 5),
        "attention_maps": ("Step 2.3 Attention maps", 5),
        "fid": ("Step 3 FID", 10),
    },
}
COURSE = active_course()
SECTIONS = COURSE_SECTIONS[COURSE]
TOTAL = sum(points for _, points in SECTIONS.values())

# which student file each section exercises (a broken file costs only these sections)
SECTION_FILES: dict[str, tuple[str, ...]] = {      # util.py: the layer helpers and the image pool
    "dcgan_model": ("dcgan.py", "util.py"),
    "dcgan_training": ("dcgan.py",),
    "cyclegan_model": ("cyclegan.py", "util.py"),
    "cyclegan_training": ("cyclegan.py", "dataloader.py", "util.py"),
    "inception_score": ("inception_score.py",),
    "fid": ("fid.py",),
    "testing": (),
    "attention_module": ("attention.py",),
    "attention_models": ("attention.py", "cyclegan.py", "util.py"),   # the attention G and D extend the student's Table 2 nets
    "attention_maps": ("attention.py",),
}


def section_of(nodeid: str) -> str:
    """'grader/test_dcgan_model.py::test_x' -> 'dcgan_model'."""
    filename = nodeid.split("::")[0].rsplit("/", 1)[-1]
    return filename.removeprefix("test_").removesuffix(".py")
