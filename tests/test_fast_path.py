"""The fast path of the given training loops (util.FastPath): torch.compile + fused Adam, on the CPU here.

Same math: compared in float64, where rounding is ~1e-16 an operation, so what is left of a difference
is a difference of the computation itself; in float32 GAN training amplifies any rounding difference
(benchmarks/bench_fast_path.py prints that drift next to the drift of two eager runs nudged by one
rounding). The compiled tests take minutes on 2 cores (inductor compiles C++ kernels): `make e2e`."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest
import torch

import dcgan
import util
from helpers import float64

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_fast_path  # noqa: E402

# float64 rounding is ~1e-16 an operation; over 20 steps the measured fast-vs-eager difference grew to
# 2e-12 (DCGAN) and 1.5e-9 (CycleGAN, 4 networks, 8 passes a step); a missing or changed term of a
# loss, a skipped update or a wrong Adam moment moves the losses by 1e-3 or more
TOLERANCE = 1e-7


def compiled_and_eager(family: str, steps: int, batch: int, size: int, gan_type: str = "lsgan"):
    with float64():
        eager, _ = bench_fast_path.losses(family, False, steps, batch, size, "cpu", gan_type=gan_type)
        fast, stayed_on = bench_fast_path.losses(family, True, steps, batch, size, "cpu", gan_type=gan_type)
    return eager, fast, stayed_on


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.parametrize("family,batch,size", [("dcgan", 8, 32), ("cyclegan", 1, 32)])
def test_fast_path_losses_agree_with_eager_for_20_iterations(family, batch, size):
    eager, fast, stayed_on = compiled_and_eager(family, 20, batch, size)
    assert stayed_on, "the fast path fell back to eager on the reference"
    diffs = bench_fast_path.relative_differences(fast, eager)
    assert max(diffs) < TOLERANCE, f"fast vs eager, relative loss difference per iteration: {diffs}"
    assert any(a != b for fs, es in zip(fast, eager) for a, b in zip(fs, es)), \
        "bit-identical losses: the fast path was not taken"


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_code_the_compiler_cannot_take_falls_back_to_eager_with_one_line_and_loses_nothing():
    # a critic compiled under wgan-gp: its gradient penalty needs a double backward through D, which
    # torch.compile refuses at the first step; the trial rolls back and the run continues eagerly,
    # exactly as an eager run from the start
    def run(fast: bool):
        with float64():
            solver = bench_fast_path.new_solver("dcgan", 8, 32, "cpu", gan_type="wgan-gp")
            path = util.FastPath(solver, ["G", "D"], ["optim_G", "optim_D"], enabled=fast)
            util.set_seed(0)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                out = [path.step(solver.train_step, *data) for data in bench_fast_path.batches("dcgan", 8, 32, 3, "cpu")]
            path.off()
            return out, printed.getvalue(), solver
    eager, _, _ = run(False)
    fell_back, notice, solver = run(True)
    assert notice.count("\n") == 1 and notice.startswith("fast path off, training eagerly:")
    assert "RuntimeError" in notice         # "does not currently support double backward", or its donated-buffer
                                            # form when the critic's backward graph was compiled before
    assert fell_back == eager                                   # weights, Adam, random state all rolled back
    assert not hasattr(solver.D, "_orig_mod") and not solver.optim_D.param_groups[0]["fused"]


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_dcgan_cli_trains_with_fast_true_and_writes_plain_checkpoints(data_root, tmp_path):
    from helpers import run_cli
    ran = run_cli("dcgan.py", "--gan_type", "lsgan", "--dataset", "shapes32", "--epochs", "1", "--max_steps", "3",
                  "--batch_size", "16", "--fast", "true", "--results", str(tmp_path), data_root=data_root, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "fast path off" not in ran.stdout
    state = torch.load(tmp_path / "dcgan" / "lsgan" / "checkpoints" / "G_final.pth", weights_only=True)
    assert not any("_orig_mod" in k for k in state)            # loads into the plain generator
    dcgan.DCGAN_Generator().load_state_dict(state)


def test_fast_path_off_changes_nothing_and_unwrap_sees_through_compile():
    solver = dcgan.DCGAN_Solver("gan", device="cpu")
    G, fused = solver.G, solver.optim_G.param_groups[0].get("fused")
    path = solver.fast_path()                                  # default on a CPU: off
    assert not path.enabled and solver.G is G and solver.optim_G.param_groups[0].get("fused") == fused
    compiled = torch.compile(G)                                # lazy: nothing is compiled until called
    assert util.unwrap(compiled) is G


def test_fast_flag_is_in_both_clis_help():
    import cyclegan
    for module in (dcgan, cyclegan):
        ran = io.StringIO()
        with contextlib.redirect_stdout(ran), pytest.raises(SystemExit):
            module.main(["--help"])
        assert "--fast" in ran.getvalue() and "eager" in ran.getvalue()
