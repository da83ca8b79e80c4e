"""3.3 Testing (10 points): the submitted inception_score.txt and the result images.

inception_score.txt holds one line per evaluation run, written by `--train false`:
    dcgan-wgan-gp: IS = 6.1234 +- 0.0567 (N=5000)
    cyclegan: IS = 3.2100 +- 0.1200 (N=309)
The last line of each model counts. Images: results/dcgan/<type>/images/*.png and
results/cyclegan/images/*.png (the grids saved during training).

These are files, not code: the judge reads them itself (in batch grading, from the copy it made
of the submission's manifest files), no student process involved."""
import re

import pytest
from PIL import Image

from grader.roles import IMAGE_DIRS, SCORES_FILE

MODELS = ("dcgan-gan", "dcgan-lsgan", "dcgan-wgan", "dcgan-wgan-gp", "cyclegan")
LINE = re.compile(r"^(?P<model>dcgan-(?:gan|lsgan|wgan|wgan-gp)|cyclegan): IS = (?P<score>\d+(?:\.\d+)?) "
                  r"\+- (?P<std>\d+(?:\.\d+)?) \(N=(?P<n>\d+)\)$")
FORMAT = "<model>: IS = <score> +- <std> (N=<count>)"


def read_scores_file(submission):
    path = submission / SCORES_FILE
    if not path.is_file() or path.is_symlink():
        return None
    with open(path, "rb") as f:
        return f.read(1_000_000).decode("utf-8", errors="replace")


def lines(submission):
    text = read_scores_file(submission)
    assert text is not None, "inception_score.txt not found: run `python dcgan.py --train false` for each type " \
                             "and `python cyclegan.py --train false`"
    return [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]


def scores(submission):
    found = {}
    for line in lines(submission):
        match = LINE.match(line)
        if match:
            found[match["model"]] = (float(match["score"]), float(match["std"]), int(match["n"]))
    return found


def readable_pngs(folder):
    files = sorted(f for f in folder.glob("*.png") if f.is_file() and not f.is_symlink())[:200] \
        if folder.is_dir() and not folder.is_symlink() else []
    valid = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.verify()
            valid.append(f.name)
        except Exception:
            pass
    return valid


def pngs(submission, model):
    """Names of the readable PNGs in a model's image folder."""
    return readable_pngs(submission / IMAGE_DIRS[model])


@pytest.mark.student("inception_score.txt")
@pytest.mark.points(1)
def test_scores_file_exists_and_every_line_parses(submission):
    """inception_score.txt exists and every line has the documented format"""
    content = lines(submission)
    assert content, "inception_score.txt is empty"
    bad = [l for l in content if not LINE.match(l)]
    assert not bad, f"lines not in the format '{FORMAT}': {bad[:3]}"


@pytest.mark.student("inception_score.txt")
@pytest.mark.points(5)
@pytest.mark.parametrize("model", MODELS)
def test_score_line_present_and_plausible(submission, model):
    """One score line per model (four DCGAN types + CycleGAN), with 1 <= IS <= 1008"""
    found = scores(submission)
    assert model in found, f"no line for '{model}' in inception_score.txt (format '{FORMAT}')"
    score, std, n = found[model]
    assert 1.0 <= score <= 1008.0, f"{model}: an Inception Score lies in [1, 1008], got {score}"
    assert n >= 1, f"{model}: N must be the number of images scored, got {n}"


@pytest.mark.student("results/dcgan/<type>/images/")
@pytest.mark.points(2)
@pytest.mark.parametrize("gan_type", ("gan", "lsgan", "wgan", "wgan-gp"))
def test_dcgan_result_images(submission, gan_type):
    """DCGAN sample grids saved during training, for each type"""
    assert pngs(submission, f"dcgan-{gan_type}"), f"no readable PNG images in {IMAGE_DIRS['dcgan-' + gan_type]}"


@pytest.mark.student("results/cyclegan/images/")
@pytest.mark.points(1)
def test_cyclegan_result_images(submission):
    """CycleGAN image grids saved during training"""
    assert pngs(submission, "cyclegan"), f"no readable PNG images in {IMAGE_DIRS['cyclegan']}"


@pytest.mark.student("inception_score.txt")
@pytest.mark.points(1)
def test_scores_and_images_are_consistent(submission):
    """Every scored model has result images, and the five scores are not one copied number"""
    found = scores(submission)
    assert set(MODELS) <= set(found), f"missing score lines for {sorted(set(MODELS) - set(found))}"
    missing = [m for m in MODELS if not pngs(submission, m)]
    assert not missing, f"scores without result images: {missing}"
    assert len({found[m][0] for m in MODELS}) > 1, "all five Inception Scores are the same number"
