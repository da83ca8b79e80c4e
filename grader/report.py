"""The class report written beside grades.csv after every batch (an instructor's tool, never a grade).

  class_report.html         one self-contained page: the score distribution of every rubric section, the
                            items the class lost most often (how many lost each, and one example of the
                            feedback students read), grader errors, timing, and pairs to review
  class_report/*.png        its plots (matplotlib), also embedded in the page; each PNG carries the counts
                            it draws in its metadata ("counts"), so that a test can read them back
  similar.csv               pairs of submissions to review: shared checkpoints (batch.copied_checkpoints)
                            and near-identical code in what the students wrote (`copied_code`)

Near-identical code: each submission's own code is what its files add to the handout skeleton (the
TODO regions and any other edit), tokenised with every name that is not a keyword or an attribute
replaced by one placeholder (renaming variables changes nothing), cut into 8-token shingles; two
submissions whose shingle sets overlap by CODE_SIMILARITY (Jaccard) or more, with at least
CODE_MIN_TOKENS tokens of their own each, are listed.
"""
from __future__ import annotations

import base64
import difflib
import html
import io
import json
import keyword
import re
from collections import Counter
from pathlib import Path

from grader.rubric import SECTIONS, TOTAL

CODE_SIMILARITY = 0.8       # Jaccard overlap of 8-token shingles: a pair above it is listed
CODE_MIN_TOKENS = 150       # too little own code (an untouched skeleton) is never a pair
SHINGLE = 8
TOKEN_RE = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d*)?(?:e-?\d+)?|\S")


# ----------------------------------------------------------------------------- copied code
def own_code(submitted: str, skeleton: str) -> list[str]:
    """The lines a student's file adds to (or changes in) the handout's version, comments and blank lines dropped."""
    theirs, given = submitted.splitlines(), skeleton.splitlines()
    added = []
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, given, theirs, autojunk=False).get_opcodes():
        if op in ("replace", "insert"):
            added += theirs[j1:j2]
    return [code for line in added if (code := line.split("#", 1)[0].strip())]


def tokens(lines: list[str]) -> list[str]:
    """Tokens with every local name as 'N' (keywords and attribute names after '.' kept)."""
    out: list[str] = []
    for line in lines:
        for tok in TOKEN_RE.findall(line):
            is_name = tok[0].isalpha() or tok[0] == "_"
            out.append("N" if is_name and not keyword.iskeyword(tok) and (not out or out[-1] != ".") else tok)
    return out


def shingles(toks: list[str]) -> set[int]:
    return {hash(tuple(toks[i:i + SHINGLE])) for i in range(max(0, len(toks) - SHINGLE + 1))}


def copied_code(code: dict[str, dict[str, str]], skeleton: dict[str, str]) -> list[dict]:
    """code: submission id -> {file name: source}; skeleton: file name -> the handout's version.
    Pairs whose own code is near-identical (see the module docstring), most similar first."""
    prints = {}
    for sub_id, files in code.items():
        toks = tokens([line for name in sorted(files) if name in skeleton
                       for line in own_code(files[name], skeleton[name])])
        if len(toks) >= CODE_MIN_TOKENS:
            prints[sub_id] = shingles(toks)
    ids, found = sorted(prints), []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            union = len(prints[a] | prints[b])
            overlap = len(prints[a] & prints[b]) / union if union else 0.0
            if overlap >= CODE_SIMILARITY:
                found.append({"a": a, "b": b, "file": "own code (all files)",
                              "kind": f"near-identical code ({overlap:.2f} of 8-token shingles shared)",
                              "similarity": overlap})
    return sorted(found, key=lambda p: -p["similarity"])


# ----------------------------------------------------------------------------- the report
def lost_items(rows: dict[str, dict]) -> list[dict]:
    """Items lost by at least one graded submission: how many lost it and one example of its feedback."""
    lost: dict[str, dict] = {}
    for sub_id, res in rows.items():
        for test in res.get("tests", []):
            if float(test.get("score", 0)) < float(test.get("max_score", 0)) - 1e-9:
                entry = lost.setdefault(test.get("name", "?"), {"name": test.get("name", "?"), "count": 0,
                                                                 "points": float(test.get("max_score", 0)),
                                                                 "example": test.get("output", ""), "who": sub_id})
                entry["count"] += 1
    return sorted(lost.values(), key=lambda e: (-e["count"], e["name"]))


