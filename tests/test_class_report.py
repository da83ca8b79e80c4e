"""The class report (grader/report.py): plots that show the class's counts, the items lost with their
feedback, grader errors, and the pairs to review (a shared checkpoint, copied code), never honest pairs."""
from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

from PIL import Image

from grader.batch import handout_code, write_similar
from grader.report import copied_code, write_class_report
from grader.rubric import SECTIONS, TOTAL

TEMPLATES = [
    "{a} = torch.{f}({b}, dim={n})", "{a} = self.{g}({b}) + {n}.{m}", "for {a} in range({n}):",
    "    {a}.append({b}[{n}:{m}])", "if {a} > {n}.{m}:", "    return {a} * {b} - {n}",
    "{a}, {b} = {b}.{g}(), {a}.view(-1, {n})", "{a} = F.{f}({b}, {n}, stride={m})",
    "with torch.no_grad():", "    {a}.{g}_({b}, alpha={n}.{m})", "{a} = [{b} ** {n} for {b} in {a}]",
    "{a} = nn.{G}({n}, {m}, kernel_size={n})", "assert {a}.shape[{n}] == {m}", "{a} += {b}.sum() / {n}",
]
NAMES = ["x", "y", "h", "out", "feat", "tmp", "z", "acc", "val", "img"]
FUNCS = ["relu", "tanh", "softmax", "mean", "cat", "stack", "sigmoid", "cumsum"]
METHODS = ["detach", "clone", "flatten", "mul", "add", "clamp", "norm", "abs"]
MODULES = ["Conv2d", "Linear", "BatchNorm2d", "ConvTranspose2d", "InstanceNorm2d"]


def written_by(rng: random.Random, lines: int) -> str:
    """Code a student wrote on their own: a random walk through common PyTorch statements."""
    out = []
    for _ in range(lines):
        out.append(rng.choice(TEMPLATES).format(a=rng.choice(NAMES), b=rng.choice(NAMES), n=rng.randrange(1, 64),
                                                m=rng.randrange(0, 10), f=rng.choice(FUNCS), g=rng.choice(METHODS),
                                                G=rng.choice(MODULES)))
    return "\n".join(out)


def filled(skeleton: dict[str, str], seed: int) -> dict[str, str]:
    """The handout with every TODO followed by the student's own (distinct) code."""
    rng = random.Random(seed)
    files = {}
    for name, text in skeleton.items():
        files[name] = re.sub(r"(?m)^(\s*)# TODO.*$", lambda m: m.group(0) + "\n" + "\n".join(
            m.group(1) + line for line in written_by(rng, 6).splitlines()), text)
    return files


def result(lost: dict[str, tuple[str, float, str]] | None = None, status: str = "ok", sha: str | None = None) -> dict:
    """A results.json: one item per section worth its points, `lost` items (name -> (section, points, feedback))."""
    tests = [{"name": f"{title}: everything", "score": float(points), "max_score": float(points), "tags": [key],
              "output": ""} for key, (title, points) in SECTIONS.items()]
    for name, (key, points, feedback) in (lost or {}).items():
        full = next(t for t in tests if t["tags"] == [key])
        full["max_score"] -= points
        full["score"] -= points
        tests.append({"name": name, "score": 0.0, "max_score": points, "tags": [key], "output": feedback})
    res = {"status": status, "tests": tests if status == "ok" else [], "judge_seconds": 20.0}
    if status == "error":
        res["instructor_errors"] = ["the judge failed (killed after its time limit): the machine ran out of memory"]
    if sha:
        res["checkpoints"] = {"results/cyclegan/checkpoints/G_A2B_final.pth": {"sha256": sha}}
    return res


def test_report_on_a_class_of_twelve(tmp_path: Path):
    skeleton = handout_code()
    out = tmp_path / "grades"
    ids = [f"student{k:02d}" for k in range(12)]
    code = {sub_id: filled(skeleton, seed=k) for k, sub_id in enumerate(ids)}
    # student07 copied student03's work and renamed the variables
    code["student07"] = {name: re.sub(r"\b(acc|feat)\b", lambda m: m.group(1) + "_mine", text)
                         for name, text in code["student03"].items()}
    lost_a = {"1.2 DCGAN training: lossD of LSGAN": ("dcgan_training", 2.0, "for 'lsgan': expected 0.5123, got 1.0246")}
    lost_b = {"3.1 Inception Score: softmax over classes": ("inception_score", 1.0, "a softmax over dim 1, not the batch"),
              "1.2 DCGAN training: lossD of LSGAN": ("dcgan_training", 2.0, "for 'lsgan': expected 0.4, got 0.8")}
    results = {sub_id: result(sha=f"{k:064x}") for k, sub_id in enumerate(ids)}
    results["student04"] = result(lost_a, sha="ab" * 32)
    results["student09"] = result(lost_b, sha="ab" * 32)         # the same generator as student04
    results["student11"] = result(status="error")
    for sub_id, res in results.items():
        (out / sub_id).mkdir(parents=True)
        (out / sub_id / "results.json").write_text(json.dumps(res))

    code_pairs = copied_code(code, skeleton)
    page = write_class_report(out, ids, write_similar(out, ids, code_pairs)).read_text()

    with open(out / "similar.csv") as f:
        pairs = {(row["submission_a"], row["submission_b"], row["file"].startswith("own code")) for row in csv.DictReader(f)}
    assert pairs == {("student04", "student09", False), ("student03", "student07", True)}

    counts = json.loads(Image.open(out / "class_report" / "sections.png").text["counts"])
    assert counts["total"] == {f"{TOTAL - 3:g}": 1, f"{TOTAL - 2:g}": 1, f"{TOTAL:g}": 9}
    assert counts["dcgan_training"] == {"18": 2, "20": 9}
    assert counts["inception_score"] == {"9": 1, "10": 10}
    lost = json.loads(Image.open(out / "class_report" / "lost_items.png").text["counts"])
    assert lost == {"1.2 DCGAN training: lossD of LSGAN": 2, "3.1 Inception Score: softmax over classes": 1}

    assert "expected 0.5123, got 1.0246" in page or "expected 0.4, got 0.8" in page     # one example of the feedback
    assert "a softmax over dim 1, not the batch" in page
    assert "student11" in page and "ran out of memory" in page                         # the grader error
    assert "<td>student04</td><td>student09</td>" in page and "<td>student03</td><td>student07</td>" in page
    assert "11 graded, 1 grader errors" in page
    assert 'src="data:image/png;base64,' in page                                        # self-contained


def test_untouched_skeletons_and_the_reference_twice_are_not_copied_code():
    """Two empty skeletons share everything but wrote nothing; a pair is about what the students wrote."""
    skeleton = handout_code()
    code = {"empty1": dict(skeleton), "empty2": dict(skeleton), "own": filled(skeleton, seed=1),
            "other": filled(skeleton, seed=2)}
    assert copied_code(code, skeleton) == []
