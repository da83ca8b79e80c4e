"""2.2 CycleGAN training (20 points): the unpaired dataset and every loss term.

The solver's networks are swapped for small fixed ones (grader/mocks.py): two different
per-channel affine generators and two different patch discriminators, so a term computed
with the wrong network, the wrong distance or the wrong weight gives a different value."""
import pytest
import torch

from grader.questions import cyclegan_nets as nets
from grader.probe import fresh, fresh_int, fresh_np


# ----------------------------------------------------------------------------- dataset (4 points)
def domains():
    """trainA: 5 grey RGB images (levels 10..50, names out of order); trainB: 6 grayscale files
    (levels 100..150); a junk file in each. Levels are shifted by a grading-time offset."""
    shift = int(fresh_np(40).integers(0, 50))
    a_names = ["d.png", "b.png", "e.jpg", "a.png", "c.png"]
    spec = {"trainA": [[n, lv + shift, "RGB"] for n, lv in zip(a_names, [40, 20, 50, 10, 30])]
            + [["readme.txt", None, "not an image"]],
            "trainB": [[f"{i:02d}.png", 100 + 10 * i + shift, "L"] for i in range(6)] + [[".DS_Store", None, "junk"]]}
    return spec, shift


def dataset_probe(probe):
    """File names, length, and what 12 draws of each item return (grey levels, channels)."""
    spec, shift = domains()
    data = probe("dataset_draws", spec=spec, draws=12, seed=fresh_int(41))
    return data, shift


def levels(draws, shift, index):
    return [(row[index] - shift) if isinstance(row, list) and len(row) == 4 else None for row in draws]


@pytest.mark.points(2)
def test_dataset_is_unpaired(probe):
    """Dataset item i is (A[i], a uniformly random B), different across calls"""
    data, shift = dataset_probe(probe)
    for index, draws in enumerate(data["items"][:3]):
        seen = {b for b in levels(draws, shift, 2)}
        assert len(seen) >= 3, (f"item {index}: B was one of {sorted(seen, key=str)} in 12 calls; expected a random "
                                f"B (from all 6) on every call: the dataset must be unpaired")


@pytest.mark.points(1)
def test_dataset_length_and_a_side(probe):
    """len(dataset) == len(A) and item i starts with A[i]"""
    data, shift = dataset_probe(probe)
    assert data["len"] == 5, f"expected len(dataset) == number of A images (5), got {data['len']}"
    got = [levels(draws, shift, 0)[0] for draws in data["items"]]
    assert got == [10, 20, 30, 40, 50], f"expected A images in file-name order (levels 10..50), got {got}"
    assert all(len(set(levels(draws, shift, 0))) == 1 for draws in data["items"]), "A[i] must not change between calls"


@pytest.mark.points(1)
def test_dataset_reads_only_images_sorted_as_rgb(probe):
    """Only image files are listed, sorted by name, and returned as RGB"""
    data, _ = dataset_probe(probe)
    assert data["files_A"] == ["a.png", "b.png", "c.png", "d.png", "e.jpg"], \
        f"files_A should be sorted images only, got {data['files_A']}"
    assert data["n_B"] == 6, f"files_B should hold the 6 images only, got {data['n_B']} entries"
    channels = {row[i] for draws in data["items"] for row in draws for i in (1, 3)}
    assert channels == {3}, f"grayscale files must be converted to RGB (3 channels), got {sorted(channels)}"


# ----------------------------------------------------------------------------- losses (16 points)
def net_params():
    """Two different per-channel affine generators and two different patch critics, drawn at grading time."""
    rng = fresh_np(50)
    r = lambda lo, hi: [round(float(v), 4) for v in rng.uniform(lo, hi, 3)]   # noqa: E731
    return {"netG_A2B": [r(0.4, 0.8), r(-0.1, 0.1)], "netG_B2A": [[-r(0.6, 1.0)[0], *r(0.8, 1.2)[:2]], r(-0.1, 0.1)],
            "netD_A": [r(-0.5, 0.5), float(rng.uniform(-0.2, 0.2))], "netD_B": [r(-0.5, 0.5), float(rng.uniform(-0.2, 0.2))]}


