"""The Testing section verifies the training (grader/training_check.py, grader/judge/trusted.py).

The fixture is the reference trained briefly (DCGAN on shapes32, CycleGAN at 32 px on seasons) with
honest claims written by `--train false`, scored with seeded random Inception weights: the checks
do not depend on which fixed network scores the samples."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from grader.judge.trusted import CycleGANGenerator, DCGANGenerator, judge_tools
from grader.training_check import (CHECKPOINTS, Claim, CheckpointError, CannotCheck, check_beats_untrained,
                                   check_claim, claim_problem, load_into, local_tools, map_state, parse_claims)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def results(testing_env, tmp_path) -> Path:
    """A private copy of the fixture's submitted results (scores file and generators)."""
    dest = tmp_path / "submission"
    shutil.copytree(testing_env.results, dest)
    return dest


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("testing-cache")


@pytest.fixture
def tools(testing_env, shared_cache):
    """The judge's tools, one grading seed for the module: an unchanged model is scored once."""
    found = judge_tools(seed=11)
    found.cache = shared_cache
    return found


def claims(folder: Path) -> dict[str, Claim]:
    return parse_claims((folder / "inception_score.txt").read_text())[0]


def edit_line(folder: Path, model: str, new_line: str) -> None:
    path = folder / "inception_score.txt"
    text, count = re.subn(rf"(?m)^{re.escape(model)}: .*$", new_line, path.read_text())
    assert count == 1
    path.write_text(text)


def honest_claim_of(folder: Path, testing_env, gan_type: str) -> str:
    """What `python dcgan.py --train false` writes for the checkpoint now in `folder` (the kit's code)."""
    import dataloader
    import dcgan
    saved = dataloader.DATA_ROOT
    dataloader.DATA_ROOT = testing_env.data
    try:
        solver = dcgan.DCGAN_Solver(gan_type, num_workers=0, device="cpu", dataset="shapes32",
                                    results_dir=folder / "results")
        out = folder / "claims.txt"
        solver.test(num_samples=20, weights=str(testing_env.weights), scores_file=out)
    finally:
        dataloader.DATA_ROOT = saved
    return out.read_text().strip().splitlines()[-1]


def untrained_checkpoint(path: Path, seed: int = 7) -> None:
    """A freshly initialised generator of the reference, saved as the solver saves it."""
    import dcgan
    torch.manual_seed(seed)
    torch.save(dcgan.DCGAN_Generator().state_dict(), path)


# ----------------------------------------------------------------------------- the Must-show cases
def test_briefly_trained_generators_and_their_honest_claims_pass(results, tools):
    for model, claim in claims(results).items():
        verdict = check_claim(tools, claim, results)
        assert verdict.ok, verdict.message
        beats = check_beats_untrained(tools, claim, results)
        assert beats.ok, beats.message
    assert set(claims(results)) == set(CHECKPOINTS)


def test_inflated_claim_loses_the_claim_item_with_the_numbers(results, tools):
    honest = claims(results)["dcgan-gan"]
    inflated = honest.line.replace(f"IS = {honest.score:.4f}", f"IS = {honest.score * 1.5:.4f}")
    edit_line(results, "dcgan-gan", inflated)
    claim = claims(results)["dcgan-gan"]
    verdict = check_claim(tools, claim, results)
    assert not verdict.ok
    figures = verdict.figures
    assert abs(figures["recomputed"] - honest.score) <= figures["tolerance"] < abs(figures["recomputed"] - claim.score)
    for number in (f"{claim.score:.4f}", f"{figures['recomputed']:.4f}", f"+-{figures['tolerance']:.4f}"):
        assert number in verdict.message
    assert check_beats_untrained(tools, claim, results).ok      # the generator itself is still trained


def test_untrained_generator_with_its_own_honest_claim_loses_only_the_trained_item(results, tools, testing_env):
    untrained_checkpoint(results / CHECKPOINTS["dcgan-wgan"][0])
    edit_line(results, "dcgan-wgan", honest_claim_of(results, testing_env, "wgan"))
    claim = claims(results)["dcgan-wgan"]
    assert check_claim(tools, claim, results).ok, "an honest claim of an untrained generator matches it"
    beats = check_beats_untrained(tools, claim, results)
    assert not beats.ok and "does not beat an untrained one" in beats.message


