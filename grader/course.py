"""Which course a grader folder grades: AI604 (DCGAN + CycleGAN + IS + FID, the default) or EE898
PA2 (CycleGAN + self-attention + FID). One source serves both; a course picks its student files,
its rubric sections and its handout README.

`python -m grader assign --course ee898` writes `grader/COURSE` into the handout (and the batch
judge, the Gradescope zip and every sandbox get the same file), so `pytest grader/` grades by the
course the handout was made for. The kit's own folder has no such file: there $GRADER_COURSE
(set by `python -m grader ... --course`) decides, else AI604.
"""
from __future__ import annotations

import os
from pathlib import Path

COURSES = ("ai604", "ee898")
HANDOUT_README = {"ai604": "HANDOUT.md", "ee898": "HANDOUT_EE898.md"}     # grader/<file> -> the handout's README.md
DEFAULT = "ai604"
COURSE_FILE = Path(__file__).resolve().parent / "COURSE"


class CourseError(ValueError):
    """An unknown course name."""


def check(name: str) -> str:
    name = name.strip().lower()
    if name not in COURSES:
        raise CourseError(f"unknown course {name!r}: choose one of {', '.join(COURSES)}")
    return name


def active_course() -> str:
    """grader/COURSE if this folder was made for a course, else $GRADER_COURSE, else AI604."""
    if COURSE_FILE.is_file():
        return check(COURSE_FILE.read_text())
    return check(os.environ.get("GRADER_COURSE") or DEFAULT)