def _png(fig, path: Path, counts: dict) -> bytes:
    """Save a figure with the counts it draws in its PNG metadata; the PNG's bytes."""
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, metadata={"counts": json.dumps(counts)})
    plt.close(fig)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def plot_sections(scores: dict[str, list[float]], folder: Path) -> dict[str, bytes]:
    """One histogram per rubric section (score -> number of submissions) and one of the totals."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    folder.mkdir(parents=True, exist_ok=True)
    pngs = {}
    columns = [*SECTIONS, "total"]
    width = (len(columns) + 1) // 2
    fig, axes = plt.subplots(2, width, figsize=(2.8 * width, 4.8), squeeze=False)
    counts = {}
    for ax in axes.flat[len(columns):]:
        ax.axis("off")
    for ax, key in zip(axes.flat, columns):
        title, points = SECTIONS[key] if key in SECTIONS else ("Total", TOTAL)
        values = Counter(round(v, 2) for v in scores[key])
        counts[key] = {f"{v:g}": n for v, n in sorted(values.items())}
        ax.bar([float(v) for v in values], list(values.values()), width=max(points / 25, 0.4), color="#4c72b0")
        ax.set_xlim(-0.5, points + 0.5)
        ax.set_title(title[:28], fontsize=8)
        ax.set_xlabel(f"points (of {points:g})", fontsize=7)
        ax.tick_params(labelsize=7)
    for row in axes:
        row[0].set_ylabel("submissions", fontsize=7)
    fig.tight_layout()
    pngs["sections"] = _png(fig, folder / "sections.png", counts)
    return pngs


def plot_lost(items: list[dict], folder: Path, top: int = 12) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = items[:top]
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(shown), 1) + 0.8))
    ax.barh([e["name"][:70] for e in shown][::-1], [e["count"] for e in shown][::-1], color="#c44e52")
    ax.set_xlabel("submissions that lost the item", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig, folder / "lost_items.png", {e["name"]: e["count"] for e in shown})


def write_class_report(out: Path, ids: list[str], pairs: list[dict]) -> Path:
    """class_report.html and class_report/*.png from the results.json of `ids` under `out`."""
    from grader.batch import read_results, section_scores
    results = {i: r for i in ids if (r := read_results(out / i / "results.json"))}
    graded = {i: r for i, r in results.items() if r.get("status") != "error"}
    errors = {i: r for i, r in results.items() if r.get("status") == "error"}
    scores = {key: [section_scores(r)[key] for r in graded.values()] for key in SECTIONS}
    scores["total"] = [sum(section_scores(r).values()) for r in graded.values()]
    folder = out / "class_report"
    pngs = plot_sections(scores, folder)
    items = lost_items(graded)
    pngs["lost"] = plot_lost(items, folder)
    seconds = sorted(float(r["judge_seconds"]) for r in results.values() if "judge_seconds" in r)

    def image(data: bytes, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'

    esc = html.escape
    rows = "".join(f"<tr><td>{esc(SECTIONS[k][0])}</td><td>{sum(v) / len(v):.2f} / {SECTIONS[k][1]:g}</td>"
                   f"<td>{sum(x >= SECTIONS[k][1] - 1e-9 for x in v)}</td></tr>" for k, v in scores.items()
                   if k in SECTIONS and v)
    lost = "".join(f"<tr><td>{esc(e['name'])}</td><td>{e['count']}</td><td>{e['points']:g}</td>"
                   f"<td><pre>{esc(e['example'][:600])}</pre><small>({esc(e['who'])})</small></td></tr>" for e in items)
    errs = "".join(f"<tr><td>{esc(i)}</td><td>{esc(((r.get('instructor_errors') or r.get('grader_errors') or ['?'])[0])[:400])}"
                   f"</td></tr>" for i, r in errors.items())
    review = "".join(f"<tr><td>{esc(p['a'])}</td><td>{esc(p['b'])}</td><td>{esc(p['file'])}</td><td>{esc(p['kind'])}</td></tr>"
                     for p in pairs)
    timing = (f"{len(seconds)} submissions judged: median {seconds[len(seconds) // 2]:.0f} s, longest {seconds[-1]:.0f} s, "
              f"{sum(seconds) / 60:.1f} judge-minutes in all" if seconds else "no timing recorded")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Class report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}}pre{{white-space:pre-wrap;margin:0}}</style>
</head><body><h1>Class report</h1>
<p>{len(results)} submissions: {len(graded)} graded, {len(errors)} grader errors (not grades: fix the cause and run
again, they are re-graded). Mean total {sum(scores['total']) / max(len(graded), 1):.2f} / {TOTAL:g}. {esc(timing)}.</p>
<h2>Scores per rubric section</h2>{image(pngs['sections'], 'score distribution per section')}
<table><tr><th>section</th><th>mean</th><th>full marks</th></tr>{rows}</table>
<h2>Items most often lost</h2>{image(pngs['lost'], 'items most often lost')}
<table><tr><th>item</th><th>lost by</th><th>points</th><th>one example of the feedback</th></tr>{lost}</table>
<h2>Grader errors</h2><table><tr><th>submission</th><th>cause</th></tr>{errs or '<tr><td colspan=2>none</td></tr>'}</table>
<h2>Pairs to review (not a grade)</h2>
<p>Shared or near-identical checkpoints, and near-identical code in what the students wrote (names ignored).</p>
<table><tr><th>submission</th><th>submission</th><th>what</th><th>how similar</th></tr>{review or '<tr><td colspan=4>none</td></tr>'}</table>
</body></html>
"""
    (out / "class_report.html").write_text(page)
    return out / "class_report.html"
