"""Training and evaluation end to end on the small offline sets, and the CLIs' error handling."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cyclegan
import dcgan
import util
from helpers import run_cli, run_script

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("gan_type", dcgan.GAN_TYPES)
def test_dcgan_trains_on_offline_set_and_reloads(gan_type, data_root, tmp_path):
    solver = dcgan.DCGAN_Solver(gan_type, batch_size=16, num_workers=0, device="cpu",
                                dataset="shapes32", results_dir=tmp_path)
    z = torch.randn(8, dcgan.LATENT_DIM, generator=torch.Generator().manual_seed(0))
    solver.G.eval()
    with torch.no_grad():
        before = solver.G(z)
    history = solver.train(2, max_steps=4, save_every=1)
    assert len(history) == 2 and all(math.isfinite(v) for pair in history for v in pair)
    solver.G.eval()
    with torch.no_grad():
        after = solver.G(z)
    assert (after - before).abs().mean() > 1e-3                 # the generator moved
    ckpt = tmp_path / "dcgan" / gan_type / "checkpoints"
    assert (ckpt / "G_final.pth").is_file() and (ckpt / "G_epoch_002.pth").is_file()
    assert len(list((tmp_path / "dcgan" / gan_type / "images").glob("epoch_*.png"))) == 2
    if gan_type == "wgan":
        assert all(p.abs().max() <= dcgan.CLIP_VALUE + 1e-7 for p in solver.D.parameters())
    fresh = dcgan.DCGAN_Solver(gan_type, device="cpu", dataset="shapes32", results_dir=tmp_path)
    fresh.test(num_samples=6, metrics="none")
    assert all(torch.equal(a, b) for a, b in zip(fresh.G.state_dict().values(), solver.G.state_dict().values()))
    assert len(list((tmp_path / "dcgan" / gan_type / "evaluation").glob("*.png"))) == 6


def test_dcgan_resume_continues_from_last_epoch(data_root, tmp_path):
    solver = dcgan.DCGAN_Solver("lsgan", batch_size=8, num_workers=0, device="cpu", dataset="shapes32",
                                results_dir=tmp_path)
    solver.train(1, max_steps=2)
    resumed = dcgan.DCGAN_Solver("lsgan", batch_size=8, num_workers=0, device="cpu", dataset="shapes32",
                                 results_dir=tmp_path)
    assert len(resumed.train(3, resume=True, max_steps=2)) == 2       # epochs 2 and 3 only


def test_dcgan_cli_bad_inputs_are_one_line_errors(tmp_path, offline_root):
    bad_type = run_cli("dcgan.py", "--gan_type", "vae", data_root=offline_root, cwd=tmp_path)
    assert bad_type.returncode == 2 and "invalid choice: 'vae'" in bad_type.stderr
    no_ckpt = run_cli("dcgan.py", "--gan_type", "gan", "--train", "false", "--dataset", "shapes32",
                      data_root=offline_root, cwd=tmp_path)
    assert no_ckpt.returncode == 2 and "Traceback" not in no_ckpt.stderr
    assert no_ckpt.stderr.strip().startswith("error: checkpoint not found") and "G_final.pth" in no_ckpt.stderr
    no_data = run_cli("dcgan.py", "--dataset", "shapes32", "--epochs", "1", data_root=tmp_path / "empty", cwd=tmp_path)
    assert no_data.returncode == 2 and "make_offline_data.py" in no_data.stderr and "Traceback" not in no_data.stderr
    bad_bool = run_cli("dcgan.py", "--train", "maybe", data_root=offline_root, cwd=tmp_path)
    assert bad_bool.returncode == 2 and "expected true or false" in bad_bool.stderr


def test_dcgan_evaluation_without_inception_weights_names_the_fix(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_KIT_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    solver = dcgan.DCGAN_Solver("gan", device="cpu", dataset="shapes32", results_dir=tmp_path)
    util.save_checkpoint(solver.G, tmp_path / "dcgan" / "gan" / "checkpoints" / "G_final.pth")
    with pytest.raises(util.KitError, match="weights-inception-2015-12-05-6726825d.pth.*--metrics none"):
        solver.test(num_samples=4)
    assert not (tmp_path / "dcgan" / "gan" / "evaluation").exists()      # said before any sampling


def test_dcgan_cli_progress_follows_max_steps_and_evaluation_finds_the_training_dataset(data_root, tmp_path):
    trained = run_script("dcgan.py", "--dataset", "shapes32", "--epochs", "1", "--max_steps", "3", "--batch_size", "8",
                      "--results", str(tmp_path), data_root=data_root, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert " 0/3 " in trained.stderr and f"/{len(list((data_root / 'shapes32' / 'train').iterdir())) // 8}" \
        not in trained.stderr                                          # the bar counts the capped epoch
    evaluated = run_cli("dcgan.py", "--train", "false", "--metrics", "none", "--num_samples", "5",
                        "--results", str(tmp_path), data_root=data_root, cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "--dataset shapes32" in evaluated.stdout                    # not the cifar10 default
    assert len(list((tmp_path / "dcgan" / "gan" / "evaluation").glob("*.png"))) == 5
    interpolation = tmp_path / "dcgan" / "gan" / "interpolation.png"
    assert str(interpolation) in evaluated.stdout                     # printed, next to the samples
    from PIL import Image
    assert Image.open(interpolation).size == (2 + 10 * 34, 2 + 8 * 34)  # 8 pairs x 10 steps of 32 px


@pytest.mark.parametrize("epoch,factor", [(0, 1.0), (4, 1.0), (5, 1.0), (6, 0.8), (9, 0.2)])
def test_cyclegan_lr_is_constant_then_decays_linearly_to_zero(epoch, factor):
    assert cyclegan.lr_factor(epoch, 10) == pytest.approx(factor)
    assert cyclegan.lr_factor(10, 10) == 0.0


def test_cyclegan_trains_and_evaluates_with_ground_truth(data_root, tmp_path):
    solver = cyclegan.CycleGAN_Solver(batch_size=2, num_workers=0, device="cpu", dataset="seasons",
                                      image_size=32, results_dir=tmp_path)
    history = solver.train(2, max_steps=2, save_every=1)
    assert len(history) == 2 and all(math.isfinite(v) for h in history for v in h.values())
    assert solver.optim_G.param_groups[0]["lr"] == pytest.approx(0.0)   # decayed to 0 at the end
    out = tmp_path / "cyclegan"
    assert {p.name for p in (out / "checkpoints").glob("*_final.pth")} == \
        {"G_A2B_final.pth", "G_B2A_final.pth", "D_A_final.pth", "D_B_final.pth"}
    grids = sorted((out / "images").glob("epoch_*.png"))
    assert len(grids) == 2
    from PIL import Image
    assert Image.open(grids[0]).size == (2 + 4 * (32 + 2), 2 + 8 * (32 + 2))   # 4 test pairs, 8 rows
    # --train false through the CLI, no Inception weights needed with --metrics none; the dataset and
    # size come from what training recorded
    result = run_cli("cyclegan.py", "--train", "false", "--metrics", "none", "--results", str(tmp_path),
                     data_root=data_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--dataset seasons --image_size 32" in result.stdout
    scores = json.loads((out / "scores.json").read_text())
    assert scores["A2B"]["n"] == 4 and scores["B2A"]["n"] == 3
    assert 0 < scores["A2B"]["l1"] < 1 and scores["A2B"]["psnr"] > 0
    assert len(list((out / "evaluation" / "A2B").glob("*.png"))) == 4
    assert "A2B" in result.stdout and "psnr" in result.stdout


def test_cyclegan_evaluation_without_inception_weights_stops_before_translating(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_KIT_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    solver = cyclegan.CycleGAN_Solver(device="cpu", dataset="seasons", image_size=32, results_dir=tmp_path)
    for name, net in solver.networks().items():
        util.save_checkpoint(net, tmp_path / "cyclegan" / "checkpoints" / f"{name}_final.pth")
    with pytest.raises(util.KitError, match="Inception weights.*--metrics none"):
        solver.test()
    assert not (tmp_path / "cyclegan" / "evaluation").exists()


def test_cyclegan_without_checkpoints_fails_cleanly(offline_root, tmp_path):
    result = run_script("cyclegan.py", "--train", "false", "--dataset", "seasons", "--results", str(tmp_path),
                     data_root=offline_root, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "checkpoint not found" in result.stderr and "G_A2B_final.pth" in result.stderr


def test_cyclegan_missing_dataset_names_download_and_offline_option(tmp_path):
    result = run_cli("cyclegan.py", "--epochs", "1", data_root=tmp_path, cwd=tmp_path)
    assert result.returncode == 2
    assert "download_dataset.sh" in result.stderr and "--dataset seasons" in result.stderr


def test_cyclegan_steps_touch_only_their_own_networks():
    torch.manual_seed(0)
    solver = cyclegan.CycleGAN_Solver(device="cpu", pool_size=0)
    ids = lambda *nets: {id(p) for n in nets for p in n.parameters()}   # noqa: E731
    in_opt = lambda opt: {id(p) for g in opt.param_groups for p in g["params"]}   # noqa: E731
    assert in_opt(solver.optim_G) == ids(solver.netG_A2B, solver.netG_B2A)
    assert in_opt(solver.optim_D) == ids(solver.netD_A, solver.netD_B)
    snapshot = {k: [p.detach().clone() for p in n.parameters()] for k, n in solver.networks().items()}
    for group in solver.optim_D.param_groups:
        group["lr"] = 0.0                                   # only the generator step may move anything
    solver.train_step(torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32))
    moved = {k: any(not torch.equal(a, b) for a, b in zip(snapshot[k], n.parameters()))
             for k, n in solver.networks().items()}
    assert moved == {"G_A2B": True, "G_B2A": True, "D_A": False, "D_B": False}


def test_cyclegan_on_a_folder_of_ones_own_trains_and_evaluates_with_9_blocks(offline_root, tmp_path):
    import shutil
    own = tmp_path / "my_photos"                       # any name, outside the kit's data folder
    shutil.copytree(offline_root / "seasons", own)
    trained = run_cli("cyclegan.py", "--dataroot", str(own), "--n_blocks", "9", "--image_size", "32",
                      "--epochs", "1", "--max_steps", "2", "--results", str(tmp_path / "r"),
                      data_root=tmp_path / "empty", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    recorded = json.loads((tmp_path / "r" / "cyclegan" / "checkpoints" / "run.json").read_text())
    assert recorded["dataroot"] == str(own.resolve()) and recorded["n_blocks"] == 9
    evaluated = run_cli("cyclegan.py", "--train", "false", "--metrics", "none", "--results", str(tmp_path / "r"),
                        data_root=tmp_path / "empty", cwd=tmp_path)      # finds the folder and the 9 blocks
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"--dataroot {own.resolve()}" in evaluated.stdout and "--n_blocks 9" in evaluated.stdout
    scores = json.loads((tmp_path / "r" / "cyclegan" / "scores.json").read_text())
    assert scores["A2B"]["n"] == len(list((own / "testA").iterdir()))


def test_cyclegan_folder_without_trainB_is_a_one_line_error(tmp_path):
    (tmp_path / "mine" / "trainA").mkdir(parents=True)
    result = run_cli("cyclegan.py", "--dataroot", str(tmp_path / "mine"), "--epochs", "1",
                     data_root=tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:")
    assert "trainB/" in result.stderr and str(tmp_path / "mine") in result.stderr


def test_cyclegan_known_set_not_downloaded_names_its_download_command(tmp_path):
    result = run_cli("cyclegan.py", "--dataset", "horse2zebra", "--epochs", "1", data_root=tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "bash data/download_dataset.sh horse2zebra" in result.stderr


def test_generator_with_9_blocks_has_the_papers_parameter_count():
    # the paper's resnet_9blocks (junyanz/pytorch-CycleGAN-and-pix2pix: 11,378,179 parameters) less the
    # final conv's 3 biases that Table 2 leaves out; each extra block is two 3x3 convs 256->256 with bias
    block = 2 * (256 * 256 * 9 + 256)
    assert cyclegan.count_parameters(cyclegan.make_generator(9)) == 11_378_179 - 3
    assert cyclegan.count_parameters(cyclegan.make_generator(6)) == 11_378_176 - 3 * block
    assert cyclegan.count_parameters(cyclegan.make_generator()) == cyclegan.count_parameters(cyclegan.CycleGAN_Generator())


def test_a_generator_that_ignores_n_blocks_is_said_not_trained(monkeypatch):
    class SixBlocksAlways(cyclegan.CycleGAN_Generator):
        def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=6):
            super().__init__(input_nc, output_nc, ngf)             # drops n_blocks

    class NoNBlocks(cyclegan.CycleGAN_Generator):
        def __init__(self, input_nc=3, output_nc=3, ngf=64):
            super().__init__(input_nc, output_nc, ngf)

    monkeypatch.setattr(cyclegan, "CycleGAN_Generator", SixBlocksAlways)
    with pytest.raises(util.KitError, match="n_blocks 9.*expected 11,378,176"):
        cyclegan.make_generator(9)
    monkeypatch.setattr(cyclegan, "CycleGAN_Generator", NoNBlocks)
    with pytest.raises(util.KitError, match="does not take n_blocks"):
        cyclegan.make_generator(9)
    assert cyclegan.count_parameters(cyclegan.make_generator(6)) > 0       # the default never asks


def test_dcgan_interpolation_grid_ends_are_exactly_G_of_z0_and_z1():
    torch.manual_seed(0)
    solver = dcgan.DCGAN_Solver("gan", device="cpu")
    grid = solver.interpolation_grid(pairs=3, steps=5, seed=7)
    gen = torch.Generator().manual_seed(7)
    z0, z1 = (torch.randn(3, dcgan.LATENT_DIM, generator=gen) for _ in range(2))
    with torch.no_grad():
        ends = solver.G.eval()(z0), solver.G(z1)
    rows = grid.view(3, 5, *grid.shape[1:])
    assert torch.equal(rows[:, 0], ends[0]) and torch.equal(rows[:, -1], ends[1])
    assert not torch.allclose(rows[:, 2], ends[0]) and not torch.allclose(rows[:, 2], ends[1])


def test_slerp_stays_on_the_sphere_and_lerp_would_not():
    gen = torch.Generator().manual_seed(0)
    z0, z1 = (torch.nn.functional.normalize(torch.randn(16, 256, generator=gen), dim=1) for _ in range(2))
    for t in (0.25, 0.5, 0.75):
        assert torch.allclose(dcgan.slerp(z0, z1, t).norm(dim=1), torch.ones(16), atol=1e-5)
    assert ((z0 + z1) / 2).norm(dim=1).max() < 0.9                  # the straight line cuts inside
    assert torch.allclose(dcgan.slerp(z0, z0, 0.5), z0, atol=1e-6)   # parallel rows: no division by zero


def test_demo_learning_numbers_run_and_noise_is_measured_against_the_data(offline_root, tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import dcgan_learns
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    checkerboard = (torch.arange(4).view(4, 1) + torch.arange(4)).remainder(2).float() * 2 - 1   # +-1 alternating
    assert dcgan_learns.busyness(checkerboard.expand(2, 3, 4, 4)) == pytest.approx(2.0)
    assert dcgan_learns.busyness(torch.zeros(2, 3, 4, 4)) == 0.0
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "dcgan_learns.py"), "--epochs", "2", "--steps", "2",
                          "--batch_size", "8", "--results", str(tmp_path)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GAN_KIT_DATA": str(offline_root)})
    assert out.returncode == 0, out.stderr
    assert "epoch 0 (untrained)" in out.stdout and "noise" in out.stdout
    assert (tmp_path / "dcgan" / "gan" / "images" / "first_vs_last_epoch.png").is_file()