def images():
    g = fresh(51)
    return torch.randn(2, 3, 8, 8, generator=g).tanh(), torch.randn(2, 3, 8, 8, generator=g).tanh() * 0.7


def expected_terms(n, A, B):
    G_AB, G_BA, D_A, D_B = n["netG_A2B"], n["netG_B2A"], n["netD_A"], n["netD_B"]
    with torch.no_grad():
        adv = ((D_B(G_AB(A)) - 1) ** 2).mean() + ((D_A(G_BA(B)) - 1) ** 2).mean()
        cycle = (G_BA(G_AB(A)) - A).abs().mean() + (G_AB(G_BA(B)) - B).abs().mean()
        identity = (G_AB(B) - B).abs().mean() + (G_BA(A) - A).abs().mean()
    return {"adv": adv, "cycle": cycle, "identity": identity, "total": adv + 10 * cycle + 5 * identity}


def student_terms(probe):
    params, (A, B) = net_params(), images()
    return probe("cyclegan_generator_loss", params=params, A=A, B=B), expected_terms(nets(params), A, B)


def check_term(got, key, expected, what):
    assert key in got, f"generator_loss is missing the entry '{key}'"
    value = got[key]
    assert isinstance(value, float), f"'{key}' is {value}"
    assert abs(value - float(expected)) <= 1e-6 + 1e-4 * abs(float(expected)), \
        f"'{what}': expected {float(expected):.6f}, got {float(value):.6f}"


@pytest.mark.points(3)
def test_adversarial_loss(probe):
    """adv = MSE(D_B(G_A2B(A)), 1) + MSE(D_A(G_B2A(B)), 1)"""
    got, exp = student_terms(probe)
    check_term(got, "adv", exp["adv"], "adv = MSE(D_B(G_A2B(A)),1) + MSE(D_A(G_B2A(B)),1)")


@pytest.mark.points(3)
def test_cycle_consistency_loss(probe):
    """cycle = L1(G_B2A(G_A2B(A)), A) + L1(G_A2B(G_B2A(B)), B)"""
    got, exp = student_terms(probe)
    check_term(got, "cycle", exp["cycle"], "cycle = L1(G_B2A(G_A2B(A)),A) + L1(G_A2B(G_B2A(B)),B)")


@pytest.mark.points(3)
def test_identity_loss(probe):
    """identity = L1(G_A2B(B), B) + L1(G_B2A(A), A)"""
    got, exp = student_terms(probe)
    check_term(got, "identity", exp["identity"], "identity = L1(G_A2B(B),B) + L1(G_B2A(A),A)")


@pytest.mark.points(3)
def test_total_generator_loss_weights_10_and_5(probe):
    """total = adv + 10 * cycle + 5 * identity"""
    got, exp = student_terms(probe)
    check_term(got, "total", exp["total"], "total = adv + 10*cycle + 5*identity")


@pytest.mark.points(1)
def test_generator_loss_trains_both_generators(probe):
    """total.backward() gives gradients to both generators"""
    got, _ = student_terms(probe)
    for name, grad in zip(("netG_A2B", "netG_B2A"), got["grads"]):
        assert grad > 0, f"{name} receives no gradient from the total loss"


def discriminator_probe(probe):
    params, (A, B) = net_params(), images()
    return probe("cyclegan_discriminator_loss", params=params, A=A, B=B), nets(params), A, B


@pytest.mark.points(2)
def test_discriminator_loss_is_mse_not_halved(probe):
    """D loss = MSE(D(real), 1) + MSE(D(fake), 0)"""
    got, n, A, B = discriminator_probe(probe)
    with torch.no_grad():
        expected = ((n["netD_B"](B) - 1) ** 2).mean() + (n["netD_B"](n["netG_A2B"](A)) ** 2).mean()
    check_term(got, "loss", expected, "D loss = MSE(D(real),1) + MSE(D(fake),0)")


@pytest.mark.points(1)
def test_discriminator_loss_detaches_the_fake(probe):
    """D loss sends no gradient into the generator (fake.detach())"""
    got, *_ = discriminator_probe(probe)
    assert got["G grad"] == 0, "the D loss put gradients on G_A2B: use fake.detach()"
    assert got["D grad"] > 0, "the D loss gives D no gradient"
