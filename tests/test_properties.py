"""Properties that must hold for every input, checked on inputs drawn by hypothesis: the metric
formulas, the solution markers, and unpaired sampling."""
import random
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import dataloader
import fid
import inception_score as isc
from grader.build import solution_lines
from grader.markers import strip_solutions

SEEDS = st.integers(0, 2**32 - 1)


def random_statistics(seed: int, dim: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """A mean and a PSD covariance of the given rank (rank < dim: singular, as with few samples)."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(dim, rank)) * rng.uniform(0.1, 3)
    return rng.normal(size=dim) * rng.uniform(0, 3), factor @ factor.T


# ----------------------------------------------------------------------------- Frechet distance
@settings(max_examples=60, deadline=None)
@given(SEEDS, SEEDS, st.integers(1, 12), st.data())
def test_frechet_distance_is_symmetric_and_non_negative(seed1, seed2, dim, data):
    mu1, s1 = random_statistics(seed1, dim, data.draw(st.integers(1, dim)))
    mu2, s2 = random_statistics(seed2, dim, data.draw(st.integers(1, dim)))
    d12, d21 = fid.frechet_distance(mu1, s1, mu2, s2), fid.frechet_distance(mu2, s2, mu1, s1)
    scale = np.trace(s1) + np.trace(s2) + np.sum((mu1 - mu2) ** 2)
    assert abs(d12 - d21) <= 1e-6 * scale
    assert d12 >= -1e-6 * scale


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(1, 12), st.data())
def test_frechet_distance_of_equal_statistics_is_zero(seed, dim, data):
    mu, sigma = random_statistics(seed, dim, data.draw(st.integers(1, dim)))
    assert abs(fid.frechet_distance(mu, sigma, mu.copy(), sigma.copy())) <= 1e-6 * max(np.trace(sigma), 1e-12)


# ----------------------------------------------------------------------------- Inception Score
@settings(max_examples=80, deadline=None)
@given(SEEDS, st.integers(2, 40), st.integers(1, 5), st.floats(0.0, 30.0))
def test_inception_score_lies_between_1_and_the_number_of_classes(seed, classes, splits, sharpness):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(splits * 8, classes)) * sharpness
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    mean, std = isc.inception_score_from_probs(probs, splits)
    assert 1 - 1e-9 <= mean <= classes * (1 + 1e-9) and std >= 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(1, 4))
def test_inception_score_of_balanced_one_hot_predictions_is_the_number_of_classes(classes, per_class, splits):
    probs = np.tile(np.eye(classes), (per_class * splits, 1))        # each split: every class per_class times
    mean, std = isc.inception_score_from_probs(probs, splits)
    assert abs(mean - classes) <= 1e-9 * classes and std <= 1e-9 * classes


# ----------------------------------------------------------------------------- solution markers
# (a line that holds a marker's text beside other code is refused by strip_solutions, tests/test_markers.py)
CODE_LINE = st.builds(lambda name, text: f"{name} = {text!r}", st.sampled_from(["x", "loss", "self.G", "out"]),
                      st.text(st.characters(codec="ascii", categories=("L", "N", "P", "Zs")), max_size=30)
                      ).filter(lambda line: "SOLUTION" not in line)


@settings(max_examples=60, deadline=None)
@given(st.lists(CODE_LINE, min_size=1, max_size=6), st.lists(CODE_LINE, min_size=0, max_size=3),
       st.sampled_from(["", "    "]))
def test_a_stripped_file_never_contains_solution_text(solution, given_code, indent):
    head = "def f():\n" if indent else ""
    body = "".join(f"{indent}{line}\n" for line in given_code)
    block = "".join(f"{indent}{line}\n" for line in solution)
    source = f"{head}{body}{indent}# TODO: fill this in\n{indent}# BEGIN SOLUTION\n{block}{indent}# END SOLUTION\n"
    stripped = strip_solutions(source, "f.py")
    compile(stripped, "f.py", "exec")                               # still Python
    secret = set(solution) - set(given_code)
    assert not secret & {line.strip() for line in stripped.splitlines()}
    assert solution_lines(source) <= secret                         # what the leak check looks for
    assert all(f"{indent}{line}" in stripped.splitlines() for line in given_code)


# ----------------------------------------------------------------------------- unpaired sampling
@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), SEEDS)
def test_item_i_is_image_i_of_A_with_any_image_of_B(n_a, n_b, seed):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for domain, count, base in (("trainA", n_a, 0), ("trainB", n_b, 128)):
            (root / domain).mkdir()
            for i in range(count):
                Image.new("RGB", (2, 2), (base + 16 * i,) * 3).save(root / domain / f"{i:02d}.png")
        ds = dataloader.Summer2WinterDataset(True, root=root)
        assert len(ds) == n_a
        random.seed(seed)
        grey = [round((float(t[0, 0, 0]) + 1) / 2 * 255) for index in range(n_a) for t in ds[index]]
        assert grey[0::2] == [16 * i for i in range(n_a)]               # A in order
        assert set(grey[1::2]) <= {128 + 16 * i for i in range(n_b)}     # B from B only
