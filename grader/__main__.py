"""python -m grader {assign,verify} (see README, "For instructors")."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description="Homework kit: handout and grading tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("assign", help="write the student handout (solutions stripped)")
    p.add_argument("--out", type=Path, default=Path("dist/student"))
    p = sub.add_parser("verify", help="check the grader on the reference, the skeleton and the variants")
    p.add_argument("--no-variants", action="store_true", help="skip the wheats-and-chaffs corpus")
    p.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "assign":
        from grader.build import LeakError, assign
        from grader.markers import MarkerError
        try:
            out = assign(args.out)
        except (LeakError, MarkerError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote the student handout to {out}")
        return 0
    if args.command == "verify":
        from grader.verify import verify
        return 0 if verify(variants=not args.no_variants, workers=args.workers) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
