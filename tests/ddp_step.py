"""One training step of a solver under torchrun, for tests/test_distributed.py (not a test itself).

    torchrun --nproc_per_node 2 tests/ddp_step.py {dcgan,cyclegan} OUT.pt

Rank r trains on its slice r of the fixed batch that step_batch() draws (per-process batch 1 for
CycleGAN, 2 for DCGAN); rank 0 saves the networks' parameters and gradients after the step.
Everything runs in float64: in float32 on the CPU even one process's gradients for a batch of 2 differ
from the mean of two batches of 1 by ~1e-3 relative (different conv kernels), which would hide what
is compared here; in float64 they agree to ~1e-15."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cyclegan  # noqa: E402
import dcgan  # noqa: E402
import util  # noqa: E402

PER_PROCESS = {"dcgan": 2, "cyclegan": 1}


def step_batch(family: str, world: int) -> tuple[torch.Tensor, ...]:
    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(7)
    n = PER_PROCESS[family] * world
    if family == "dcgan":
        return (torch.rand(n, 3, 32, 32, generator=gen) * 2 - 1,)
    return tuple(torch.rand(n, 3, 32, 32, generator=gen) * 2 - 1 for _ in range(2))


def new_solver(family: str):
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)                                  # the same initial weights in every process
    if family == "dcgan":
        return dcgan.DCGAN_Solver("lsgan", batch_size=PER_PROCESS[family], device="cpu")
    return cyclegan.CycleGAN_Solver(batch_size=1, device="cpu", pool_size=0, image_size=32)


def networks(solver) -> dict:
    if isinstance(solver, dcgan.DCGAN_Solver):
        return {"G": solver.G, "D": solver.D}
    return solver.networks()


def snapshot(solver) -> dict[str, torch.Tensor]:
    out = {}
    for name, net in networks(solver).items():
        for key, p in util.unwrap(net).named_parameters():
            out[f"{name}.{key}"] = p.detach().clone()
            out[f"{name}.{key}.grad"] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
    return out


def main() -> None:
    family, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    util.init_distributed("cpu")
    world, rank = util.world_size(), util.rank()
    solver = new_solver(family)
    solver.distribute()
    b = PER_PROCESS[family]
    mine = [x[rank * b:(rank + 1) * b] for x in step_batch(family, world)]
    torch.manual_seed(100 + rank)                         # this process's noise (DCGAN's z)
    solver.train_step(*mine)
    if util.is_main_process():
        torch.save(snapshot(solver), out)
    util.close_distributed()


if __name__ == "__main__":
    main()
