"""2.2 CycleGAN training (20 points): the unpaired dataset and every loss term.

The solver's networks are swapped for small fixed ones (grader/mocks.py): two different
per-channel affine generators and two different patch discriminators, so a term computed
with the wrong network, the wrong distance or the wrong weight gives a different value."""
import numpy as np
import pytest
import torch

from grader.questions import GENERATOR_PARAMS, cyclegan_nets as nets
from grader.probe import fresh, fresh_int, fresh_np, number


# ----------------------------------------------------------------------------- dataset (4 points)
def timestamps(k, rng):
    """k file names like the real sets' ('2005-06-26 14:04:52.jpg'), distinct."""
    seconds = sorted(rng.choice(10**8, size=k, replace=False))
    return [f"{2000 + s // 10**7:04d}-{1 + s % 12:02d}-{1 + s % 28:02d} {s % 24:02d}:{s % 60:02d}:{s % 59:02d}"
            f"{'' if i % 2 else '_'}.jpg" for i, s in enumerate(seconds)]


def domains(k: int, robust: bool = False):
    """A dataset folder spec and the grey levels of A (in sorted-name order) and of B.

    Clean: RGB jpg/png with realistic names (timestamps in A, zero-padded numbers in B), |A| < |B|.
    Robust: the same plus grayscale and RGBA images and junk files in both domains."""
    rng = fresh_np(k)
    shift = int(rng.integers(0, 40))
    names_a = sorted(timestamps(8 if not robust else 7, rng))   # 8! orders: a listing in directory order is caught
    names_b = sorted(f"{n:05d}.{'png' if n % 2 else 'jpg'}" for n in rng.choice(10**5, size=10 if not robust else 9,
                                                                                 replace=False))
    modes_a = ["RGB"] * len(names_a)
    modes_b = ["RGB"] * len(names_b)
    if robust:
        names_a = [n.replace(".jpg", ".png") for n in names_a]
        modes_a[1], modes_a[-1], modes_b[2] = "L", "RGBA", "L"
    levels_a = [20 + 10 * i + shift for i in range(len(names_a))]
    levels_b = [120 + 10 * j + shift for j in range(len(names_b))]
    spec = {"trainA": [[n, lv, m] for n, lv, m in zip(names_a, levels_a, modes_a)],
            "trainB": [[n, lv, m] for n, lv, m in zip(names_b, levels_b, modes_b)]}
    for folder in spec.values():
        rng.shuffle(folder)                                   # creation order is not name order
    if robust:
        spec["trainA"].append(["notes.txt", None, "not an image"])
        spec["trainB"] += [[".DS_Store", None, "junk"], ["Thumbs.db", None, "junk"]]
    return spec, names_a, levels_a, levels_b


DRAWS = 24   # per item: a uniform B misses one of 10 images in 8 x 24 draws with probability < 1e-7


def nearest(level, levels):
    """The index of the level a (possibly JPEG-rounded) grey value stands for, or None."""
    best = min(range(len(levels)), key=lambda i: abs(levels[i] - level)) if isinstance(level, int) else None
    return best if best is not None and abs(levels[best] - level) <= 3 else None


def dataset_probe(probe, robust=False):
    spec, names_a, levels_a, levels_b = domains(40 + robust, robust)
    data = probe("dataset_draws", spec=spec, draws=DRAWS, seed=fresh_int(42 + robust))
    return data, names_a, levels_a, levels_b


@pytest.mark.student("dataloader:Summer2WinterDataset.__getitem__")
@pytest.mark.points(2)
def test_dataset_is_unpaired(probe):
    """Dataset item i is (A[i], a uniformly random B), different across calls, any B possible"""
    data, _, _, levels_b = dataset_probe(probe)
    seen_all = set()
    for index, draws in enumerate(data["items"]):
        seen = {nearest(row[2], levels_b) for row in draws}
        seen_all |= seen
        assert len(seen) >= 3, (f"item {index}: {DRAWS} calls returned only {len(seen)} different B image(s); expected "
                                f"a random B (from all {len(levels_b)}) on every call: the dataset must be unpaired")
    assert seen_all == set(range(len(levels_b))), \
        f"{DRAWS * len(data['items'])} draws used only {len(seen_all - {None})} of the {len(levels_b)} B images: " \
        "draw j from all of B"


