"""3.1 Inception Score (10 points): inception_score_from_probs against closed forms.

IS = exp(mean_x KL(p(y|x) || p(y))) per split, p(y) the split's mean prediction;
split i holds rows [i*N//splits, (i+1)*N//splits); mean and std (ddof 0) over splits."""
import math

import numpy as np
import pytest

from grader.probe import fresh_np, number


def score(probe, probs, splits):
    out = probe("inception_score", probs=np.asarray(probs, dtype=np.float64), splits=splits)
    assert isinstance(out, list) and len(out) == 2, f"expected (mean, std), got {out!r}"[:200]
    return number(out[0], "the mean Inception Score"), number(out[1], "the std over splits")


def relabel(probs, k):
    """The same predictions with the classes renamed by a grading-time permutation (IS is invariant)."""
    return np.asarray(probs)[:, fresh_np(k).permutation(np.shape(probs)[1])]


def reference_is(probs, splits):
    """Written independently of the student's code: plain loops, log-ratio form."""
    n, scores = len(probs), []
    for i in range(splits):
        part = probs[i * n // splits:(i + 1) * n // splits]
        marginal = [sum(row[k] for row in part) / len(part) for k in range(len(part[0]))]
        kls = [sum(p * math.log(p / q) for p, q in zip(row, marginal) if p > 0) for row in part]
        scores.append(math.exp(sum(kls) / len(kls)))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)


@pytest.mark.student("inception_score:inception_score_from_probs")
@pytest.mark.points(2)
def test_confident_predictions_score_exp_entropy_of_class_frequencies(probe):
    """One-hot predictions give IS = exp(entropy of the class frequencies): K when spread evenly over K"""
    for k in (2, 5, 10):
        rows = fresh_np(60 + k).permutation(4 * k) % k
        got, _ = score(probe, relabel(np.eye(k)[rows], 70 + k), 1)
        assert got == pytest.approx(k, rel=1e-9), f"{k} evenly used classes, one-hot predictions: expected IS {k}, got {got}"
    counts = 1 + fresh_np(75).integers(0, 6, size=6)                   # every class used, unevenly
    rows = fresh_np(76).permutation(np.repeat(np.arange(6), counts))
    freq = counts / counts.sum()
    expected = math.exp(-(freq * np.log(freq)).sum())
    got, _ = score(probe, np.eye(6)[rows], 1)
    assert got == pytest.approx(expected, rel=1e-9), \
        f"one-hot predictions with class counts {counts.tolist()}: expected IS exp(H) = {expected:.6f}, got {got}"


@pytest.mark.student("inception_score:inception_score_from_probs")
@pytest.mark.points(1)
def test_identical_predictions_score_one(probe):
    """Identical predictions give IS = 1"""
    row = fresh_np(80).dirichlet(np.ones(5))
    got, _ = score(probe, np.tile(row, (12, 1)), 3)
    assert got == pytest.approx(1.0, abs=1e-9), f"every image predicts the same distribution: expected IS 1, got {got}"


@pytest.mark.student("inception_score:inception_score_from_probs")
@pytest.mark.points(2)
def test_splits_are_sliced_i_n_over_splits(probe):
    """N=7, 3 splits: rows [0:2], [2:4], [4:7]"""
    probs = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    mean, std = score(probe, relabel(probs, 81), 3)       # split scores 2, 1, 3
    assert mean == pytest.approx(2.0, rel=1e-9), f"expected mean 2 (split scores 2, 1, 3), got {mean}"
    assert std == pytest.approx(math.sqrt(2 / 3), rel=1e-9), f"expected std sqrt(2/3) (ddof 0), got {std}"


@pytest.mark.student("inception_score:inception_score_from_probs")
@pytest.mark.points(3)
@pytest.mark.parametrize("seed,n,k,splits", [(0, 40, 6, 1), (1, 50, 10, 5), (2, 33, 4, 4), (3, 20, 3, 2)])
def test_random_predictions_match_the_definition(probe, seed, n, k, splits):
    """Random soft predictions: exp of the mean KL(p(y|x) || p(y)), per split"""
    rng = fresh_np(90 + seed)
    probs = rng.dirichlet(np.full(k, 0.3), size=n)
    expected_mean, expected_std = reference_is(probs.tolist(), splits)
    mean, std = score(probe, probs, splits)
    assert mean == pytest.approx(expected_mean, rel=1e-7), f"expected IS {expected_mean:.6f}, got {mean:.6f}"
    assert std == pytest.approx(expected_std, rel=1e-6, abs=1e-12), f"expected std {expected_std:.6f}, got {std:.6f}"


@pytest.mark.student("inception_score:inception_score_from_probs")
@pytest.mark.points(1)
def test_zero_probabilities_do_not_give_nan(probe):
    """Probabilities that underflow to 0 contribute 0 (no NaN)"""
    probs = relabel(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), 99)
    mean, std = score(probe, probs, 1)
    expected, _ = reference_is(probs.tolist(), 1)
    assert math.isfinite(mean) and math.isfinite(std), f"got NaN/inf: ({mean}, {std}); 0 * log 0 must count as 0"
    assert mean == pytest.approx(expected, rel=1e-9), f"expected {expected:.6f}, got {mean:.6f}"


@pytest.mark.student("inception_score:Inception_Score.class_probabilities")
@pytest.mark.points(1)
def test_class_probabilities_are_a_softmax_over_the_classes(probe):
    """Inception_Score.class_probabilities: the network's logits, batch by batch, through a softmax over the classes
    (given code: it counts once inception_score_from_probs, which it feeds, runs)"""
    rng = fresh_np(60)
    logits = (rng.standard_normal((23, 10)) * 3).astype(np.float32)
    got = probe("inception_score_probabilities", logits=logits, batch_size=int(rng.integers(4, 9)))
    expected = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.shape(got) == expected.shape, f"expected probabilities of shape {list(expected.shape)}, got {np.shape(got)}"
    error = float(np.abs(np.asarray(got, dtype=np.float64) - expected).max())
    assert error <= 1e-6, (f"the probabilities differ from a softmax over the 10 classes of each image's logits by "
                           f"{error:.3g} (a softmax over dim 1, not over the batch)")
