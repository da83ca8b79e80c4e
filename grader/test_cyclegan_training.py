"""2.2 CycleGAN training (20 points): the unpaired dataset and every loss term.

The solver's networks are swapped for small fixed ones (grader/mocks.py): two different
per-channel affine generators and two different patch discriminators, so a term computed
with the wrong network, the wrong distance or the wrong weight gives a different value."""
import copy
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


def dataset_probe(dataloader, domains, probe):
    """File names, length, and what 40 draws of items 0..4 return (grey levels, channels)."""
    def run():
        ds = dataloader.Summer2WinterDataset(train=True, transform=None, root=domains)
        random.seed(1); torch.manual_seed(1)
        names = lambda files: [getattr(p, "name", str(p).rsplit("/", 1)[-1]) for p in files]   # noqa: E731
        items = [[(level(a), level(b), int(a.shape[0]), int(b.shape[0])) for a, b in (ds[i] for _ in range(12))]
                 for i in range(5)]
        return {"files_A": names(ds.files_A), "n_B": len(ds.files_B), "len": len(ds), "items": items}
    return probe("dataset", run, shared=True)


@pytest.mark.points(2)
def test_dataset_is_unpaired(dataloader, domains, probe):
    """Dataset item i is (A[i], a uniformly random B), different across calls"""
    data = dataset_probe(dataloader, domains, probe)
    for index, draws in enumerate(data["items"][:3]):
        seen = {b for _, b, _, _ in draws}
        assert len(seen) >= 3, (f"item {index}: B was one of {sorted(seen)} in 12 calls; expected a random B "
                                f"(from all 6) on every call: the dataset must be unpaired")


@pytest.mark.points(1)
def test_dataset_length_and_a_side(dataloader, domains, probe):
    """len(dataset) == len(A) and item i starts with A[i]"""
    data = dataset_probe(dataloader, domains, probe)
    assert data["len"] == 5, f"expected len(dataset) == number of A images (5), got {data['len']}"
    got = [draws[0][0] for draws in data["items"]]
    assert got == [10, 20, 30, 40, 50], f"expected A images in file-name order (levels 10..50), got {got}"
    assert all(len({a for a, _, _, _ in draws}) == 1 for draws in data["items"]), "A[i] must not change between calls"


@pytest.mark.points(1)
def test_dataset_reads_only_images_sorted_as_rgb(dataloader, domains, probe):
    """Only image files are listed, sorted by name, and returned as RGB"""
    data = dataset_probe(dataloader, domains, probe)
    assert data["files_A"] == ["a.png", "b.png", "c.png", "d.png", "e.jpg"], \
        f"files_A should be sorted images only, got {data['files_A']}"
    assert data["n_B"] == 6, f"files_B should hold the 6 images only, got {data['n_B']} entries"
    channels = {c for draws in data["items"] for _, _, ca, cb in draws for c in (ca, cb)}
    assert channels == {3}, f"grayscale files must be converted to RGB (3 channels), got {sorted(channels)}"


# ----------------------------------------------------------------------------- losses (16 points)
def nets():
    return {"netG_A2B": Affine([0.5, 0.6, 0.7], [0.1, 0.0, -0.1]), "netG_B2A": Affine([-0.8, 0.9, 1.1], [0.05, 0.02, 0.0]),
            "netD_A": PatchD([0.3, -0.2, 0.5], 0.1), "netD_B": PatchD([-0.4, 0.6, 0.2], -0.2)}


def make_solver(cyclegan, networks):
    """The student's solver with copies of the stand-in networks (probe side)."""
    solver = cyclegan.CycleGAN_Solver(device="cpu")
    for name, net in networks.items():
        setattr(solver, name, copy.deepcopy(net))
    return solver


def images():
    g = torch.Generator().manual_seed(11)
    return torch.randn(2, 3, 8, 8, generator=g).tanh(), torch.randn(2, 3, 8, 8, generator=g).tanh() * 0.7


def expected_terms(n, A, B):
    G_AB, G_BA, D_A, D_B = n["netG_A2B"], n["netG_B2A"], n["netD_A"], n["netD_B"]
    with torch.no_grad():
        adv = ((D_B(G_AB(A)) - 1) ** 2).mean() + ((D_A(G_BA(B)) - 1) ** 2).mean()
        cycle = (G_BA(G_AB(A)) - A).abs().mean() + (G_AB(G_BA(B)) - B).abs().mean()
        identity = (G_AB(B) - B).abs().mean() + (G_BA(A) - A).abs().mean()
    return {"adv": adv, "cycle": cycle, "identity": identity, "total": adv + 10 * cycle + 5 * identity}