def test_never_trained_generator_with_calibrated_batchnorm_loses_the_trained_item(results, tools, testing_env):
    """Untrained weights whose BatchNorm statistics one train-mode pass set (IS well above a grey
    image's): the colour check against the data still tells it from a trained generator."""
    import dcgan
    from grader.training_check import calibrated
    for seed in (3, 4):
        torch.manual_seed(seed)
        net = calibrated(dcgan.DCGAN_Generator(), torch.randn(64, 256))
        torch.save(net.state_dict(), results / CHECKPOINTS["dcgan-lsgan"][0])
        edit_line(results, "dcgan-lsgan", honest_claim_of(results, testing_env, "lsgan"))
        claim = claims(results)["dcgan-lsgan"]
        beats = check_beats_untrained(tools, claim, results)
        assert not beats.ok and "colours and contrast" in beats.message, beats.message
        assert beats.figures["colour"]["trained"] > beats.figures["colour"]["untrained"] * 0.8


def constant_checkpoint(path: Path) -> None:
    """A generator whose every sample is the same grey image: IS exactly 1 under any classifier."""
    import dcgan
    state = dcgan.DCGAN_Generator().state_dict()
    torch.save({k: torch.zeros_like(v) if v.is_floating_point() and k.endswith("weight") else v
                for k, v in state.items()}, path)


def test_claim_copied_from_another_type_does_not_match(results, tools):
    # lsgan collapsed to one image (IS 1: the fixture's claims are of generators trained for seconds,
    # whose IS lies within a few % of an untrained one's, too close to tell apart at 20 samples)...
    constant_checkpoint(results / CHECKPOINTS["dcgan-lsgan"][0])
    gan = claims(results)["dcgan-gan"]
    edit_line(results, "dcgan-lsgan", gan.line.replace("dcgan-gan:", "dcgan-lsgan:"))   # ...its line is gan's
    verdict = check_claim(tools, claims(results)["dcgan-lsgan"], results)
    assert not verdict.ok and "does not match the submitted generator" in verdict.message


def test_checkpoint_of_the_wrong_architecture_loses_its_items(results, tools):
    from grader.training_check import read_state_dict
    wide = torch.nn.Sequential(torch.nn.ConvTranspose2d(256, 512, 4, 1, 0, bias=False), torch.nn.BatchNorm2d(512))
    torch.save(wide.state_dict(), results / CHECKPOINTS["dcgan-wgan-gp"][0])
    claim = claims(results)["dcgan-wgan-gp"]
    for check in (check_claim, check_beats_untrained):
        with pytest.raises(CheckpointError, match=r"no layer for the table's conv weight \[256, 256, 4, 4\]"):
            check(tools, claim, results)
    # a generator with an extra layer is not the table's either
    state = read_state_dict(results / CHECKPOINTS["dcgan-gan"][0])
    state["extra.weight"] = torch.zeros(3, 3, 1, 1)
    torch.save(state, results / CHECKPOINTS["dcgan-gan"][0])
    with pytest.raises(CheckpointError, match="layers the table does not have"):
        check_claim(tools, claims(results)["dcgan-gan"], results)


def test_pickled_object_checkpoint_is_refused_without_running_it(results, tools, tmp_path):
    marker = tmp_path / "ran"
    torch.save({"net": Evil(str(marker))}, results / CHECKPOINTS["dcgan-lsgan"][0])
    with pytest.raises(CheckpointError, match="weights_only=True"):
        check_claim(tools, claims(results)["dcgan-lsgan"], results)
    assert not marker.exists()
    torch.save(DCGANGenerator(), results / CHECKPOINTS["dcgan-wgan"][0])         # a whole pickled module
    with pytest.raises(CheckpointError, match="weights_only=True"):
        check_claim(tools, claims(results)["dcgan-wgan"], results)


class Evil:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_missing_and_malformed_claims_are_the_students_and_say_so():
    parsed, bad = parse_claims("dcgan-gan: IS = 0.5 +- 0.1 (N=1000, splits=10, seed=0, dataset=shapes32)\n"
                               "dcgan-wgan: IS = 5 +- 0.1 (N=50000, splits=10, seed=0, dataset=shapes32)\n"
                               "cyclegan: IS = 3.2 +- 0.1 (N=309, splits=10, dataset=horses, size=256)\nwgan 5.1\n")
    assert bad == ["wgan 5.1"]
    assert "lies in [1, 1008]" in claim_problem(parsed["dcgan-gan"])
    assert "--num_samples <= 10000" in claim_problem(parsed["dcgan-wgan"])
    assert "not one of summer2winter, seasons" in claim_problem(parsed["cyclegan"])
    old_format, _ = parse_claims("dcgan-gan: IS = 5.8123 +- 0.0712 (N=5000)")
    assert old_format["dcgan-gan"].dataset == "cifar10" and old_format["dcgan-gan"].split_size == 500


