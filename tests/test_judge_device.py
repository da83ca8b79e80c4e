"""--device: the judge's own Testing work on a GPU when there is one (batch grading), the CPU otherwise.
The GPU path itself runs where a GPU is (skipped elsewhere); the choice and its errors are tested here."""
from __future__ import annotations

import math

import pytest
import torch

from grader.batch import GraderError, judge_device


@pytest.mark.parametrize("gpu, requested, expected", [(False, "auto", "cpu"), (True, "auto", "cuda"),
                                                      (True, "cpu", "cpu"), (True, "cuda", "cuda"),
                                                      (False, "cpu", "cpu")])
def test_the_judge_device_follows_the_request_and_the_machine(monkeypatch, gpu, requested, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert judge_device(requested) == expected


def test_asking_for_a_gpu_that_is_not_there_is_an_error_up_front(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GraderError, match="no CUDA GPU is visible"):
        judge_device("cuda")
    with pytest.raises(GraderError, match="cuda, cpu or auto"):
        judge_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs on a GPU machine)")
def test_the_judge_on_the_gpu_reaches_the_cpu_verdicts_within_the_claim_tolerance(testing_env, tmp_path):
    """Same fixture, same grading seed: every claim check and beats-untrained check gives the same verdict
    on both devices, and the recomputed IS differs by far less than the claim tolerance's device allowance."""
    from grader.judge.trusted import judge_tools
    from grader.training_check import check_beats_untrained, check_claim, parse_claims
    claims = parse_claims((testing_env.results / "inception_score.txt").read_text())[0]
    found = {}
    for device in ("cpu", "cuda"):
        tools = judge_tools(seed=5, device=device)
        tools.cache = tmp_path / device
        found[device] = {model: (check_claim(tools, claim, testing_env.results),
                                 check_beats_untrained(tools, claim, testing_env.results)) for model, claim in claims.items()}
    for model in claims:
        (cpu_claim, cpu_beats), (gpu_claim, gpu_beats) = found["cpu"][model], found["cuda"][model]
        assert (cpu_claim.ok, cpu_beats.ok) == (gpu_claim.ok, gpu_beats.ok), model
        cpu_is, gpu_is = cpu_claim.figures["recomputed"], gpu_claim.figures["recomputed"]
        assert math.isclose(cpu_is, gpu_is, rel_tol=1e-3), (model, cpu_is, gpu_is)