def term(value):
    if not (torch.is_tensor(value) and value.numel() == 1 and value.is_floating_point()):
        return f"not a scalar float tensor: {type(value).__name__}"
    return value.detach().reshape(()).double()


def student_terms(cyclegan, probe):
    networks, (A, B) = nets(), images()

    def run():
        s = make_solver(cyclegan, networks)
        got = s.generator_loss(A, B)
        if not isinstance(got, dict):
            raise TypeError(f"generator_loss must return a dict, got {type(got).__name__}")
        out = {k: term(got[k]) for k in ("adv", "cycle", "identity", "total") if k in got}
        if "total" in got and torch.is_tensor(got["total"]) and got["total"].requires_grad:
            got["total"].backward()
        out["grads"] = [float(getattr(s, n).a.grad.abs().max()) if getattr(s, n).a.grad is not None else 0.0
                        for n in ("netG_A2B", "netG_B2A")]
        return out
    return probe("generator losses", run, shared=True), expected_terms(networks, A, B)


def check_term(got, key, expected, what):
    assert key in got, f"generator_loss is missing the entry '{key}'"
    value = got[key]
    assert not isinstance(value, str), f"'{key}' is {value}"
    assert abs(value - float(expected)) <= 1e-6 + 1e-4 * abs(float(expected)), \
        f"'{what}': expected {float(expected):.6f}, got {float(value):.6f}"


@pytest.mark.points(3)
def test_adversarial_loss(cyclegan, probe):
    """adv = MSE(D_B(G_A2B(A)), 1) + MSE(D_A(G_B2A(B)), 1)"""
    got, exp = student_terms(cyclegan, probe)
    check_term(got, "adv", exp["adv"], "adv = MSE(D_B(G_A2B(A)),1) + MSE(D_A(G_B2A(B)),1)")


@pytest.mark.points(3)
def test_cycle_consistency_loss(cyclegan, probe):
    """cycle = L1(G_B2A(G_A2B(A)), A) + L1(G_A2B(G_B2A(B)), B)"""
    got, exp = student_terms(cyclegan, probe)
    check_term(got, "cycle", exp["cycle"], "cycle = L1(G_B2A(G_A2B(A)),A) + L1(G_A2B(G_B2A(B)),B)")


@pytest.mark.points(3)
def test_identity_loss(cyclegan, probe):
    """identity = L1(G_A2B(B), B) + L1(G_B2A(A), A)"""
    got, exp = student_terms(cyclegan, probe)
    check_term(got, "identity", exp["identity"], "identity = L1(G_A2B(B),B) + L1(G_B2A(A),A)")


@pytest.mark.points(3)
def test_total_generator_loss_weights_10_and_5(cyclegan, probe):
    """total = adv + 10 * cycle + 5 * identity"""
    got, exp = student_terms(cyclegan, probe)
    check_term(got, "total", exp["total"], "total = adv + 10*cycle + 5*identity")


@pytest.mark.points(1)
def test_generator_loss_trains_both_generators(cyclegan, probe):
    """total.backward() gives gradients to both generators"""
    got, _ = student_terms(cyclegan, probe)
    for name, grad in zip(("netG_A2B", "netG_B2A"), got["grads"]):
        assert grad > 0, f"{name} receives no gradient from the total loss"


def discriminator_probe(cyclegan, probe):
    networks, (A, B) = nets(), images()

    def run():
        s = make_solver(cyclegan, networks)
        loss = s.discriminator_loss(s.netD_B, B, s.netG_A2B(A))
        value = term(loss)
        loss.backward()
        return {"loss": value, "G grad": float(s.netG_A2B.a.grad.abs().max()) if s.netG_A2B.a.grad is not None else 0.0,
                "D grad": float(s.netD_B.w.grad.abs().max()) if s.netD_B.w.grad is not None else 0.0}
    return probe("discriminator loss", run, shared=True), networks, A, B


@pytest.mark.points(2)
def test_discriminator_loss_is_mse_not_halved(cyclegan, probe):
    """D loss = MSE(D(real), 1) + MSE(D(fake), 0)"""
    got, n, A, B = discriminator_probe(cyclegan, probe)
    with torch.no_grad():
        expected = ((n["netD_B"](B) - 1) ** 2).mean() + (n["netD_B"](n["netG_A2B"](A)) ** 2).mean()
    check_term(got, "loss", expected, "D loss = MSE(D(real),1) + MSE(D(fake),0)")


@pytest.mark.points(1)
def test_discriminator_loss_detaches_the_fake(cyclegan, probe):
    """D loss sends no gradient into the generator (fake.detach())"""
    got, *_ = discriminator_probe(cyclegan, probe)
    assert got["G grad"] == 0, "the D loss put gradients on G_A2B: use fake.detach()"
    assert got["D grad"] > 0, "the D loss gives D no gradient"
