"""Every submission its own grade: intake that clutter cannot derail, ids tied to the submission,
resume tied to its files, and comparisons that cannot pass vacuously (the trusted side of batch
grading, without a sandbox)."""
import os
import resource
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.arch import genuine
from grader.batch import (Intake, already_graded, checkpoint_prints, copied_checkpoints, find_submissions, intake,
                          kit_intake, stage, write_atomic)
from grader.conftest import clean
from grader.probe import number
from grader.roles import CHECKPOINT_FILES, MAX_FILE_BYTES, SUBMITTED

REPO = Path(__file__).resolve().parents[1]


def honest(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in SUBMITTED:
        shutil.copy2(REPO / name, dest / name)
    return dest


def deep_folder(base: Path, depth: int) -> None:
    """A chain of `depth` nested folders, made relative to each parent (no path too long to open)."""
    fd = os.open(base, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("answer.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("x = 1\n")
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    subprocess.run(["rm", "-rf", str(path)], check=True)     # shutil.rmtree recurses: not 1,100 levels


def test_a_folder_1100_deep_beside_the_code_is_not_walked(tmp_path):
    sub = honest(tmp_path / "deep")
    try:
        deep_folder(sub, 1100)
        taken = intake(sub)
    finally:
        remove(sub)
    assert taken.error is None and set(taken.sources) == set(SUBMITTED), taken


def test_manifest_files_are_found_among_10000_others_and_leftovers_ignored(tmp_path):
    sub = honest(tmp_path / "cluttered")
    (sub / "data" / "train").mkdir(parents=True)
    for i in range(10_000):
        (sub / "data" / "train" / f"{i:05d}.png").write_bytes(b"png")
    checkpoints = sub / "results" / "dcgan" / "gan" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for epoch in range(6):       # training leftovers, not in the manifest: 6 x 35 MB would pass 200 MB
        with open(checkpoints / f"G_epoch{epoch}.pth", "wb") as f:
            f.truncate(35 << 20)
    (checkpoints / "G_final.pth").write_bytes(b"weights")
    taken = intake(sub)
    assert taken.error is None and not taken.notes, taken.notes
    assert set(taken.sources) == set(SUBMITTED) | {"results/dcgan/gan/checkpoints/G_final.pth"}


def test_a_zip_with_one_top_folder_and_an_oversized_manifest_file(tmp_path):
    sub = honest(tmp_path / "hw3-20201234")
    big = sub / CHECKPOINT_FILES[0]
    big.parent.mkdir(parents=True)
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    archive = shutil.make_archive(str(tmp_path / "upload"), "zip", tmp_path, "hw3-20201234")
    taken = intake(Path(archive))
    assert set(taken.sources) == set(SUBMITTED)
    assert any(CHECKPOINT_FILES[0] in note and "limit" in note for note in taken.notes), taken.notes
    staged = stage(taken, tmp_path / "staged")
    assert (staged / "dcgan.py").read_bytes() == (REPO / "dcgan.py").read_bytes()


def test_an_unreadable_zip_is_its_own_error(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not a zip")
    taken = intake(tmp_path / "broken.zip")
    assert taken.error and "could not read" in taken.error


def test_intake_keeps_no_bytes_so_a_class_of_64_fits_in_memory(tmp_path):
    """64 submissions with six ~15 MB checkpoints each (hard links: the disk holds one copy): the
    process that reads them all and stages some stays far below the class's size (~5.8 GB)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    for i, name in enumerate(CHECKPOINT_FILES):
        (shared / f"{i}.pth").write_bytes(os.urandom(15 << 20))
    for k in range(64):
        sub = honest(tmp_path / "class" / f"student{k:02d}")
        for i, name in enumerate(CHECKPOINT_FILES):
            (sub / name).parent.mkdir(parents=True, exist_ok=True)
            os.link(shared / f"{i}.pth", sub / name)
    script = (f"import resource, sys; from pathlib import Path; from grader.batch import find_submissions, intake, stage\n"
              f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
              f"subs = find_submissions(Path({str(tmp_path / 'class')!r}))\n"
              f"taken = [intake(p) for p in subs.values()]\n"
              f"assert all(len(t.sources) == {len(SUBMITTED) + len(CHECKPOINT_FILES)} for t in taken)\n"
              f"for i, t in enumerate(taken[:3]): stage(t, Path({str(tmp_path)!r}) / f'staged{{i}}')\n"
              f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-2000:]
    imported_mb, peak_mb = (int(v) for v in out.stdout.split()[-2:])
    assert peak_mb - imported_mb < 200, (f"reading a class of {64 * 6 * 15} MB of checkpoints took the process from "
                                         f"{imported_mb} MB (imports) to {peak_mb} MB")


def test_ids_are_stable_unique_and_never_a_formula(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        root.mkdir()
    names = ["alice", "bob smith", "bob_smith", "=cmd|calc", "-2+3", "@sum", "Carol"]
    for name in names:
        (first / name).mkdir()
    for name in reversed(names + ["carol", "zed"]):            # other classmates, other order
        (second / name).mkdir()
    ids1, ids2 = find_submissions(first), find_submissions(second)
    assert len(ids1) == len(names) and len(set(ids1)) == len(names)
    by_name1 = {p.name: i for i, p in ids1.items()}
    by_name2 = {p.name: i for i, p in ids2.items()}
    assert by_name1["alice"] == "alice" and by_name1["bob smith"] != by_name1["bob_smith"]
    for name in ("alice", "bob smith", "bob_smith", "=cmd|calc", "-2+3", "@sum"):
        assert by_name1[name] == by_name2[name], name          # the same submission, the same id
    assert by_name2["Carol"] != by_name2["carol"]
    assert not any(i[0] in "=+-@" for i in ids1), ids1


def test_resume_regrades_a_submission_whose_files_changed(tmp_path):
    sub = honest(tmp_path / "class" / "student")
    out = tmp_path / "grades"
    (out / "student").mkdir(parents=True)
    before = intake(sub)
    write_atomic(out / "student" / "results.json",
                 '{"status": "ok", "tests": [], "submission_digest": "%s"}' % before.digest)
    assert already_graded(out, "student", before)
    (sub / "fid.py").write_text("raise NotImplementedError\n")          # a later, different submission
    assert not already_graded(out, "student", intake(sub))
    assert not already_graded(out, "student", before, force=True)


def test_feedback_cleaner_drops_controls_bidi_and_separators():
    text = "loss\u202e evil\u2066 \x85next\x9b\u2028line\u2029 \x1b[31mred\x1b[0m\tok\nfine"
    assert clean(text) == "loss evil nextline red\tok\nfine"


@pytest.mark.parametrize("answer", [np.array([]), np.zeros((2, 2)), [], [1.0], float("nan"), "1.0", None, True])
def test_numbers_cannot_be_empty_arrays_or_anything_but_one_finite_value(answer):
    with pytest.raises(AssertionError):
        number(answer, "x")


def test_numbers_accept_plain_and_one_element_values():
    assert number(2, "x") == 2.0 and number(np.array([1.5]), "x") == 1.5 and number(np.float64(3.0), "x") == 3.0


SEED = 12345


def real_trace(net, x):
    from grader.codec import decode, encode, plain
    from grader.questions import trace
    return decode(encode(plain(trace(net.train(), x, SEED))))


def small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 6, 3, 1, 1, padding_mode="reflect"), torch.nn.ReLU(),
                               torch.nn.ConvTranspose2d(6, 5, 3, 2, 1, output_padding=1))


def test_a_real_trace_is_accepted_and_a_fabricated_one_is_not():
    from grader.arch import conv_rows
    x = torch.randn(2, 3, 8, 8)
    traced = real_trace(small_net(), x)
    assert genuine(traced, [x], SEED) is traced
    assert all(np.shape(c["weight_rows"])[0 if c["kind"] == "Conv2d" else 1] == 4 for c in traced["convs"])
    zeros = {k: [{**c, **{f: np.zeros_like(c[f]) for f in ("input", "output", "weight_rows", "weight") if f in c}}
                 for c in traced[k]] for k in ("convs", "bns")}
    with pytest.raises(AssertionError, match="input"):
        genuine({**traced, **zeros}, [x], SEED)
    zero_weights = {**traced, "convs": [{**c, "weight_rows": np.zeros_like(c["weight_rows"]),
                                         "output": np.zeros_like(c["output"])} for c in traced["convs"]]}
    with pytest.raises(AssertionError, match="weights"):
        genuine(zero_weights, [x], SEED)
    for i in range(3):                          # an output its weights do not compute, in a checked channel
        wrong = [dict(c) for c in traced["convs"]]
        rows = conv_rows(wrong[i], i, SEED)
        out = np.array(wrong[i]["output"])
        out[:, rows[0]] *= 1.01
        wrong[i]["output"] = out
        with pytest.raises(AssertionError, match=f"conv layer {i + 1}"):
            genuine({**traced, "convs": wrong}, [x], SEED)
    with pytest.raises(AssertionError, match="conv layer"):      # the channels come from the judge's seed
        genuine(traced, [x], SEED + 1)
    lying = [dict(c) for c in traced["convs"]]
    lying[1]["weight_shape"] = [6, 8, 5, 5]                       # a kernel size the weights do not have
    with pytest.raises(AssertionError, match="settings"):
        genuine({**traced, "convs": lying}, [x], SEED)
    bns = [{**traced["bns"][0], "output": traced["bns"][0]["input"]}]      # a BatchNorm that did nothing
    with pytest.raises(AssertionError, match="BatchNorm"):
        genuine({**traced, "bns": bns}, [x], SEED)
    with pytest.raises(AssertionError):
        genuine({"convs": [], "bns": []}, [x], SEED)


def test_parameter_counts_come_from_the_traced_weights():
    from grader.arch import traced_params
    x = torch.randn(2, 3, 8, 8)
    net = small_net()
    assert traced_params(real_trace(net, x)) == sum(p.numel() for p in net.parameters())


def save_state(path: Path, state: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def test_copied_checkpoints_are_flagged_and_independent_ones_are_not(tmp_path):
    from grader.judge.trusted import DCGANGenerator
    name = CHECKPOINT_FILES[0]
    torch.manual_seed(1)
    original = DCGANGenerator().state_dict()
    renamed = {f"renamed.{i}": v.half() for i, v in enumerate(original.values())}     # re-saved in fp16, other names
    torch.manual_seed(2)
    independent = DCGANGenerator().state_dict()
    out = tmp_path / "grades"
    for sub_id, state in (("a", original), ("b", original), ("c", renamed), ("d", independent)):
        staged = tmp_path / sub_id
        save_state(staged / name, state)
        (out / sub_id).mkdir(parents=True)
        write_atomic(out / sub_id / "results.json",
                     __import__("json").dumps({"status": "ok", "tests": [], "checkpoints": checkpoint_prints(staged)}))
    pairs = {(p["a"], p["b"]): p["kind"] for p in copied_checkpoints(out, ["a", "b", "c", "d"])}
    assert pairs.get(("a", "b")) == "identical file"
    assert pairs.get(("a", "c"), "").startswith("near-identical") and pairs.get(("b", "c"), "").startswith("near")
    assert not any("d" in pair for pair in pairs), pairs


def test_kit_intake_stages_the_reference(tmp_path):
    staged = stage(kit_intake({name: REPO / name for name in SUBMITTED}), tmp_path / "ref")
    assert sorted(p.name for p in staged.iterdir()) == sorted(set(SUBMITTED) | {"inception.py"})
    assert isinstance(Intake(), Intake)
