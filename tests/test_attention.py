"""EE898 PA2 profile: the self-attention reference, `cyclegan.py --attention`, the FID table and the
attention maps, and the EE898 handout graded by its own rubric (60 points)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import attention
import cyclegan
from grader.run import run_grader
from helpers import REPO, run_cli


def sagan_block_parameters(c: int) -> int:
    """query and key C -> C/8 with biases, value C -> C with bias, gamma (Zhang et al., 2019)."""
    return 2 * (c * (c // 8) + c // 8) + c * c + c + 1


def test_parameter_counts_of_the_handout_table():
    assert sum(p.numel() for p in attention.SelfAttention(256).parameters()) == sagan_block_parameters(256) == 82_241
    for net, base in ((attention.AttentionGenerator(), cyclegan.CycleGAN_Generator()),
                      (attention.AttentionDiscriminator(), cyclegan.CycleGAN_Discriminator())):
        assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in base.parameters()) + 82_241


def test_block_is_the_identity_at_start_and_attends_by_a_softmax_over_positions():
    torch.manual_seed(0)
    block, x = attention.SelfAttention(16), torch.randn(2, 16, 3, 5)
    assert torch.equal(block(x), x)                       # gamma = 0
    with torch.no_grad():
        block.gamma.fill_(0.5)
    y, att = block(x), block.attention_map
    assert att.shape == (2, 15, 15) and torch.allclose(att.sum(-1), torch.ones(2, 15))
    # o_j = sum_i att[j, i] h_i, computed here position by position from the value projection
    h = block.value(x).flatten(2)
    o = torch.stack([sum(att[:, j, i, None] * h[:, :, i] for i in range(15)) for j in range(15)], dim=-1)
    assert torch.allclose(y, x + 0.5 * o.view_as(x), atol=1e-5)


def test_attention_maps_png_has_a_row_per_image_and_a_column_per_query(tmp_path):
    torch.manual_seed(0)
    net = attention.AttentionGenerator()
    path = attention.save_attention_maps(net, torch.rand(3, 3, 32, 48) * 2 - 1, tmp_path / "maps.png")
    from PIL import Image
    columns = 1 + len(attention.QUERIES)
    assert Image.open(path).size == (2 + columns * (48 + 2), 2 + 3 * (32 + 2))


def test_query_attention_takes_rows_of_the_map():
    att = torch.arange(2 * 6 * 6, dtype=torch.float).view(2, 6, 6)     # N = 2 x 3 grid
    maps = attention.query_attention(att, 2, 3, [(1, 2), (0, 1)])
    assert maps.shape == (2, 2, 2, 3)
    assert torch.equal(maps[1, 0].flatten(), att[1, 5]) and torch.equal(maps[0, 1].flatten(), att[0, 1])


@pytest.mark.e2e       # ~1 min on one thread: two trainings, Inception features of both models both ways
def test_attention_model_trains_and_evaluation_writes_the_fid_table_of_both_models(data_root, tmp_path):
    from grader.fixture import random_inception_weights
    weights = random_inception_weights(tmp_path / "random-inception.pth")
    for flag in ("false", "true"):
        result = run_cli("cyclegan.py", "--dataset", "seasons", "--image_size", "32", "--epochs", "1",
                         "--max_steps", "2", "--attention", flag, "--results", str(tmp_path), data_root=data_root,
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "cyclegan_attention" / "checkpoints" / "run.json").read_text())["attention"] is True
    result = run_cli("cyclegan.py", "--train", "false", "--metrics", "fid", "--weights", str(weights),
                     "--results", str(tmp_path), data_root=data_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--image_size 32 --n_blocks 6 --attention true" in result.stdout      # both models evaluated
    baseline, with_attention = (json.loads((tmp_path / d / "scores.json").read_text())
                                for d in ("cyclegan", "cyclegan_attention"))
    assert "inception_score" not in baseline["A2B"]                  # --metrics fid
    table = (tmp_path / "fid_table.md").read_text()
    for model in (baseline, with_attention):
        for direction in ("A2B", "B2A"):
            assert f"{model[direction]['fid']:.2f}" in table
    assert "not the official FID weights" in table
    assert (tmp_path / "cyclegan_attention" / "attention_maps_A2B.png").is_file()
    assert not (tmp_path / "cyclegan" / "attention_maps_A2B.png").exists()
    # one model named on the command line: that one only, no table
    (tmp_path / "fid_table.md").unlink()
    result = run_cli("cyclegan.py", "--train", "false", "--attention", "false", "--metrics", "none",
                     "--results", str(tmp_path), data_root=data_root, cwd=tmp_path)
    assert result.returncode == 0 and "--attention true" not in result.stdout and not (tmp_path / "fid_table.md").exists()


def test_attention_without_attention_py_names_the_ee898_handout(data_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "attention", None)           # an AI604 handout has no attention.py
    result = run_cli("cyclegan.py", "--dataset", "seasons", "--attention", "true", "--epochs", "1",
                     data_root=data_root, cwd=tmp_path)
    assert result.returncode == 2 and "attention.py" in result.stderr and "--course ee898" in result.stderr


def assign_course(course: str, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "grader", "assign", "--course", course, "--out", str(out)], cwd=REPO,
                   check=True, capture_output=True, text=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def ee898_handout(tmp_path_factory):
    return assign_course("ee898", tmp_path_factory.mktemp("ee898") / "student")


def test_ee898_handout_holds_its_course_only(ee898_handout, tmp_path):
    files = {p.name for p in ee898_handout.iterdir()}
    assert {"attention.py", "cyclegan.py", "dataloader.py", "fid.py", "util.py", "inception.py"} <= files
    assert not {"dcgan.py", "inception_score.py"} & files
    assert (ee898_handout / "grader" / "COURSE").read_text().strip() == "ee898"
    tests = {p.name for p in (ee898_handout / "grader").glob("test_*.py")}
    assert tests == {"test_cyclegan_model.py", "test_cyclegan_training.py", "test_attention_module.py",
                     "test_attention_models.py", "test_attention_maps.py", "test_fid.py"}
    readme = (ee898_handout / "README.md").read_text()
    assert "| Step 2.1 Self-attention block | 10 |" in readme and "<!--" not in readme
    assert "### Table 2: CycleGAN" in readme                     # the shared part, written once in HANDOUT.md
    assert "attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1)" not in (ee898_handout / "attention.py").read_text()
    ai604 = assign_course("ai604", tmp_path / "ai604")
    assert "attention.py" not in {p.name for p in ai604.iterdir()}
    assert not list((ai604 / "grader").glob("test_attention_*.py"))


def test_ee898_handout_grades_by_its_rubric_skeleton_0_reference_60(ee898_handout, tmp_path):
    skeleton = run_grader(ee898_handout)
    assert skeleton["score"] == 0 and set(skeleton["sections"]) >= {"attention_module", "attention_models"}
    assert not {"dcgan_model", "testing"} & {t["tags"][0] for t in skeleton["tests"]}
    import shutil
    shutil.copytree(ee898_handout, tmp_path / "done")
    for name in ("attention.py", "cyclegan.py", "dataloader.py", "fid.py"):
        shutil.copy2(REPO / name, tmp_path / "done" / name)
    done = run_grader(tmp_path / "done")
    assert done["score"] == 60, [t["name"] for t in done["tests"] if t["score"] < t["max_score"]]


@pytest.mark.e2e
@pytest.mark.timeout(1900)
def test_verify_passes_for_ee898():
    """python -m grader verify --course ee898: reference 60 twice, skeleton 0, every EE898 chaff caught in
    its own section only, every wheat full marks, batch = local."""
    proc = subprocess.run([sys.executable, "-m", "grader", "verify", "--course", "ee898"], cwd=REPO,
                          capture_output=True, text=True, timeout=1800, env={**os.environ, "GRADER_COURSE": ""})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "course EE898" in proc.stdout and "VERIFY PASSED" in proc.stdout


@pytest.mark.e2e
@pytest.mark.timeout(950)
def test_ee898_gradescope_autograder_grades_the_reference_60(tmp_path):
    import zipfile
    subprocess.run([sys.executable, "-m", "grader", "gradescope", "--course", "ee898", "--out",
                    str(tmp_path / "autograder.zip")], cwd=REPO, check=True, capture_output=True, timeout=300)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as z:
        z.extractall(root / "source")
    assert (root / "source" / "grader" / "COURSE").read_text().strip() == "ee898"
    assert (root / "source" / "attention.py").is_file() and not (root / "source" / "dcgan.py").exists()
    (root / "submission").mkdir()
    for name in ("attention.py", "cyclegan.py", "dataloader.py", "fid.py", "util.py"):
        (root / "submission" / name).write_bytes((REPO / name).read_bytes())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable, "GRADER_COURSE": ""}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=600)
    res = json.loads((root / "results" / "results.json").read_text())
    assert res["score"] == pytest.approx(60) and res["max_score"] == pytest.approx(60), res.get("instructor_errors")


@pytest.mark.e2e
@pytest.mark.timeout(950)
def test_ee898_batch_grading_canary_reference_and_skeleton(ee898_handout, tmp_path):
    subs = tmp_path / "submissions"
    for name, source in (("reference", REPO), ("skeleton", ee898_handout)):
        (subs / name).mkdir(parents=True)
        for f in ("attention.py", "cyclegan.py", "dataloader.py", "fid.py"):
            (subs / name / f).write_bytes((source / f).read_bytes())
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(subs), "--course", "ee898", "--out",
                           str(tmp_path / "grades"), "--sandbox", "basic"], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "GRADER_COURSE": ""})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "canary: the kit's reference graded 60 / 60" in proc.stdout
    rows = (tmp_path / "grades" / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("submission,cyclegan_model,cyclegan_training,attention_module")
    assert {r.split(",")[0]: r.split(",")[-2] for r in rows[1:]} == {"reference": "60.0", "skeleton": "0.0"}


@pytest.mark.e2e       # ~30 s: a grader section in a fresh interpreter
def test_attention_networks_are_probed_at_a_size_the_students_baseline_runs_at(ee898_handout, tmp_path):
    """A deeper PatchGAN (one more stride-2 conv: it cannot run at 32 px) must not hide the attention
    networks behind its crash: the attention G and D are probed at the smallest size the baseline takes."""
    import shutil
    folder = tmp_path / "deeper"
    shutil.copytree(ee898_handout, folder)
    for name in ("attention.py", "cyclegan.py", "dataloader.py", "fid.py"):
        shutil.copy2(REPO / name, folder / name)
    source = (folder / "cyclegan.py").read_text()
    deeper = source.replace(
        "            conv(ndf * 2, ndf * 4, 4, stride=2, pad=1, bias=True, norm=\"in\", activation=\"lrelu\"),\n",
        "            conv(ndf * 2, ndf * 4, 4, stride=2, pad=1, bias=True, norm=\"in\", activation=\"lrelu\"),\n"
        "            conv(ndf * 4, ndf * 4, 4, stride=2, pad=1, bias=True, norm=\"in\", activation=\"lrelu\"),\n", 1)
    assert deeper != source
    (folder / "cyclegan.py").write_text(deeper)
    graded = run_grader(folder, sections=["attention_models"])
    lost = [t["output"] for t in graded["tests"] if t["score"] < t["max_score"]]
    assert not any("Error" in text or "size" in text for text in lost), lost        # no crash of the baseline
    assert graded["sections"]["attention_models"] >= 3 and all("the 3rd and the 4th conv" in text for text in lost), lost
    # (what remains is the handout's fixed D placement, counted from its convs: issue 34's open question)