@pytest.mark.student("dataloader:Summer2WinterDataset")
@pytest.mark.points(1)
def test_dataset_length_and_a_side(probe):
    """len(dataset) == len(A) and item i starts with A[i], A sorted by file name"""
    data, names_a, levels_a, _ = dataset_probe(probe)
    assert data["len"] == len(levels_a), f"expected len(dataset) == number of A images ({len(levels_a)}), got {data['len']}"
    got = [nearest(draws[0][0], levels_a) for draws in data["items"]]
    assert got == list(range(len(levels_a))), \
        f"item i should be the i-th A image in file-name order ({names_a[:2]}...); got images {got}"
    assert all(len({nearest(row[0], levels_a) for row in draws}) == 1 for draws in data["items"]), \
        "A[i] must not change between calls"


@pytest.mark.student("dataloader:Summer2WinterDataset")
@pytest.mark.points(1)
def test_dataset_skips_junk_and_converts_grayscale_and_rgba_to_rgb(probe):
    """Only image files are listed; grayscale and RGBA images come out as 3-channel RGB"""
    data, names_a, _, levels_b = dataset_probe(probe, robust=True)
    assert data["files_A"] == names_a, f"files_A should be the sorted image files only, got {data['files_A']}"
    assert data["n_B"] == len(levels_b), f"files_B should hold the {len(levels_b)} images only, got {data['n_B']} entries"
    channels = {row[i] for draws in data["items"] for row in draws for i in (1, 3)}
    assert channels == {3}, f"grayscale and RGBA files must be converted to RGB (3 channels), got {sorted(channels)}"


# ----------------------------------------------------------------------------- losses (15 points)
def net_params():
    """Two different per-channel affine generators and two different patch critics, drawn at grading time."""
    rng = fresh_np(50)
    r = lambda lo, hi: [round(float(v), 4) for v in rng.uniform(lo, hi, 3)]   # noqa: E731
    return {"netG_A2B": [r(0.4, 0.8), r(-0.1, 0.1)], "netG_B2A": [[-r(0.6, 1.0)[0], *r(0.8, 1.2)[:2]], r(-0.1, 0.1)],
            "netD_A": [r(-0.5, 0.5), float(rng.uniform(-0.2, 0.2))], "netD_B": [r(-0.5, 0.5), float(rng.uniform(-0.2, 0.2))]}


def images():
    """The handout's settings: batch 1 at 256x256 (the stand-in D gives [1,1,30,30] patches)."""
    g = fresh(51)
    return torch.randn(1, 3, 256, 256, generator=g).tanh(), torch.randn(1, 3, 256, 256, generator=g).tanh() * 0.7


def expected_terms(n, A, B):
    """The four terms by the handout (differentiable in the generators' parameters)."""
    G_AB, G_BA, D_A, D_B = n["netG_A2B"], n["netG_B2A"], n["netD_A"], n["netD_B"]
    adv = ((D_B(G_AB(A)) - 1) ** 2).mean() + ((D_A(G_BA(B)) - 1) ** 2).mean()
    cycle = (G_BA(G_AB(A)) - A).abs().mean() + (G_AB(G_BA(B)) - B).abs().mean()
    identity = (G_AB(B) - B).abs().mean() + (G_BA(A) - A).abs().mean()
    return {"adv": adv, "cycle": cycle, "identity": identity, "total": adv + 10 * cycle + 5 * identity}


def student_terms(probe, networks=None):
    params, (A, B) = net_params(), images()
    networks = networks or nets(params)
    return probe("cyclegan_generator_loss", params=params, A=A, B=B), expected_terms(networks, A, B)