def test_claims_that_ask_more_than_the_homework_cost_the_claim_not_a_grader_error(results, tools):
    """Image sizes past the handout's 256 px and N past the test split are the student's choice: the
    claim's items are lost with the reason, the judge never translates more than the homework does."""
    cyclegan = claims(results)["cyclegan"]
    big = parse_claims(cyclegan.line.replace(")", ", size=512)") if "size=" not in cyclegan.line
                       else re.sub(r"size=\d+", "size=512", cyclegan.line))[0]["cyclegan"]
    assert "outside 16..256" in claim_problem(big)
    too_many = re.sub(r"N=\d+", "N=500", cyclegan.line)
    edit_line(results, "cyclegan", too_many)
    claim = claims(results)["cyclegan"]
    for check in (check_claim, check_beats_untrained):
        verdict = check(tools, claim, results)
        assert not verdict.ok and "N=500" in verdict.message and "testA holds" in verdict.message, verdict.message


def test_missing_inception_weights_cannot_check_rather_than_grade(results, monkeypatch):
    fresh = judge_tools(seed=17)
    monkeypatch.setenv("GAN_KIT_INCEPTION_WEIGHTS", str(results / "nope.pth"))
    monkeypatch.setenv("GAN_KIT_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(results / "empty-hub"))
    with pytest.raises(CannotCheck, match="Inception weights"):
        check_claim(fresh, claims(results)["dcgan-gan"], results)


# ----------------------------------------------------------------------------- behaviour, not style
class AttributeGenerator(torch.nn.Module):
    """Table 1 written with attributes, other names, batch norms registered first."""

    def __init__(self):
        super().__init__()
        self.norm_c, self.norm_b, self.norm_a = (torch.nn.BatchNorm2d(c) for c in (64, 128, 256))
        self.up_d = torch.nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False)
        self.up_a = torch.nn.ConvTranspose2d(256, 256, 4, 1, 0, bias=False)
        self.up_b = torch.nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False)
        self.up_c = torch.nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False)

    def forward(self, z):
        x = z.view(-1, 256, 1, 1)
        for conv, norm in ((self.up_a, self.norm_a), (self.up_b, self.norm_b), (self.up_c, self.norm_c)):
            x = torch.relu(norm(conv(x)))
        return torch.tanh(self.up_d(x))


def test_any_layout_loads_into_the_trusted_table_and_samples_the_same(tmp_path):
    torch.manual_seed(3)
    theirs = AttributeGenerator()
    for m in theirs.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
            m.weight.data.normal_()
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in theirs.state_dict().items()},
               tmp_path / "G.pth")
    ours = load_into(DCGANGenerator(), tmp_path / "G.pth")
    z = torch.randn(5, 256)
    theirs.load_state_dict({k: v.float() for k, v in torch.load(tmp_path / "G.pth").items()})
    torch.testing.assert_close(ours(z), theirs.eval()(z), rtol=0, atol=1e-6)


def test_trusted_generators_match_the_reference_tables():
    import cyclegan
    import dcgan
    for ours, ref, x in ((DCGANGenerator(), dcgan.DCGAN_Generator(), torch.randn(2, 256)),
                         (CycleGANGenerator(), cyclegan.CycleGAN_Generator(), torch.randn(1, 3, 32, 32))):
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
        ours.load_state_dict(map_state(ref.state_dict(), ours))
        torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=0, atol=1e-6)


def test_the_students_own_run_agrees_with_the_judge_on_the_reference(results, tools):
    local = local_tools(REPO, seed=tools.seed)
    local.data_root = tools.data_root
    claim = claims(results)["dcgan-gan"]
    a, b = check_claim(tools, claim, results), check_claim(local, claim, results)
    assert a.ok and b.ok
    # the judge runs Inception channels_last (float sums in another order): ~1e-7 apart, not bit-equal
    assert a.figures["recomputed"] == pytest.approx(b.figures["recomputed"], rel=1e-5)
