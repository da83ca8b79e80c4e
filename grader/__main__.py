"""python -m grader {assign,verify} (see README, "For instructors")."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.course import COURSES, DEFAULT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description="Homework kit: handout and grading tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("assign", help="write the student handout (solutions stripped)")
    p.add_argument("--out", type=Path, default=Path("dist/student"))
    p = sub.add_parser("verify", help="check the grader on the reference, the skeleton and the variants")
    p.add_argument("--no-variants", action="store_true", help="skip the wheats-and-chaffs corpus")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-parity", action="store_true", help="skip grading the corpus through the batch path too")
    p.add_argument("--seeds", type=int, default=6, help="grade the reference under this many fresh grading seeds")
    p = sub.add_parser("grade", help="grade a folder of submissions (folders or .zip), isolated")
    p.add_argument("submissions", type=Path)
    p.add_argument("--out", type=Path, default=Path("grades"))
    p.add_argument("--workers", type=int, default=None,
                   help="submissions graded at once (default: one per core, at most one per --memory-mb of the machine's memory)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per submission (one deadline, restarts included)")
    p.add_argument("--test-timeout", type=float, default=60, help="seconds per question to the student's code")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory of all the submission's processes together")
    p.add_argument("--sandbox", choices=("bwrap", "basic"), default="bwrap",
                   help="bwrap (bubblewrap, default) or basic (weaker isolation, said in every result)")
    p.add_argument("--force", action="store_true", help="re-grade submissions that already have results")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="where the judge's own Testing work runs (student code: always the CPU, sandboxed)")
    p = sub.add_parser("grade-one", help="grade one submission folder into a results.json (Gradescope)")
    p.add_argument("submission", type=Path)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--timeout", type=float, default=600)
    p = sub.add_parser("gradescope", help="write a Gradescope autograder zip")
    p.add_argument("--out", type=Path, default=Path("dist/autograder.zip"))
    for name, command in sub.choices.items():
        if name != "grade-one":          # an autograder folder knows its course (grader/COURSE)
            command.add_argument("--course", choices=COURSES, default=None,
                                 help=f"the assignment: ai604 (DCGAN + CycleGAN + IS + FID) or ee898 (PA2: CycleGAN + "
                                      f"self-attention + FID); default {DEFAULT}")
    args = parser.parse_args(argv)
    if getattr(args, "course", None):    # read by grader/course.py when the grader modules are imported below
        os.environ["GRADER_COURSE"] = args.course
    if args.command == "grade":
        from grader.batch import GraderError, Options, grade_class
        from grader.sandbox import Limits
        if not args.submissions.is_dir():
            print(f"error: {args.submissions} is not a folder of submissions", file=sys.stderr)
            return 2
        limits = Limits(deadline=args.timeout, question=args.test_timeout, memory_mb=args.memory_mb)
        try:
            path = grade_class(args.submissions, args.out, args.workers, Options(limits, args.sandbox, device=args.device),
                               args.force)
        except GraderError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {path}")
        return 0
    if args.command == "grade-one":
        from grader.gradescope import grade_into
        return grade_into(args.submission, args.results, args.timeout)
    if args.command == "gradescope":
        from grader.gradescope import build_autograder
        print(f"wrote {build_autograder(args.out)}")
        return 0
    if args.command == "assign":
        from grader.build import LeakError, assign
        from grader.markers import MarkerError
        try:
            out = assign(args.out)
        except (LeakError, MarkerError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        from grader.rubric import COURSE
        print(f"wrote the {COURSE.upper()} student handout to {out}")
        return 0
    if args.command == "verify":
        from grader.verify import verify
        return 0 if verify(variants=not args.no_variants, workers=args.workers, parity=not args.no_parity, seeds=args.seeds) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
