"""Solution markers: one source yields the reference and the student skeleton.

Convention, in every kit file:

        # TODO: what to do, with a hint (one or more comment lines; required)
        # BEGIN SOLUTION
        ...reference code...
        # END SOLUTION

`strip_solutions` replaces each block by a line count hint and a short
`raise NotImplementedError("file, Class.method: ...")` at the marker's indentation, keeping the TODO
comment (the prompt stands once, in the comment).
Nested, unbalanced, mis-indented or prompt-less markers are errors.
"""
from __future__ import annotations

import re

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
MARKER_RE = re.compile(r"^(\s*)# (BEGIN|END) SOLUTION\s*$")
TODO_RE = re.compile(r"^\s*# TODO:\s*(.+)$")


class MarkerError(ValueError):
    """A malformed solution marker; the message names the file and line."""


def _prompt(lines: list[str], begin: int) -> str:
    """The first line of the `# TODO:` comment block right above line `begin`."""
    i = begin - 1
    while i >= 0 and lines[i].strip().startswith("#"):
        match = TODO_RE.match(lines[i])
        if match:
            return match.group(1).strip()
        i -= 1
    return ""


def _enclosing(lines: list[str], begin: int) -> str:
    """'Class.method' around line `begin` (the raise names where it is; the TODO above says what to do)."""
    names, depth = [], len(lines[begin]) - len(lines[begin].lstrip())
    for line in reversed(lines[:begin]):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped and indent < depth and stripped.startswith(("def ", "class ", "async def ")):
            names.append(re.split(r"[\s(:]", stripped.replace("async def ", "def "), 2)[1])
            depth = indent
    return ".".join(reversed(names)) or "module level"


def strip_solutions(source: str, filename: str = "<source>") -> str:
    """Return the student version of `source` (see the module docstring)."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    begin: int | None = None
    indent = ""
    for number, line in enumerate(lines):
        match = MARKER_RE.match(line)
        if "SOLUTION" in line and not match and (BEGIN in line or END in line):
            raise MarkerError(f"{filename}:{number + 1}: a solution marker must stand alone on its line")
        if match and match.group(2) == "BEGIN":
            if begin is not None:
                raise MarkerError(f"{filename}:{number + 1}: nested BEGIN SOLUTION "
                                  f"(the block opened on line {begin + 1} is not closed)")
            prompt = _prompt(lines, number)
            if not prompt:
                raise MarkerError(f"{filename}:{number + 1}: BEGIN SOLUTION needs a '# TODO: ...' comment above it")
            begin, indent = number, match.group(1)
        elif match:  # END
            if begin is None:
                raise MarkerError(f"{filename}:{number + 1}: END SOLUTION without BEGIN SOLUTION")
            if match.group(1) != indent:
                raise MarkerError(f"{filename}:{number + 1}: END SOLUTION is indented differently "
                                  f"from its BEGIN SOLUTION on line {begin + 1}")
            n_code = sum(1 for l in lines[begin + 1:number] if l.strip() and not l.strip().startswith("#"))
            out.append(f"{indent}# (about {n_code} line{'s' * (n_code != 1)} of code)\n")
            out.append(f'{indent}raise NotImplementedError("{filename}, {_enclosing(lines, begin)}: '
                       f'the TODO above is not written yet")\n')
            begin = None
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise MarkerError(f"{filename}:{begin + 1}: BEGIN SOLUTION is never closed")
    return "".join(out)