def check_term(got, key, expected, what):
    assert key in got, f"generator_loss is missing the entry '{key}'"
    value = number(got[key], f"'{key}'")
    assert abs(value - float(expected)) <= 1e-6 + 1e-4 * abs(float(expected)), \
        f"'{what}': expected {float(expected):.6f}, got {float(value):.6f}"


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(3)
def test_adversarial_loss(probe):
    """adv = MSE(D_B(G_A2B(A)), 1) + MSE(D_A(G_B2A(B)), 1)"""
    got, exp = student_terms(probe)
    check_term(got, "adv", exp["adv"], "adv = MSE(D_B(G_A2B(A)),1) + MSE(D_A(G_B2A(B)),1)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(3)
def test_cycle_consistency_loss(probe):
    """cycle = L1(G_B2A(G_A2B(A)), A) + L1(G_A2B(G_B2A(B)), B)"""
    got, exp = student_terms(probe)
    check_term(got, "cycle", exp["cycle"], "cycle = L1(G_B2A(G_A2B(A)),A) + L1(G_A2B(G_B2A(B)),B)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(3)
def test_identity_loss(probe):
    """identity = L1(G_A2B(B), B) + L1(G_B2A(A), A)"""
    got, exp = student_terms(probe)
    check_term(got, "identity", exp["identity"], "identity = L1(G_A2B(B),B) + L1(G_B2A(A),A)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(2)
def test_total_generator_loss_weights_10_and_5(probe):
    """total = adv + 10 * cycle + 5 * identity"""
    got, exp = student_terms(probe)
    check_term(got, "total", exp["total"], "total = adv + 10*cycle + 5*identity")


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(1)
def test_each_term_sends_its_gradient_to_the_generators(probe):
    """Each term alone gives both generators exactly its own gradient (no detached term)"""
    networks = nets(net_params())
    got, exp = student_terms(probe, networks)
    leaves = [getattr(networks[n.split(".")[0]], n.split(".")[1]) for n in GENERATOR_PARAMS]
    wrong = []
    for key in ("adv", "cycle", "identity", "total"):
        expected = torch.autograd.grad(exp[key], leaves, retain_graph=True)
        student = got.get("grads", {}).get(key, [])
        if len(student) != len(leaves) or not all(
                np.shape(g) == tuple(e.shape) and np.allclose(g, e.detach().numpy(), rtol=1e-3, atol=1e-6)
                for g, e in zip(student, expected)):
            wrong.append(key)
    assert not wrong, (f"the gradient of {', '.join(repr(k) for k in wrong)} on the generators is not the gradient of "
                       f"the term as defined (a term computed on detached tensors, or the wrong generator?)")


def discriminator_probe(probe):
    params, (A, B) = net_params(), images()
    return probe("cyclegan_discriminator_loss", params=params, A=A, B=B), nets(params), A, B


@pytest.mark.student("cyclegan:CycleGAN_Solver.discriminator_loss")
@pytest.mark.points(2)
def test_discriminator_loss_is_mse_not_halved(probe):
    """D loss = MSE(D(real), 1) + MSE(D(fake), 0)"""
    got, n, A, B = discriminator_probe(probe)
    with torch.no_grad():
        expected = ((n["netD_B"](B) - 1) ** 2).mean() + (n["netD_B"](n["netG_A2B"](A)) ** 2).mean()
    assert isinstance(got, dict), got
    check_term(got, "loss", expected, "D loss = MSE(D(real),1) + MSE(D(fake),0)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.discriminator_loss")
@pytest.mark.points(1)
def test_discriminator_loss_detaches_the_fake(probe):
    """D loss sends no gradient into the generator (fake.detach())"""
    got, *_ = discriminator_probe(probe)
    assert got["G grad"] == 0, "the D loss put gradients on G_A2B: use fake.detach()"
    assert got["D grad"] > 0, "the D loss gives D no gradient"


@pytest.mark.student("cyclegan:CycleGAN_Solver.__init__")
@pytest.mark.points(1)
def test_optimizers_are_adam_with_the_given_lr_and_betas(probe):
    """optim_G: Adam over both generators, optim_D over both discriminators; lr as given, betas (0.5, 0.999)"""
    lr = float(np.round(fresh_np(52).uniform(1e-4, 5e-4), 6))
    facts = probe("cyclegan_optimizers", lr=lr)
    for name, owners in (("optim_G", {"netG_A2B", "netG_B2A"}), ("optim_D", {"netD_A", "netD_B"})):
        got = facts[name]
        assert got["type"] == "Adam", f"{name} should be torch.optim.Adam, got {got['type']}"
        assert got["lr"] == [lr], f"{name}: CycleGAN_Solver(lr={lr}) should give the optimizer lr {lr}, got {got['lr']}"
        assert got["betas"] == [[0.5, 0.999]], f"{name}: expected betas (0.5, 0.999), got {got['betas']}"
        count = sum(facts["counts"][o] for o in owners)
        assert set(got["owners"]) == owners and len(got["owners"]) == count, \
            f"{name} should own exactly the parameters of {' and '.join(sorted(owners))} ({count}), got " \
            f"{len(got['owners'])} from {sorted(set(got['owners']))}"
