"""2.2 CycleGAN training (20 points): the unpaired dataset and every loss term.

The solver's networks are swapped for small fixed ones (grader/mocks.py): two different
per-channel affine generators and two different patch discriminators, so a term computed
with the wrong network, the wrong distance or the wrong weight gives a different value."""
import numpy as np
import pytest
import torch

from grader.questions import GENERATOR_PARAMS, cyclegan_nets as nets
from grader.probe import fresh, fresh_int, fresh_np, number
from grader.rubric import COURSE


# ----------------------------------------------------------------------------- dataset (4 points)
def timestamps(k, rng):
    """k file names like the real sets' ('2005-06-26 14:04:52.jpg'), distinct."""
    seconds = sorted(rng.choice(10**8, size=k, replace=False))
    return [f"{2000 + s // 10**7:04d}-{1 + s % 12:02d}-{1 + s % 28:02d} {s % 24:02d}:{s % 60:02d}:{s % 59:02d}"
            f"{'' if i % 2 else '_'}.jpg" for i, s in enumerate(seconds)]


def domains(k: int, robust: bool = False, a_larger: bool = False):
    """A dataset folder spec and the grey levels of A (in sorted-name order) and of B.

    Clean: RGB jpg/png with realistic names (timestamps in A, zero-padded numbers in B), |A| < |B|
    (a_larger: |A| > |B|). Robust: the same plus grayscale and RGBA images, upper-case extensions
    and junk files in both domains."""
    rng = fresh_np(k)
    shift = int(rng.integers(0, 40))
    count_a, count_b = (11, 6) if a_larger else (7, 9) if robust else (8, 10)
    names_a = sorted(timestamps(count_a, rng))   # 8! orders: a listing in directory order is caught
    names_b = sorted(f"{n:05d}.{'png' if n % 2 else 'jpg'}" for n in rng.choice(10**5, size=count_b, replace=False))
    modes_a = ["RGB"] * len(names_a)
    modes_b = ["RGB"] * len(names_b)
    if robust:
        names_a = [n.replace(".jpg", ".png") for n in names_a]
        names_a[0], names_a[2] = names_a[0][:-4] + ".PNG", names_a[2][:-4] + ".Png"
        names_b[1] = names_b[1][:-4] + names_b[1][-4:].upper()
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


def dataset_probe(probe, robust=False, a_larger=False):
    spec, names_a, levels_a, levels_b = domains(40 + robust + 2 * a_larger, robust, a_larger)
    data = probe("dataset_draws", spec=spec, draws=DRAWS, seed=fresh_int(42 + robust + 2 * a_larger))
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
    """len(dataset) == len(A) (fewer or more B images) and item i starts with A[i], A sorted by file name"""
    for a_larger in (True, False):
        data, _, levels_a, levels_b = dataset_probe(probe, a_larger=a_larger)
        assert data["len"] == len(levels_a), (f"with {len(levels_a)} A and {len(levels_b)} B images: expected "
                                              f"len(dataset) == number of A images ({len(levels_a)}), got {data['len']}")
    data, names_a, levels_a, _ = dataset_probe(probe)
    got = [nearest(draws[0][0], levels_a) for draws in data["items"]]
    assert got == list(range(len(levels_a))), \
        f"item i should be the i-th A image in file-name order ({names_a[:2]}...); got images {got}"
    assert all(len({nearest(row[0], levels_a) for row in draws}) == 1 for draws in data["items"]), \
        "A[i] must not change between calls"


