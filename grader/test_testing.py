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


def lines(submission):
    path = submission / "inception_score.txt"
    assert path.is_file(), "inception_score.txt not found: run `python dcgan.py --train false` for each type " \
                           "and `python cyclegan.py --train false`"
    return [l.strip() for l in path.read_text(errors="replace").splitlines() if l.strip() and not l.startswith("#")]


def scores(submission):
    found = {}
    for line in lines(submission):
        match = LINE.match(line)
        if match:
            found[match["model"]] = (float(match["score"]), float(match["std"]), int(match["n"]))
    return found


def pngs(folder):
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    valid = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.verify()
            valid.append(f)
        except Exception:
            pass
    return valid


@pytest.mark.points(1)
def test_scores_file_exists_and_every_line_parses(submission):
    """inception_score.txt exists and every line has the documented format"""
    content = lines(submission)
    assert content, "inception_score.txt is empty"
    bad = [l for l in content if not LINE.match(l)]
    assert not bad, f"lines not in the format '{FORMAT}': {bad[:3]}"


@pytest.mark.points(5)
@pytest.mark.parametrize("model", MODELS)
def test_score_line_present_and_plausible(submission, model):
    """One score line per model (four DCGAN types + CycleGAN), with 1 <= IS <= 1008"""
    found = scores(submission)
    assert model in found, f"no line for '{model}' in inception_score.txt (format '{FORMAT}')"
    score, std, n = found[model]
    assert 1.0 <= score <= 1008.0, f"{model}: an Inception Score lies in [1, 1008], got {score}"
    assert n >= 1, f"{model}: N must be the number of images scored, got {n}"


@pytest.mark.points(2)
@pytest.mark.parametrize("gan_type", ("gan", "lsgan", "wgan", "wgan-gp"))
def test_dcgan_result_images(submission, gan_type):
    """DCGAN sample grids saved during training, for each type"""
    folder = submission / "results" / "dcgan" / gan_type / "images"
    assert pngs(folder), f"no readable PNG images in {folder.relative_to(submission)}"


@pytest.mark.points(1)
def test_cyclegan_result_images(submission):
    """CycleGAN image grids saved during training"""
    folder = submission / "results" / "cyclegan" / "images"
    assert pngs(folder), f"no readable PNG images in {folder.relative_to(submission)}"


@pytest.mark.points(1)
def test_scores_and_images_are_consistent(submission):
    """Every scored model has result images, and the five scores are not one copied number"""
    found = scores(submission)
    assert set(MODELS) <= set(found), f"missing score lines for {sorted(set(MODELS) - set(found))}"
    missing = [m for m in MODELS if not pngs(submission / "results" / (
        "cyclegan" if m == "cyclegan" else f"dcgan/{m.removeprefix('dcgan-')}") / "images")]
    assert not missing, f"scores without result images: {missing}"
    assert len({found[m][0] for m in MODELS}) > 1, "all five Inception Scores are the same number"
