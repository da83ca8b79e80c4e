"""Wheats and chaffs: the grader-accuracy corpus (`python -m grader verify`).

A chaff is the reference with one plausible student mistake; it must lose points on the
rubric section it is tagged with. A wheat is a valid alternative implementation; it must get
full marks. Variants are made from the current reference by small, checked edits: an edit
whose text is no longer found (or found twice) raises, so the corpus follows the reference.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from grader.markers import MARKER_RE

KIT = Path(__file__).resolve().parents[2]


class EditError(RuntimeError):
    """An edit no longer applies to the reference: update the variant."""


@dataclass
class Edit:
    file: str
    old: str
    new: str
    block: bool = False    # replace the body of the solution block whose first code line contains `old`
    nth: int | None = None  # which of several such blocks (None: there must be exactly one)

    def apply(self, source: str, variant: str) -> str:
        if self.block:
            return replace_block(source, self.old, self.new, f"{variant}: {self.file}", self.nth)
        count = source.count(self.old)
        if count != 1:
            raise EditError(f"{variant}: {self.file}: expected the text once, found it {count} times: {self.old!r}")
        return source.replace(self.old, self.new)


def replace_block(source: str, anchor: str, body: str, where: str, nth: int | None = None) -> str:
    """Swap the code between BEGIN/END SOLUTION of the block whose first line contains `anchor`."""
    lines = source.splitlines(keepends=True)
    starts = [i for i, l in enumerate(lines) if MARKER_RE.match(l) and "BEGIN" in l
              and i + 1 < len(lines) and anchor in lines[i + 1]]
    if (nth is None and len(starts) != 1) or (nth is not None and nth >= len(starts)):
        raise EditError(f"{where}: expected {'one' if nth is None else nth + 1} solution block(s) starting "
                        f"with {anchor!r}, found {len(starts)}")
    begin = starts[nth or 0]
    end = next(i for i in range(begin + 1, len(lines)) if MARKER_RE.match(lines[i]))
    indent = MARKER_RE.match(lines[begin]).group(1)
    new = textwrap.indent(textwrap.dedent(body).strip("\n") + "\n", indent)
    return "".join(lines[:begin + 1]) + new + "".join(lines[end:])


@dataclass
class Variant:
    name: str
    kind: str                  # 'chaff' or 'wheat'
    item: str                  # rubric section a chaff must cost ('' for wheats)
    edits: list[Edit] = field(default_factory=list)
    artifact_edit: tuple[str, str, str] | None = None   # (path, old, new) in the Testing artifacts
    # sections besides `item` a chaff may also cost, when its one edit really breaks two behaviours
    # (each use says why); every other section must keep full marks: one mistake, one deduction
    also: tuple[str, ...] = ()
    courses: tuple[str, ...] = ()          # only these courses grade it (a choice one course's handout allows)

    @property
    def changed(self) -> list[str]:
        files = sorted({e.file for e in self.edits})
        return files + (["<artifacts>"] if self.artifact_edit else [])

    def write_artifacts(self, reference: Path, dest: Path) -> Path:
        """A copy of the Testing artifacts with this variant's change (if any)."""
        import re
        import shutil
        if not self.artifact_edit:
            return reference
        shutil.copytree(reference, dest, dirs_exist_ok=True)
        path, pattern, new = self.artifact_edit            # a regular expression that must match once
        text, count = re.subn(pattern, new, (dest / path).read_text(), flags=re.M)
        if count != 1:
            raise EditError(f"{self.name}: {path}: expected the pattern once: {pattern!r}")
        (dest / path).write_text(text)
        return dest

    def write(self, dest: Path) -> dict[str, Path]:
        dest.mkdir(parents=True, exist_ok=True)
        out = {}
        for name in sorted({e.file for e in self.edits}):
            source = (KIT / name).read_text()
            for edit in (e for e in self.edits if e.file == name):
                source = edit.apply(source, self.name)
            (dest / name).write_text(source)
            out[name] = dest / name
        return out


def chaff(name: str, item: str, file: str, old: str, new: str, also: tuple[str, ...] = ()) -> Variant:
    return Variant(name, "chaff", item, [Edit(file, old, new)], also=also)


def load_variants() -> list[Variant]:
    from variants.corpus import CHAFFS, WHEATS
    return CHAFFS + WHEATS
