"""The trust zones hold in the code, not only in the copy lists (grader/roles.py): what runs in the
sandbox imports nothing of the grader outside the sandbox's own files, and what students get
imports no instructor tool or judge-only module at load time (the judge's modules are imported
only inside the functions that run in judge mode, where they exist)."""
from __future__ import annotations

import ast
from pathlib import Path

from grader.roles import INSTRUCTOR_TOOLS, JUDGE_GRADER, PUBLIC_GRADER, SANDBOX_GRADER

GRADER = Path(__file__).resolve().parents[1] / "grader"


def grader_imports(path: Path, top_level_only: bool) -> set[str]:
    """The grader modules a file imports ('grader.x' -> 'x.py'; 'grader.judge...' -> 'judge/')."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "grader" and len(parts) > 1:
                found.add("judge/" if parts[1] == "judge" else parts[1] + ".py")
            elif parts[0] == "grader" and isinstance(node, ast.ImportFrom):
                found.update(a.name + ".py" for a in node.names)
    return found


def test_the_sandboxed_files_import_only_each_other():
    for name in SANDBOX_GRADER:
        outside = grader_imports(GRADER / name, top_level_only=False) - set(SANDBOX_GRADER)
        assert not outside, f"grader/{name} runs in the student's sandbox but imports {sorted(outside)}"


def test_what_students_get_never_loads_instructor_or_judge_code():
    public = [*PUBLIC_GRADER, *(p.name for p in GRADER.glob("test_*.py"))]
    forbidden = set(INSTRUCTOR_TOOLS) | set(JUDGE_GRADER) | {"judge/"}
    for name in public:
        loaded = grader_imports(GRADER / name, top_level_only=True) & forbidden
        assert not loaded, f"grader/{name} ships in the handout but imports {sorted(loaded)} when it loads"

