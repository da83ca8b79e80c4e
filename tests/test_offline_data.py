import numpy as np
from PIL import Image

import make_offline_data as mod
from helpers import tree_digest as digest

SPLITS = {"trainA": 6, "trainB": 6, "testA": 3, "testB": 2}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = mod.make_seasons(tmp_path / "a", seed=5, splits=SPLITS, size=32)
    b = mod.make_seasons(tmp_path / "b", seed=5, splits=SPLITS, size=32)
    c = mod.make_seasons(tmp_path / "c", seed=6, splits=SPLITS, size=32)
    assert digest(a) == digest(b) != digest(c)
    s1 = mod.make_shapes32(tmp_path / "a", seed=1, splits={"train": 5})
    s2 = mod.make_shapes32(tmp_path / "b", seed=1, splits={"train": 5})
    assert digest(s1) == digest(s2)


def test_layout_and_ground_truth(tmp_path):
    out = mod.make_seasons(tmp_path, seed=0, splits=SPLITS, size=32)
    for split, n in SPLITS.items():
        assert len(list((out / split).glob("*.png"))) == n
    assert sorted(p.name for p in (out / "testA_gt").iterdir()) == sorted(p.name for p in (out / "testA").iterdir())
    assert len(list((out / "testB_gt").glob("*.png"))) == 2


def high_pass(path):
    """Laplacian of the grey image: removes the palette, keeps the scene's own texture."""
    g = np.asarray(Image.open(path), dtype=np.float64).mean(2)
    return (4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).ravel()


def same_scene_score(p, q):
    return np.corrcoef(high_pass(p), high_pass(q))[0, 1]


def test_test_ground_truth_is_the_same_scene_and_train_is_unpaired(tmp_path):
    out = mod.make_seasons(tmp_path, seed=0, splits=SPLITS, size=32)
    a, gt = out / "testA" / "0000.png", out / "testA_gt" / "0000.png"
    assert np.abs(np.asarray(Image.open(a), float) - np.asarray(Image.open(gt), float)).mean() > 20
    assert same_scene_score(a, gt) > 0.5                   # same scene, other season
    scores = [same_scene_score(x, y) for x in sorted((out / "trainA").iterdir())
              for y in sorted((out / "trainB").iterdir())]
    assert max(scores) < 0.3                               # no trainB image shows a trainA scene


def test_shapes_are_32x32_rgb(tmp_path):
    out = mod.make_shapes32(tmp_path, seed=0, splits={"train": 3})
    img = Image.open(next((out / "train").iterdir()))
    assert img.size == (32, 32) and img.mode == "RGB"
