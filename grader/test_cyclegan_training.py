"""2.2 CycleGAN training (20 points): the unpaired dataset and every loss term.

The solver's networks are swapped for small fixed ones (grader/mocks.py): two different
per-channel affine generators and two different patch discriminators, so a term computed
with the wrong network, the wrong distance or the wrong weight gives a different value."""
import random

import pytest
import torch
from PIL import Image

from grader.mocks import Affine, PatchD


# ----------------------------------------------------------------------------- dataset (4 points)
@pytest.fixture
def domains(tmp_path):
    """trainA: 5 grey images (levels 10..50, names out of order); trainB: 6 (levels 100..150); junk files."""
    (tmp_path / "trainA").mkdir(); (tmp_path / "trainB").mkdir()
    for name, level in zip(["d.png", "b.png", "e.jpg", "a.png", "c.png"], [40, 20, 50, 10, 30]):
        Image.new("RGB", (4, 4), (level,) * 3).save(tmp_path / "trainA" / name)
    for i in range(6):
        Image.new("L", (4, 4), 100 + 10 * i).save(tmp_path / "trainB" / f"{i:02d}.png")   # grayscale files
    (tmp_path / "trainA" / "readme.txt").write_text("not an image")
    (tmp_path / "trainB" / ".DS_Store").write_bytes(b"\0\1")
    return tmp_path


def level(t):
    assert torch.is_tensor(t) and t.shape[0] == 3, f"expected an RGB image tensor [3, H, W], got {getattr(t, 'shape', t)}"
    return round(((t[0, 0, 0].item() + 1) / 2) * 255)


@pytest.mark.points(2)
def test_dataset_is_unpaired(dataloader, domains):
    """Dataset item i is (A[i], a uniformly random B), different across calls"""
    ds = dataloader.Summer2WinterDataset(train=True, transform=None, root=domains)
    random.seed(1); torch.manual_seed(1)
    for index in range(3):
        seen = {level(ds[index][1]) for _ in range(40)}
        assert len(seen) >= 4, (f"item {index}: B was one of {sorted(seen)} in 40 calls; expected a random B "
                                f"(from all 6) on every call: the dataset must be unpaired")


@pytest.mark.points(1)
def test_dataset_length_and_a_side(dataloader, domains):
    """len(dataset) == len(A) and item i starts with A[i]"""
    ds = dataloader.Summer2WinterDataset(train=True, transform=None, root=domains)
    assert len(ds) == 5, f"expected len(dataset) == number of A images (5), got {len(ds)}"
    got = [level(ds[i][0]) for i in range(5)]
    assert got == [10, 20, 30, 40, 50], f"expected A images in file-name order (levels 10..50), got {got}"


@pytest.mark.points(1)
def test_dataset_reads_only_images_sorted_as_rgb(dataloader, domains):
    """Only image files are listed, sorted by name, and returned as RGB"""
    ds = dataloader.Summer2WinterDataset(train=True, transform=None, root=domains)
    names_A = [getattr(p, "name", str(p).rsplit("/", 1)[-1]) for p in ds.files_A]
    assert names_A == ["a.png", "b.png", "c.png", "d.png", "e.jpg"], f"files_A should be sorted images only, got {names_A}"
    assert len(ds.files_B) == 6, f"files_B should hold the 6 images only, got {len(ds.files_B)} entries"
    b = ds[0][1]
    assert b.shape[0] == 3, f"grayscale files must be converted to RGB (3 channels), got {b.shape[0]}"


# ----------------------------------------------------------------------------- losses (16 points)
def make_solver(cyclegan):
    solver = cyclegan.CycleGAN_Solver(device="cpu")
    solver.netG_A2B = Affine([0.5, 0.6, 0.7], [0.1, 0.0, -0.1])
    solver.netG_B2A = Affine([-0.8, 0.9, 1.1], [0.05, 0.02, 0.0])
    solver.netD_A = PatchD([0.3, -0.2, 0.5], 0.1)
    solver.netD_B = PatchD([-0.4, 0.6, 0.2], -0.2)
    return solver


def images():
    g = torch.Generator().manual_seed(11)
    return torch.randn(2, 3, 8, 8, generator=g).tanh(), torch.randn(2, 3, 8, 8, generator=g).tanh() * 0.7


