"""Several processes (torchrun, DistributedDataParallel, gloo on the CPU) train like one process
with their combined batch; one process writes; resume works; the linear scaling rule says what it did."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dcgan
import ddp_step
import util
from helpers import float64, run_cli

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]


def torchrun(nproc: int, *args: str, cwd: Path, env: dict | None = None, timeout: int = 300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([*TORCHRUN, str(nproc), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def single_process_step(family: str) -> dict[str, torch.Tensor]:
    """The same step in one process: CycleGAN on the whole batch (InstanceNorm: per image, so two
    processes of batch 1 are exactly one of batch 2); DCGAN with each process's z and its own
    BatchNorm statistics (per-process BN, the DDP default), losses averaged over the two halves."""
    torch.set_num_threads(1)
    with float64():                                           # ddp_step's solvers are float64
        return _single_process_step(family)


def _single_process_step(family: str) -> dict[str, torch.Tensor]:
    solver = ddp_step.new_solver(family)                      # float64, as ddp_step.py
    batch = ddp_step.step_batch(family, 2)
    if family == "cyclegan":
        solver.train_step(*batch)
        return ddp_step.snapshot(solver)
    b = ddp_step.PER_PROCESS[family]
    halves = [batch[0][r * b:(r + 1) * b] for r in range(2)]
    zs = []
    for r in range(2):
        torch.manual_seed(100 + r)
        zs.append(torch.randn(b, dcgan.LATENT_DIM))           # what train_step draws first
    solver.optim_D.zero_grad(set_to_none=True)
    (sum(solver.d_loss(x, z) for x, z in zip(halves, zs)) / 2).backward()
    solver.optim_D.step()
    solver.optim_G.zero_grad(set_to_none=True)
    (sum(solver.g_loss(z) for z in zs) / 2).backward()
    solver.optim_G.step()
    return ddp_step.snapshot(solver)


@pytest.mark.parametrize("family", ["cyclegan", "dcgan"])
def test_two_processes_step_like_one_with_their_combined_batch(family, tmp_path):
    out = tmp_path / "ddp.pt"
    run = torchrun(2, str(REPO / "tests" / "ddp_step.py"), family, str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    ddp, single = torch.load(out), single_process_step(family)
    assert ddp.keys() == single.keys()
    grads = [k for k in ddp if k.endswith(".grad")]
    assert any(single[k].abs().max() > 0 for k in grads)
    for key in ddp:
        torch.testing.assert_close(ddp[key], single[key], rtol=1e-9, atol=1e-10, msg=key)


@pytest.mark.e2e          # three torchrun launches, 6 fresh interpreters: the end-to-end tier (make e2e)
def test_two_process_training_writes_once_resumes_and_scales_the_lr(offline_root, tmp_path):
    env = {"GAN_KIT_DATA": str(offline_root), "GAN_KIT_OFFLINE": "1"}
    common = ["--dataset", "shapes32", "--batch_size", "8", "--max_steps", "2", "--results", str(tmp_path), "--device", "cpu"]
    first = torchrun(2, str(REPO / "dcgan.py"), *common, "--epochs", "1", "--base_lr", "1e-4", "--base_batch", "8",
                     cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("[gan] epoch 1/1") == 1                       # one process prints
    assert "linear scaling rule: global batch 2 x 8 = 16 (base 8): lr 0.0001 x 16/8 = 0.0002" in first.stdout
    ckpt = tmp_path / "dcgan" / "gan" / "checkpoints"
    state = torch.load(ckpt / "last.pth", weights_only=True)
    assert state["epoch"] == 1 and state["optim_G"]["param_groups"][0]["lr"] == pytest.approx(2e-4)
    assert not any(k.startswith("module.") for k in state["G"])              # plain state dicts, not DDP's
    second = torchrun(2, str(REPO / "dcgan.py"), *common, "--epochs", "2", "--resume", "true", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "[gan] epoch 1/2" not in second.stdout and second.stdout.count("[gan] epoch 2/2") == 1
    assert torch.load(ckpt / "last.pth", weights_only=True)["epoch"] == 2
    # a plain one-process evaluation of what two processes trained
    evaluated = run_cli("dcgan.py", "--train", "false", "--metrics", "none", "--num_samples", "4", "--results",
                        str(tmp_path), data_root=offline_root, cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr


def test_linear_scaling_needs_both_flags():
    import argparse
    args = argparse.Namespace(lr=2e-4, base_lr=1e-4, base_batch=None, batch_size=8)
    with pytest.raises(util.KitError, match="--base_lr and --base_batch go together"):
        util.scaled_lr(args)
    assert util.scaled_lr(argparse.Namespace(lr=2e-4, base_lr=1e-4, base_batch=4, batch_size=8)) == pytest.approx(2e-4)


def test_a_plain_run_is_not_wrapped():
    net = torch.nn.Linear(2, 2)
    assert util.world_size() == 1 and util.distributed(net, torch.device("cpu")) is net and util.unwrap(net) is net
