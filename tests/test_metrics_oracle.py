"""The kit's metrics against torch-fidelity and pytorch-fid (test-only dependencies).

No real Inception weights here: the same seeded random weights (BatchNorm statistics
calibrated on images, fc scaled so the softmax is not saturated) go into both networks.
"""
import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

import fid
import inception
import inception_score as isc
from dataloader import FolderDataset

torch_fidelity = pytest.importorskip("torch_fidelity")
from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: E402
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: E402
from torch_fidelity.metric_fid import fid_statistics_to_metric  # noqa: E402
from torch_fidelity.metric_isc import isc_features_to_metric  # noqa: E402


def random_statistics(rng, n, d):
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    b = rng.normal(loc=0.3, size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    return (*fid.feature_statistics(a), *fid.feature_statistics(b))


@pytest.mark.parametrize("n,d", [(400, 64), (40, 64)], ids=["full-rank", "N<D"])
def test_frechet_distance_matches_torch_fidelity_and_pytorch_fid(n, d):
    mu1, s1, mu2, s2 = random_statistics(np.random.default_rng(n), n, d)
    ours = fid.frechet_distance(mu1, s1, mu2, s2)
    tf = fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False)["frechet_inception_distance"]
    assert ours == pytest.approx(tf, rel=1e-6)
    assert ours == pytest.approx(calculate_frechet_distance(mu1, s1, mu2, s2), rel=1e-6)


@pytest.mark.parametrize("n,splits", [(100, 10), (37, 3), (5, 1)])
def test_inception_score_matches_torch_fidelity(n, splits):
    logits = torch.randn(n, 1008, generator=torch.Generator().manual_seed(n)) * 4
    ref = isc_features_to_metric(logits, splits=splits, shuffle=False)
    mean, std = isc.inception_score_from_probs(isc.softmax64(logits), splits)
    assert mean == pytest.approx(ref["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(ref["inception_score_std"], rel=1e-7, abs=1e-12)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """Seeded random FID-Inception weights, calibrated so activations are well scaled (logits of std 1)."""
    from grader.fixture import random_inception_weights
    return random_inception_weights(tmp_path_factory.mktemp("weights") / "random-inception.pth", logit_std=1.0)


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory, offline_root):
    """Two folders of 24 real-looking images each (shapes vs landscapes)."""
    root = tmp_path_factory.mktemp("folders")
    for name, src in (("a", offline_root / "shapes32" / "train"), ("b", offline_root / "seasons" / "trainA")):
        (root / name).mkdir()
        for i, p in enumerate(sorted(src.iterdir())[:12]):
            Image.open(p).convert("RGB").resize((32, 32)).save(root / name / f"{i:03d}.png")
    return root / "a", root / "b"


@pytest.mark.parametrize("height,width", [(40, 28), (331, 302)])     # enlarged / shrunk to 299
def test_weights_load_strictly_and_features_equal_torch_fidelity_bit_for_bit(random_weights, height, width):
    """The kit's speed-ups (chunks of a few images on a CPU, channels-last pools, the row-first resize)
    change no float operation: pool3 and logits are torch-fidelity's, bit for bit, at any batch size."""
    ours = inception.load_fid_inception(random_weights)
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                         feature_extractor_weights_path=str(random_weights))
    n = inception.cpu_chunk() + 1                                         # a full chunk and a remainder
    images = torch.randint(0, 256, (n, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))
    with torch.no_grad():
        (p_ours, l_ours), (p_theirs, l_theirs) = ours(images), theirs(images)
        single = torch.cat([ours(images[i:i + 1])[0] for i in range(n)])
    assert p_ours.shape == (n, 2048) and l_ours.shape == (n, 1008)
    assert p_ours.std() > 0.01
    for name, got, want in (("pool3", p_ours, p_theirs), ("logits", l_ours, l_theirs), ("pool3, one at a time", single, p_theirs)):
        assert torch.equal(got, want), f"{name}: max |kit - torch-fidelity| = {(got - want).abs().max().item():.3g}"


@pytest.fixture(scope="module")
def kit_fid(random_weights, image_folders) -> float:
    """The kit's FID between the two folders (uint8 and float inputs, an odd batch size), computed once."""
    a, b = image_folders
    net = inception.load_fid_inception(random_weights)
    with pytest.warns(UserWarning, match="singular"):
        return fid.fid_between(FolderDataset(a, T.PILToTensor()), FolderDataset(b), batch_size=7, net=net)


def test_is_and_fid_on_folders_match_torch_fidelity(random_weights, image_folders, kit_fid):
    a, b = image_folders
    ref = torch_fidelity.calculate_metrics(input1=str(a), input2=str(b), isc=True, fid=True, verbose=False,
                                           feature_extractor_weights_path=str(random_weights), isc_splits=3,
                                           cuda=False, save_cpu_ram=True, cache=False)
    net = inception.load_fid_inception(random_weights)
    uint8 = T.PILToTensor()
    score, std = isc.Inception_Score(FolderDataset(a, uint8), batch_size=5).compute_score(splits=3, net=net)
    assert score == pytest.approx(ref["inception_score_mean"], rel=1e-6)
    assert std == pytest.approx(ref["inception_score_std"], rel=1e-5)
    assert kit_fid == pytest.approx(ref["frechet_inception_distance"], rel=1e-6)


def test_metric_clis_on_folders(random_weights, image_folders, kit_fid):
    import subprocess
    import sys
    from pathlib import Path

    from helpers import run_cli
    repo = Path(__file__).resolve().parents[1]
    a, b = image_folders
    out = subprocess.run([sys.executable, str(repo / "fid.py"), str(a), str(b), "--weights", str(random_weights),
                          "--batch_size", "8"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().rsplit("= ", 1)[1]) == pytest.approx(kit_fid, rel=1e-6)
    out = run_cli("inception_score.py", str(a), "--splits", "2", "--weights", str(random_weights),
                  data_root=a.parent, cwd=a.parent)
    assert out.returncode == 0 and "Inception Score of" in out.stdout and "(12 images, 2 splits)" in out.stdout
    missing = run_cli("fid.py", str(a), str(b), "--weights", "/nope.pth", data_root=a.parent, cwd=a.parent)
    assert missing.returncode == 2 and missing.stderr.startswith("error: Inception weights not found")


@pytest.mark.e2e
def test_speed_benchmark_runs_and_finds_the_features_bit_equal():
    """benchmarks/bench_speed.py (figures, not a timing test): it runs, and its exactness line holds."""
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_speed.py"
    out = subprocess.run([sys.executable, str(script), "--only", "inception", "dcgan", "--rounds", "1", "--batch", "5",
                          "--iters", "1", "--threads", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "== torch-fidelity's bit for bit: True" in out.stdout
    assert "kit / pytorch-fid:" in out.stdout and "kit / examples loop:" in out.stdout