def expected_terms(s, A, B):
    G_AB, G_BA, D_A, D_B = s.netG_A2B, s.netG_B2A, s.netD_A, s.netD_B
    with torch.no_grad():
        adv = ((D_B(G_AB(A)) - 1) ** 2).mean() + ((D_A(G_BA(B)) - 1) ** 2).mean()
        cycle = (G_BA(G_AB(A)) - A).abs().mean() + (G_AB(G_BA(B)) - B).abs().mean()
        identity = (G_AB(B) - B).abs().mean() + (G_BA(A) - A).abs().mean()
    return {"adv": adv, "cycle": cycle, "identity": identity, "total": adv + 10 * cycle + 5 * identity}


def student_terms(cyclegan):
    s = make_solver(cyclegan)
    A, B = images()
    got = s.generator_loss(A, B)
    assert isinstance(got, dict), f"generator_loss must return a dict, got {type(got).__name__}"
    missing = {"adv", "cycle", "identity", "total"} - set(got)
    assert not missing, f"generator_loss is missing the entries {sorted(missing)}"
    return s, got, expected_terms(s, A, B)


def check_term(got, expected, what):
    assert torch.is_tensor(got) and got.numel() == 1 and got.is_floating_point(), f"'{what}' must be a scalar float tensor"
    assert torch.allclose(got.detach().reshape(()), expected, rtol=1e-4, atol=1e-6), \
        f"'{what}': expected {expected.item():.6f}, got {got.item():.6f}"


@pytest.mark.points(3)
def test_adversarial_loss(cyclegan):
    """adv = MSE(D_B(G_A2B(A)), 1) + MSE(D_A(G_B2A(B)), 1)"""
    _, got, exp = student_terms(cyclegan)
    check_term(got["adv"], exp["adv"], "adv = MSE(D_B(G_A2B(A)),1) + MSE(D_A(G_B2A(B)),1)")


@pytest.mark.points(3)
def test_cycle_consistency_loss(cyclegan):
    """cycle = L1(G_B2A(G_A2B(A)), A) + L1(G_A2B(G_B2A(B)), B)"""
    _, got, exp = student_terms(cyclegan)
    check_term(got["cycle"], exp["cycle"], "cycle = L1(G_B2A(G_A2B(A)),A) + L1(G_A2B(G_B2A(B)),B)")


@pytest.mark.points(3)
def test_identity_loss(cyclegan):
    """identity = L1(G_A2B(B), B) + L1(G_B2A(A), A)"""
    _, got, exp = student_terms(cyclegan)
    check_term(got["identity"], exp["identity"], "identity = L1(G_A2B(B),B) + L1(G_B2A(A),A)")


@pytest.mark.points(3)
def test_total_generator_loss_weights_10_and_5(cyclegan):
    """total = adv + 10 * cycle + 5 * identity"""
    _, got, exp = student_terms(cyclegan)
    check_term(got["total"], exp["total"], "total = adv + 10*cycle + 5*identity")


@pytest.mark.points(1)
def test_generator_loss_trains_both_generators(cyclegan):
    """total.backward() gives gradients to both generators"""
    s, got, _ = student_terms(cyclegan)
    got["total"].backward()
    for name in ("netG_A2B", "netG_B2A"):
        grad = getattr(s, name).a.grad
        assert grad is not None and grad.abs().max() > 0, f"{name} receives no gradient from the total loss"


@pytest.mark.points(2)
def test_discriminator_loss_is_mse_not_halved(cyclegan):
    """D loss = MSE(D(real), 1) + MSE(D(fake), 0)"""
    s = make_solver(cyclegan)
    A, B = images()
    fake = s.netG_A2B(A)
    got = s.discriminator_loss(s.netD_B, B, fake)
    with torch.no_grad():
        expected = ((s.netD_B(B) - 1) ** 2).mean() + (s.netD_B(fake) ** 2).mean()
    check_term(got, expected, "D loss = MSE(D(real),1) + MSE(D(fake),0)")


@pytest.mark.points(1)
def test_discriminator_loss_detaches_the_fake(cyclegan):
    """D loss sends no gradient into the generator (fake.detach())"""
    s = make_solver(cyclegan)
    A, B = images()
    s.discriminator_loss(s.netD_B, B, s.netG_A2B(A)).backward()
    assert s.netG_A2B.a.grad is None or s.netG_A2B.a.grad.abs().max() == 0, \
        "the D loss put gradients on G_A2B: use fake.detach()"
    assert s.netD_B.w.grad is not None and s.netD_B.w.grad.abs().max() > 0, "the D loss gives D no gradient"
