"""3.3 Testing (10 points): the submitted inception_score.txt and the result images.

inception_score.txt holds one line per evaluation run, written by `--train false`:
    dcgan-wgan-gp: IS = 6.1234 +- 0.0567 (N=5000)
    cyclegan: IS = 3.2100 +- 0.1200 (N=309)
The last line of each model counts. Images: results/dcgan/<type>/images/*.png and
results/cyclegan/images/*.png (the grids saved during training)."""
import re

import pytest
from PIL import Image

MODELS = ("dcgan-gan", "dcgan-lsgan", "dcgan-wgan", "dcgan-wgan-gp", "cyclegan")
LINE = re.compile(r"^(?P<model>dcgan-(?:gan|lsgan|wgan|wgan-gp)|cyclegan): IS = (?P<score>\d+(?:\.\d+)?) "
                  r"\+- (?P<std>\d+(?:\.\d+)?) \(N=(?P<n>\d+)\)$")
FORMAT = "<model>: IS = <score> +- <std> (N=<count>)"


def read_scores_file(submission):
    path = submission / "inception_score.txt"
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        return f.read(1_000_000).decode("utf-8", errors="replace")


def lines(submission, probe):
    text = probe("inception_score.txt", lambda: read_scores_file(submission), shared=True)
    assert text is not None, "inception_score.txt not found: run `python dcgan.py --train false` for each type " \
                             "and `python cyclegan.py --train false`"
    return [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]


def scores(submission, probe):
    found = {}
    for line in lines(submission, probe):
        match = LINE.match(line)
        if match:
            found[match["model"]] = (float(match["score"]), float(match["std"]), int(match["n"]))
    return found


def readable_pngs(folder):
    files = sorted(folder.glob("*.png"))[:200] if folder.is_dir() and not folder.is_symlink() else []
    valid = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.verify()
            valid.append(f.name)
        except Exception:
            pass
    return valid


IMAGE_DIRS = {"dcgan-gan": "results/dcgan/gan/images", "dcgan-lsgan": "results/dcgan/lsgan/images",
              "dcgan-wgan": "results/dcgan/wgan/images", "dcgan-wgan-gp": "results/dcgan/wgan-gp/images",
              "cyclegan": "results/cyclegan/images"}


def pngs(submission, probe, model):
    """Names of the readable PNGs in a model's image folder (read in the submission's folder)."""
    found = probe("result images", lambda: {m: readable_pngs(submission / d) for m, d in IMAGE_DIRS.items()},
                  shared=True)
    return found[model]


@pytest.mark.points(1)
def test_scores_file_exists_and_every_line_parses(submission, probe):
    """inception_score.txt exists and every line has the documented format"""
    content = lines(submission, probe)
    assert content, "inception_score.txt is empty"
    bad = [l for l in content if not LINE.match(l)]
    assert not bad, f"lines not in the format '{FORMAT}': {bad[:3]}"


@pytest.mark.points(5)
@pytest.mark.parametrize("model", MODELS)
def test_score_line_present_and_plausible(submission, probe, model):
    """One score line per model (four DCGAN types + CycleGAN), with 1 <= IS <= 1008"""
    found = scores(submission, probe)
    assert model in found, f"no line for '{model}' in inception_score.txt (format '{FORMAT}')"
    score, std, n = found[model]
    assert 1.0 <= score <= 1008.0, f"{model}: an Inception Score lies in [1, 1008], got {score}"
    assert n >= 1, f"{model}: N must be the number of images scored, got {n}"


@pytest.mark.points(2)
@pytest.mark.parametrize("gan_type", ("gan", "lsgan", "wgan", "wgan-gp"))
def test_dcgan_result_images(submission, probe, gan_type):
    """DCGAN sample grids saved during training, for each type"""
    assert pngs(submission, probe, f"dcgan-{gan_type}"), f"no readable PNG images in {IMAGE_DIRS['dcgan-' + gan_type]}"


@pytest.mark.points(1)
def test_cyclegan_result_images(submission, probe):
    """CycleGAN image grids saved during training"""
    assert pngs(submission, probe, "cyclegan"), f"no readable PNG images in {IMAGE_DIRS['cyclegan']}"


@pytest.mark.points(1)
def test_scores_and_images_are_consistent(submission, probe):
    """Every scored model has result images, and the five scores are not one copied number"""
    found = scores(submission, probe)
    assert set(MODELS) <= set(found), f"missing score lines for {sorted(set(MODELS) - set(found))}"
    missing = [m for m in MODELS if not pngs(submission, probe, m)]
    assert not missing, f"scores without result images: {missing}"
    assert len({found[m][0] for m in MODELS}) > 1, "all five Inception Scores are the same number"
