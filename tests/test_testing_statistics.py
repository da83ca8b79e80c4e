"""The Testing section's statistics (grader/training_check.py): the tolerance of a claim against the
judge's recomputed split, on synthetic class-probability populations, and the judge's disk cache.
No trained fixture needed (tests/test_testing_section.py has the checks on trained generators)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grader import training_check
from grader.judge.trusted import split_score
from grader.training_check import Claim, Tools, splits_of, tolerance


# ----------------------------------------------------------------------------- the statistics
def synthetic_population(rng, sharpness: float, classes: int, n: int) -> np.ndarray:
    """Class probabilities of n samples: peaked at one of `classes` classes out of 1008."""
    from scipy.special import softmax
    logits = rng.normal(size=(n, 1008))
    logits[np.arange(n), rng.integers(0, classes, n)] += sharpness
    return softmax(logits, axis=1)


@pytest.mark.parametrize("sharpness,classes", [(2, 10), (6, 50), (9, 200), (12, 1008)],
                         ids=["diffuse", "moderate", "peaked", "very-peaked"])
def test_tolerance_accepts_honest_claims_and_catches_inflated_ones(sharpness, classes, monkeypatch):
    """Honest claims (the kit's own IS of N=1000 samples, 10 splits) against one judged split of
    100 fresh samples: none rejected in 60 trials; a claim 1.5x too high caught in most. (50
    bootstrap draws instead of the judge's 200, for time: a noisier sigma, so no easier to pass.)"""
    import inception_score
    monkeypatch.setattr(training_check, "BOOTSTRAP", 50)
    rng = np.random.default_rng(sharpness)
    population = synthetic_population(rng, sharpness, classes, 8_000)
    rejected, caught = 0, 0
    for _ in range(60):
        student = population[rng.choice(len(population), 1000, replace=False)]
        mean, std = inception_score.inception_score_from_probs(student, 10)
        claim = Claim("dcgan-gan", mean, std, 1000, 10, dataset="shapes32")
        judged = splits_of(statistics_only(rng), claim, population[rng.choice(len(population), 100, replace=False)],
                           bootstrap=True)
        tol, _ = tolerance(claim, judged["bootstrap_std"], 1)
        recomputed = judged["scores"][0]
        rejected += abs(recomputed - mean) > tol
        caught += abs(recomputed - 1.5 * mean) > tolerance(Claim("dcgan-gan", 1.5 * mean, std, 1000, 10),
                                                           judged["bootstrap_std"], 1)[0]
    assert rejected == 0
    if mean > 1.5:                  # where 1.5x is a real difference, it is caught
        assert caught >= 30, f"caught {caught}/60 inflated claims (IS {mean:.2f})"
    assert math.isfinite(tol)


def statistics_only(rng) -> Tools:
    """Tools for the statistics alone: the judge's split score and a fresh grading seed."""
    return Tools(None, None, split_score, None, Path("."), int(rng.integers(2**31)))


@pytest.mark.parametrize("sharpness,classes", [(6, 50), (12, 1008)], ids=["moderate", "very-peaked"])
def test_tiny_splits_judged_together_accept_honest_claims(sharpness, classes):
    """The fixture's CycleGAN claim: N=20 in splits of 2, all 10 splits judged. A split of 2 images
    that happen to agree has no spread of its own: sigma comes from all judged images."""
    import inception_score
    rng = np.random.default_rng(100 + sharpness)
    population = synthetic_population(rng, sharpness, classes, 4_000)
    rejected = 0
    for _ in range(200):
        mean, std = inception_score.inception_score_from_probs(population[rng.choice(len(population), 20)], 10)
        claim = Claim("cyclegan", mean, std, 20, 10, dataset="seasons", size=32)
        judged = splits_of(statistics_only(rng), claim, population[rng.choice(len(population), 20)], bootstrap=True)
        tol, _ = tolerance(claim, judged["bootstrap_std"], len(judged["scores"]))
        rejected += abs(float(np.mean(judged["scores"])) - mean) > tol
    assert rejected == 0


def test_the_disk_cache_never_answers_for_other_code(tmp_path, monkeypatch):
    """The canary's cache lives with the fixture across runs: a change of the checks recomputes."""
    calls = []

    def compute():
        calls.append(1)
        return {"scores": [len(calls)]}

    def fresh_tools():
        return Tools(None, None, split_score, None, Path("."), 0, cache=tmp_path)
    key = {"what": "trained splits", "seed": 0}
    assert training_check._cached(fresh_tools(), key, compute) == {"scores": [1]}
    assert training_check._cached(fresh_tools(), key, compute) == {"scores": [1]} and len(calls) == 1
    monkeypatch.setattr(training_check, "CODE_DIGEST", "another version")
    assert training_check._cached(fresh_tools(), key, compute) == {"scores": [2]}


@pytest.mark.parametrize("n1,n2,d", [(32, 32, 512), (32, 50, 300), (7, 5, 64), (40, 60, 16)])
def test_judge_frechet_distance_equals_the_kit_formula(n1, n2, d):
    """The judge's FID (singular values of the centred features' cross product when n1 n2 <= d^2, else
    the d x d eigendecompositions) against fid.py's, on ReLU-like correlated features."""
    import fid
    from grader.judge.trusted import frechet
    rng = np.random.default_rng([n1, n2, d])
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    a = np.maximum(rng.normal(size=(n1, d)) @ mix, 0)
    b = np.maximum(rng.normal(loc=0.3, size=(n2, d)) @ mix, 0)
    expected = fid.frechet_distance(*fid.feature_statistics(a), *fid.feature_statistics(b))
    # fid.py takes square roots of the ~1e-16 eigenvalues of a rank-deficient S1: ~1e-8 of noise
    assert frechet(a, b) == pytest.approx(expected, rel=1e-9 if min(n1, n2) > d else 1e-6)


def test_judge_frechet_distance_with_few_samples_is_exact():
    """Against 50-digit arithmetic: 4 and 5 samples in 6 dimensions (ranks 3 and 4)."""
    import mpmath
    from grader.judge.trusted import frechet
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(4, 6)), rng.normal(loc=0.5, size=(5, 6))
    with mpmath.workdps(50):
        def cov(x):
            c = mpmath.matrix((x - x.mean(0)).tolist())
            return c.T * c / (len(x) - 1)
        s1, s2 = cov(a), cov(b)
        w, v = mpmath.eigsy(s1)
        root = v * mpmath.diag([mpmath.sqrt(max(x, 0)) for x in w]) * v.T
        middle = root * s2 * root
        tr_covmean = sum(mpmath.sqrt(max(x, 0)) for x in mpmath.eigsy(middle)[0])
        mu = mpmath.matrix((a.mean(0) - b.mean(0)).tolist())
        exact = (mu.T * mu)[0] + sum(s1[i, i] + s2[i, i] for i in range(6)) - 2 * tr_covmean
    assert frechet(a, b) == pytest.approx(float(exact), rel=1e-12)