@pytest.mark.student("dataloader:Summer2WinterDataset")
@pytest.mark.points(1)
def test_dataset_skips_junk_and_converts_grayscale_and_rgba_to_rgb(probe):
    """Only image files are listed (extensions in any case); grayscale and RGBA images come out as 3-channel RGB"""
    data, names_a, _, levels_b = dataset_probe(probe, robust=True)
    assert data["files_A"] == sorted(names_a), \
        f"files_A should be the sorted image files only (extensions in any case: .PNG too), got {data['files_A']}"
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
@pytest.mark.points(2)
def test_adversarial_loss(probe):
    """adv = MSE(D_B(G_A2B(A)), 1) + MSE(D_A(G_B2A(B)), 1)"""
    got, exp = student_terms(probe)
    check_term(got, "adv", exp["adv"], "adv = MSE(D_B(G_A2B(A)),1) + MSE(D_A(G_B2A(B)),1)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(2)
def test_cycle_consistency_loss(probe):
    """cycle = L1(G_B2A(G_A2B(A)), A) + L1(G_A2B(G_B2A(B)), B)"""
    got, exp = student_terms(probe)
    check_term(got, "cycle", exp["cycle"], "cycle = L1(G_B2A(G_A2B(A)),A) + L1(G_A2B(G_B2A(B)),B)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.generator_loss")
@pytest.mark.points(2)
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


def close_grad(got, expected) -> bool:
    return np.shape(got) == tuple(expected.shape) and np.allclose(got, expected.detach().numpy(), rtol=1e-4, atol=1e-7)


def discriminator_probe(probe):
    params, (A, B) = net_params(), images()
    return probe("cyclegan_discriminator_loss", params=params, A=A, B=B), nets(params), A, B


def halves() -> tuple[float, ...]:
    """The factors of the D loss a course allows: AI604's handout says "not halved"; EE898's PA2 asks for
    the LSGAN loss and leaves the factor open (the CycleGAN paper and its code halve it)."""
    return (1.0, 0.5) if COURSE == "ee898" else (1.0,)


@pytest.mark.student("cyclegan:CycleGAN_Solver.discriminator_loss")
@pytest.mark.points(2)
def test_discriminator_loss_is_mse_not_halved(probe):
    """D loss = MSE(D(real), 1) + MSE(D(fake), 0)"""
    got, n, A, B = discriminator_probe(probe)
    with torch.no_grad():
        expected = ((n["netD_B"](B) - 1) ** 2).mean() + (n["netD_B"](n["netG_A2B"](A)) ** 2).mean()
    assert isinstance(got, dict), got
    value = number(got.get("loss"), "'loss'")
    factor = min(halves(), key=lambda f: abs(value - f * float(expected)))
    check_term(got, "loss", factor * expected,
               "D loss = MSE(D(real),1) + MSE(D(fake),0)" + (" (or half of it)" if len(halves()) > 1 else ""))


@pytest.mark.student("cyclegan:CycleGAN_Solver.discriminator_loss")
@pytest.mark.points(1)
def test_discriminator_loss_detaches_the_fake(probe):
    """D loss sends no gradient into the generator (fake.detach()), and both its terms send theirs to D"""
    got, n, A, B = discriminator_probe(probe)
    assert got["G grad"] == 0, "the D loss put gradients on G_A2B: use fake.detach()"
    D = n["netD_B"]
    loss = ((D(B) - 1) ** 2).mean() + (D(n["netG_A2B"](A).detach()) ** 2).mean()
    expected = torch.autograd.grad(loss, [D.w, D.bias])
    student = got.get("D grads", [])
    assert len(student) == 2 and any(all(close_grad(g, f * e) for g, e in zip(student, expected)) for f in halves()), \
        ("D's gradient from the D loss is not the gradient of MSE(D(real), 1) + MSE(D(fake), 0): detach the fake "
         "*before* D (D must still learn from both terms), not D's output")


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


# ----------------------------------------------------------------------------- the given training loop (3 points)
POOL_SIZE = 50
FILLED_STEPS = 200      # steps after the pool is full: a fair coin gives 30-70% swaps except with p < 1e-7
EVERY = 7               # the student's process returns every 7th value of each image the discriminators saw


def train_steps_probe(probe):
    """What D_A and D_B saw in the D step of 250 calls of the student's train_step, decoded per step:
    ('real', t) this step's real image of its own domain, ('fake', s) its own domain's fake made at
    step s, ('other fake', s) / ('other real', s) the other domain's, or ('unknown', None)."""
    params = net_params()
    g = fresh(53)
    steps = POOL_SIZE + FILLED_STEPS
    A = torch.randn(steps, 3, 24, 24, generator=g).tanh()
    B = torch.randn(steps, 3, 24, 24, generator=g).tanh() * 0.8
    answer = probe("cyclegan_train_steps", params=params, A=A, B=B, seed=fresh_int(54), every=EVERY)
    assert isinstance(answer, list) and len(answer) == steps, f"expected {steps} steps, got {type(answer).__name__}"
    n = nets(params)
    flat = lambda x: x.reshape(len(x), -1)[:, ::EVERY]      # noqa: E731
    with torch.no_grad():
        kinds = {"D_A": {"real": flat(A), "fake": flat(n["netG_B2A"](B)), "other fake": flat(n["netG_A2B"](A)),
                         "other real": flat(B)},
                 "D_B": {"real": flat(B), "fake": flat(n["netG_A2B"](A)), "other fake": flat(n["netG_B2A"](B)),
                         "other real": flat(A)}}
    decoded = []
    for step in answer:
        seen = {}
        for name, table in kinds.items():
            rows = [row for x in (step.get(name, []) if isinstance(step, dict) else []) if np.ndim(x) == 2
                    and np.shape(x)[1] == table["real"].shape[1] for row in np.asarray(x, dtype=np.float32)]
            seen[name] = [decode(torch.as_tensor(row), table) for row in rows]
        decoded.append(seen)
    return decoded


def decode(row, table):
    for kind, candidates in table.items():
        error = (candidates - row).abs().amax(dim=1)
        best = int(error.argmin())
        if float(error[best]) <= 1e-5:
            return kind, best
    return "unknown", None


DOMAIN = {"D_A": ("A", "G_B2A", "G_A2B"), "D_B": ("B", "G_A2B", "G_B2A")}


@pytest.mark.student("cyclegan:CycleGAN_Solver.train_step")
@pytest.mark.points(1)
def test_each_discriminator_judges_its_own_domain_in_the_d_step(probe):
    """D step: D_A judges this step's real A and a fake made by G_B2A, D_B this step's real B and one made by G_A2B"""
    for t, seen in enumerate(train_steps_probe(probe)):
        for name, found in seen.items():
            domain, own, other = DOMAIN[name]
            kinds = [kind for kind, _ in found]
            where = f"step {t + 1}: in the D step {name} saw"
            assert "other fake" not in kinds, f"{where} a fake made by {other} (domain {'B' if domain == 'A' else 'A'}): " \
                                              f"{name} judges domain {domain}: real {domain} images and {own}'s fakes"
            assert "other real" not in kinds, f"{where} a real image of the other domain: {name} judges domain {domain}"
            assert "unknown" not in kinds, f"{where} an image that is neither this step's real {domain} nor a fake " \
                                           f"{own} made from a real image (a fake from a changed generator?)"
            assert ("real", t) in found, f"{where} no real {domain} image of this step"
            assert kinds.count("real") == 1 and kinds.count("fake") == 1, \
                f"{where} {kinds.count('real')} real and {kinds.count('fake')} fake image(s) for a batch of 1; " \
                "expected one of each (each term of the D loss once)"


@pytest.mark.student("util:ImagePool")
@pytest.mark.points(1)
def test_d_step_fakes_come_from_a_history_pool_of_50(probe):
    """The pool returns each new fake while it holds fewer than 50; then, with probability 1/2, a stored fake
    that the new one replaces"""
    decoded = train_steps_probe(probe)
    for name in ("D_A", "D_B"):
        sources = []
        for seen in decoded:
            fakes = [s for kind, s in seen[name] if kind in ("fake", "other fake")]
            sources.append(fakes[0] if len(fakes) == 1 else None)
        judged = sum(s is not None for s in sources)
        assert judged >= 0.9 * len(sources), \
            f"{name} saw exactly one fake in only {judged} of {len(sources)} D steps: the pool cannot be judged"
        pool, swaps = set(), 0
        for t, s in enumerate(sources):
            if s is None:
                continue
            if t < POOL_SIZE:
                assert s == t, (f"{name}, step {t + 1}: got the fake of step {s + 1}; while the pool holds fewer than "
                                f"{POOL_SIZE} fakes it stores the new fake and returns it")
                pool.add(t)
            elif s != t:
                assert s in pool, (f"{name}, step {t + 1}: got the fake of step {s + 1}, which a pool of {POOL_SIZE} "
                                   f"no longer holds (returned before, or never stored): a returned fake leaves the "
                                   f"pool and the new fake takes its place")
                pool.remove(s)
                pool.add(t)
                swaps += 1
        share = swaps / FILLED_STEPS
        assert 0.3 <= share <= 0.7, (f"{name}: after the pool filled, {swaps} of {FILLED_STEPS} D steps got a stored "
                                     f"fake ({share:.0%}); expected about half (each new fake is swapped for a stored "
                                     f"one with probability 1/2)")


@pytest.mark.student("cyclegan:CycleGAN_Solver.train")
@pytest.mark.points(1)
def test_learning_rate_constant_for_half_the_epochs_then_linear_to_zero(probe):
    """train(E): both optimizers keep lr for the first E // 2 epochs, then decay it linearly (by about lr / (E/2)
    an epoch) towards 0"""
    rng = fresh_np(55)
    epochs, lr = int(rng.integers(8, 13)), float(np.round(rng.uniform(1e-4, 5e-4), 6))
    seen = probe("cyclegan_lr_schedule", lr=lr, epochs=epochs, size=32)
    assert isinstance(seen, list) and len(seen) == epochs, \
        f"train({epochs}, max_steps=1) should take one step in each of {epochs} epochs, got {len(seen)} steps"
    half, tol = epochs // 2, 1e-9 * lr
    for o, name in enumerate(("optim_G", "optim_D")):
        lrs = []
        for e, step in enumerate(seen):
            values = {number(v, f"{name} lr") for v in step[o]}
            assert len(values) == 1, f"{name}: its parameter groups have different lrs at epoch {e + 1}: {values}"
            lrs.append(values.pop())
        shown = ", ".join(f"{v:.3g}" for v in lrs)
        where = f"{name} over train({epochs}) with lr {lr:g}: {shown}"
        assert all(abs(v - lr) <= tol for v in lrs[:half]), f"{where}; expected {lr:g} for epochs 1-{half}"
        steps = [lrs[e - 1] - lrs[e] for e in range(half + 2, epochs)]
        step = lrs[half + 1] - lrs[half + 2]
        assert all(a >= -tol for a in np.diff(lrs) * -1) and all(abs(d - step) <= tol for d in steps), \
            f"{where}; expected a linear decay after epoch {half}"
        assert lr / (epochs - half + 1) - tol <= step <= lr / (epochs - half - 1) + tol and lrs[-1] >= -tol, \
            f"{where}; expected it to fall by about {lr / (epochs - half):.3g} an epoch towards 0 at epoch {epochs}"
