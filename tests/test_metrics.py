"""Metric formulas against closed forms, and the pipeline's error handling."""

import numpy as np
import pytest
import torch
from scipy.stats import special_ortho_group

import fid
import inception
import inception_score as isc
from util import KitError


def test_fid_of_diagonal_gaussians_is_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_shared_rotation_leaves_fid_unchanged():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    q = special_ortho_group.rvs(5, random_state=2)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    plain = fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    rotated = fid.frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert rotated == pytest.approx(plain, rel=1e-10)


def test_non_commuting_2x2_uses_tr_sqrt_of_the_product():
    s1 = np.array([[2.0, 0.5], [0.5, 1.0]])
    s2 = np.array([[1.0, -0.3], [-0.3, 3.0]])
    assert not np.allclose(s1 @ s2, s2 @ s1)
    ab = s1 @ s2
    tr_sqrt = np.sqrt(np.trace(ab) + 2 * np.sqrt(np.linalg.det(ab)))
    expected = np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert fid.frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(expected, rel=1e-12)


def test_identical_statistics_give_zero_even_when_singular():
    x = np.random.default_rng(3).normal(size=(10, 30))  # N < D: singular covariance
    mu, sigma = fid.feature_statistics(x)
    # sqrt of round-off-level eigenvalues (~1e-16) leaves ~1e-8 each: tiny relative to tr S
    assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-7 * np.trace(sigma)
    full = np.random.default_rng(3).normal(size=(200, 5))
    mu, sigma = fid.feature_statistics(full)
    assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-12


def test_feature_statistics_are_float64_mean_and_unbiased_covariance():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]], dtype=np.float32)
    mu, sigma = fid.feature_statistics(x)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(mu, [3.0, 4.0])
    np.testing.assert_allclose(sigma, [[4.0, 2.0], [2.0, 4.0]])   # sums of squares / (N - 1)


def test_running_statistics_match_the_one_shot_formula():
    x = np.random.default_rng(4).normal(loc=1000.0, size=(97, 8))  # large offset: no cancellation
    stats = fid.RunningStatistics()
    for chunk in np.array_split(x, 7):
        stats.update(chunk)
    mu, sigma = stats.finalize()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)


def test_running_statistics_warn_when_n_is_small_and_fail_below_two():
    stats = fid.RunningStatistics()
    stats.update(np.ones((1, 4)))
    with pytest.raises(KitError, match="at least 2"):
        stats.finalize()
    stats.update(np.zeros((2, 4)))
    with pytest.warns(UserWarning, match="singular"):
        stats.finalize()


def test_is_of_confident_even_predictions_is_k_and_identical_is_one():
    k = 7
    probs = np.eye(k)[np.arange(70) % k]
    mean, std = isc.inception_score_from_probs(probs, splits=1)
    assert mean == pytest.approx(k, rel=1e-12) and std == 0
    same = np.tile(np.random.default_rng(0).dirichlet(np.ones(k)), (20, 1))
    assert isc.inception_score_from_probs(same, splits=2)[0] == pytest.approx(1.0, abs=1e-12)


def test_is_never_exceeds_k():
    rng = np.random.default_rng(5)
    for _ in range(20):
        probs = rng.dirichlet(np.full(5, 0.05), size=40)
        assert isc.inception_score_from_probs(probs, splits=3)[0] <= 5 + 1e-9


def test_is_splits_are_sliced_i_n_over_splits_when_n_does_not_divide():
    # N=7, splits=3 -> rows [0:2], [2:4], [4:7]; each slice is built to have a known score.
    probs = np.array([[1, 0, 0], [0, 1, 0],             # split 0: 2 classes evenly -> 2
                      [1, 0, 0], [1, 0, 0],             # split 1: one class -> 1
                      [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)  # split 2 -> 3
    mean, std = isc.inception_score_from_probs(probs, splits=3)
    assert mean == pytest.approx(2.0) and std == pytest.approx(np.std([2, 1, 3]))


def test_is_has_no_nan_when_probabilities_underflow():
    logits = torch.tensor([[800.0, 0.0, 0.0], [0.0, 800.0, 0.0]], dtype=torch.float64)
    probs = isc.softmax64(logits)
    assert (probs == 0).any()
    assert isc.inception_score_from_probs(probs, splits=1)[0] == pytest.approx(2.0)


def test_missing_weights_error_names_file_url_and_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    with pytest.raises(KitError) as info:
        inception.load_fid_inception(download=False)
    msg = str(info.value)
    assert inception.WEIGHT_FILES[0] in msg and inception.WEIGHTS_URL in msg and "--weights" in msg
    with pytest.raises(KitError, match="not found: .*nope.pth"):
        inception.load_fid_inception(tmp_path / "nope.pth")


def test_weights_are_found_in_env_and_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    hub_file = tmp_path / "checkpoints" / inception.WEIGHT_FILES[1]
    hub_file.parent.mkdir()
    hub_file.write_bytes(b"x")
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    assert inception.resolve_weights(download=False) == hub_file
    env_file = tmp_path / "mine.pth"
    env_file.write_bytes(b"x")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(env_file))
    assert inception.resolve_weights(download=False) == env_file


def test_wrong_weights_file_is_rejected(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "bad.pth")
    with pytest.raises(KitError, match="not the FID Inception weights"):
        inception.load_fid_inception(tmp_path / "bad.pth")


def test_tf1_resize_samples_src_equal_dst_times_in_over_out():
    x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 2, 4)
    out = inception.tf1_resize(x, size=8)           # src = dst * 4/8 = 0, .5, 1, ..., 3.5 (clamped)
    np.testing.assert_allclose(out[0, 0, 0].numpy(), [0, 0.5, 1, 1.5, 2, 2.5, 3, 3])


def test_tf1_resize_shrinks_by_the_same_rule_in_both_directions():
    rows = torch.arange(10.0).view(1, 1, 10, 1).expand(1, 1, 10, 10)
    out = inception.tf1_resize(rows, size=4)        # src = dst * 10/4 = 0, 2.5, 5, 7.5
    np.testing.assert_allclose(out[0, 0, :, 0].numpy(), [0, 2.5, 5, 7.5])
    np.testing.assert_allclose(inception.tf1_resize(rows.transpose(2, 3), size=4)[0, 0, 0].numpy(), [0, 2.5, 5, 7.5])


def test_inception_in_training_mode_sees_the_whole_batch(monkeypatch):
    """Chunking a CPU batch is only bit-neutral in eval mode: in training mode BatchNorm takes the batch's
    statistics (as the random-weight calibration of grader/fixture.py does), so the batch stays whole."""
    torch.manual_seed(0)
    net = inception.FIDInception().train()
    images = torch.randint(0, 256, (inception.cpu_chunk() + 2, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        chunked_if_it_were = net(images)[0]
        monkeypatch.setattr(inception, "cpu_chunk", lambda: 10 ** 6)
        whole = net(images)[0]
    assert torch.equal(chunked_if_it_were, whole)
