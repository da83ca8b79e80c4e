"""3.3 Testing (10 points): did you train? The claimed scores are recomputed from your generators.

Submit, besides inception_score.txt (one line per model, written by `--train false`):
    results/dcgan/<type>/checkpoints/G_final.pth            for gan, lsgan, wgan, wgan-gp
    results/cyclegan/checkpoints/G_A2B_final.pth, G_B2A_final.pth
(plain state dicts, as the solvers save them; fp16 is fine). Per model, one point each:
  * the claim matches the generator: one split of the claim's size, sampled fresh, scores within
    the tolerance (grader/training_check.py says how it is derived);
  * the generator beats an untrained one of the same architecture on the same inputs: DCGAN by the
    Inception Score gap and by its samples' colours being closer to the training images than any
    untrained generator's (BatchNorm statistics calibrated or not), CycleGAN by FID against the target
    domains (both directions summed).
The judge samples through its own copy of Tables 1 and 2 and its own metrics; your public run uses
your own classes and metrics, and needs the Inception weights (without them these items are
skipped here: download the weights as the README says, then run again).
"""
import os

import pytest

from grader.probe import MODE, SEED
from grader.roles import SCORES_FILE
from grader.training_check import (CHECKPOINTS, FORMAT, GRADER_WORK_SECONDS, MODELS, CannotCheck, CheckpointError,
                                   check_beats_untrained, check_claim, claim_problem, local_tools, parse_claims)


# Most of this section's time is the grader's own computation (Inception features of fresh samples),
# not the student's code: it gets a generous limit of its own, and running out of it is never a lost
# point (conftest: "the machine was too busy", a grader error in batch grading).
pytestmark = pytest.mark.timeout(GRADER_WORK_SECONDS)

_TOOLS = {}


@pytest.fixture
def tools(submission):
    """One set of tools per run (the Inception network loads once)."""
    if "tools" not in _TOOLS:
        seed = int(os.environ.get("GRADER_TESTING_SEED", SEED))
        if MODE == "judge":
            from grader.judge.trusted import judge_tools
            _TOOLS["tools"] = judge_tools(seed)
        else:
            _TOOLS["tools"] = local_tools(submission, seed)
    return _TOOLS["tools"]


def claims_of(submission):
    path = submission / SCORES_FILE
    if not path.is_file() or path.is_symlink():
        return {}, []
    with open(path, "rb") as f:
        return parse_claims(f.read(1_000_000).decode("utf-8", errors="replace"))


def run(check, *args):
    """A check's verdict; the grader's own missing pieces are never the student's zero."""
    try:
        return check(*args)
    except CannotCheck as exc:
        if MODE == "judge":
            raise
        pytest.skip(f"not checked on this machine: {exc}")


def checkpoint_message(model, exc):
    return (f"{model}: {', '.join(CHECKPOINTS[model])} cannot stand for the generator of the table: {exc}")


@pytest.mark.student("inception_score.txt")
@pytest.mark.points(5)
@pytest.mark.parametrize("model", MODELS)
def test_claim_matches_the_submitted_generator(submission, tools, model):
    """The claimed Inception Score is what the submitted generator scores on fresh samples"""
    claims, bad = claims_of(submission)
    claim = claims.get(model)
    hint = f" (lines not in the format '{FORMAT}': {bad[:2]})" if bad else ""
    assert claim is not None, f"no line for '{model}' in inception_score.txt{hint}: run --train false for it"
    problem = claim_problem(claim)
    assert problem is None, f"{model} in inception_score.txt: {problem}"
    try:
        verdict = run(check_claim, tools, claim, submission)
    except CheckpointError as exc:
        pytest.fail(checkpoint_message(model, exc))
    assert verdict.ok, verdict.message + " (see inception_score.txt)"


@pytest.mark.student("results/")
@pytest.mark.points(5)
@pytest.mark.parametrize("model", MODELS)
def test_generator_beats_an_untrained_one(submission, tools, model):
    """The submitted generator is clearly better than an untrained one (IS gap / FID)"""
    claim = claims_of(submission)[0].get(model)
    assert claim is not None and not claim_problem(claim), (
        f"{model}: without a valid line in inception_score.txt the grader does not know what you evaluated "
        f"(sample count, split size, dataset, image size): run --train false for it")
    try:
        verdict = run(check_beats_untrained, tools, claim, submission)
    except CheckpointError as exc:
        pytest.fail(checkpoint_message(model, exc))
    assert verdict.ok, verdict.message + f" (see {CHECKPOINTS[model][0]})"
