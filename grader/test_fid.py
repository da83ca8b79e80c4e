"""3.2 FID (10 points): feature_statistics and frechet_distance against closed forms.

FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)."""
import numpy as np
import pytest

from grader.probe import fresh_np, number


def fd(probe, mu1, s1, mu2, s2):
    return number(probe("frechet_distance", mu1=mu1, s1=s1, mu2=mu2, s2=s2), "frechet_distance")


def random_spd(rng, d, n=None):
    x = rng.normal(size=(n or 3 * d, d)) @ rng.normal(size=(d, d))
    return np.cov(x, rowvar=False)


def reference_fd(mu1, s1, mu2, s2):
    """Independent of the student's code: tr sqrt(S1 S2) from the eigenvalues of the product."""
    eig = np.linalg.eigvals(s1 @ s2).astype(complex)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig).real.sum())


@pytest.mark.student("fid:feature_statistics")
@pytest.mark.points(2)
def test_feature_statistics_mean_and_unbiased_covariance(probe):
    """feature_statistics: float64 mean and covariance with N - 1"""
    feats = fresh_np(110).integers(-8, 8, size=(4 + int(fresh_np(111).integers(0, 4)), 3)).astype(np.float32)
    mu, sigma = (np.asarray(v) for v in probe("feature_statistics", features=feats))
    centered = feats.astype(np.float64) - feats.astype(np.float64).mean(0)
    assert mu.shape == (3,) and sigma.shape == (3, 3), f"expected shapes (3,) and (3, 3), got {mu.shape}, {sigma.shape}"
    np.testing.assert_allclose(mu, feats.astype(np.float64).mean(0), err_msg="mean over samples")
    np.testing.assert_allclose(sigma, centered.T @ centered / (len(feats) - 1), rtol=1e-12,
                               err_msg="covariance must divide by N - 1 (features are columns)")
    assert sigma.dtype == np.float64, f"statistics must be float64, got {sigma.dtype}"


@pytest.mark.student("fid:frechet_distance")
@pytest.mark.points(2)
def test_diagonal_gaussians_closed_form(probe):
    """Diagonal covariances: |dmu|^2 + sum (sqrt a_i - sqrt b_i)^2"""
    rng = fresh_np(120)
    a, b = rng.uniform(0.2, 4, 8), rng.uniform(0.2, 4, 8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = fd(probe, mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-9), f"expected {expected:.6f}, got {got:.6f}"


@pytest.mark.student("fid:frechet_distance")
@pytest.mark.points(2)
def test_non_commuting_covariances_and_rotation_invariance(probe):
    """2x2 non-commuting case tr sqrt(AB) = sqrt(tr AB + 2 sqrt det AB); a shared rotation changes nothing"""
    s1, s2 = np.array([[2.0, 0.7], [0.7, 1.0]]), np.array([[1.5, -0.4], [-0.4, 3.0]])
    ab = s1 @ s2
    expected = np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.trace(ab) + 2 * np.sqrt(np.linalg.det(ab)))
    got = fd(probe, np.zeros(2), s1, np.zeros(2), s2)
    assert got == pytest.approx(expected, rel=1e-9), f"2x2 case: expected {expected:.6f}, got {got:.6f}"
    theta = float(fresh_np(124).uniform(0.2, 3.0))
    q = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    rotated = fd(probe, q @ np.ones(2), q @ s1 @ q.T, np.zeros(2), q @ s2 @ q.T)
    assert rotated == pytest.approx(expected + 2, rel=1e-9), "rotating both Gaussians must not change FID"


@pytest.mark.student("fid:frechet_distance")
@pytest.mark.points(1)
def test_identical_statistics_give_zero(probe):
    """FID of a distribution with itself is 0"""
    rng = fresh_np(121)
    s, mu = random_spd(rng, 6), rng.normal(size=6)
    assert abs(fd(probe, mu, s, mu, s)) < 1e-9, "FID(P, P) must be 0"


@pytest.mark.student("fid:frechet_distance")
@pytest.mark.points(2)
def test_random_full_rank_statistics(probe):
    """Random full-rank 16-d statistics match |dmu|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)"""
    rng = fresh_np(122)
    mu1, mu2, s1, s2 = rng.normal(size=16), rng.normal(size=16), random_spd(rng, 16), random_spd(rng, 16)
    expected = reference_fd(mu1, s1, mu2, s2)
    got = fd(probe, mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-7), f"expected {expected:.6f}, got {got:.6f}"


@pytest.mark.student("fid:frechet_distance")
@pytest.mark.points(1)
def test_singular_covariances_from_few_samples(probe):
    """N < D (singular covariances) still gives the right value"""
    rng = fresh_np(123)
    s1, s2 = random_spd(rng, 12, n=6), random_spd(rng, 12, n=8)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    expected = reference_fd(mu1, s1, mu2, s2)
    got = fd(probe, mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-5), f"expected {expected:.6f}, got {got:.6f}"
