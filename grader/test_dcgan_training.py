"""1.2 DCGAN training (20 points): the four losses, GPLoss, detach, clipping, the training step,
the optimizers.

The solver's G and D are swapped for small stand-in networks (grader/mocks.py) built from seeds
drawn at grading time, so every expected value and gradient below is computed here, in the judge,
from the loss definitions in the handout. For 'gan', the student's own D decides the convention:
a D that outputs probabilities (Table 1) is trained with BCE, a D that outputs logits with
BCE-with-logits; the stand-in critic follows the same convention, and the objective is the same."""
import numpy as np
import pytest
import torch

from grader.mocks import Critic, LinearG
from grader.probe import ProbeError, for_each, fresh, fresh_int, fresh_np, number

GAN_TYPES = ("gan", "lsgan", "wgan", "wgan-gp")
STEP_LR = 0.01      # the train_step test swaps in SGD: Adam's first step, sign(g), flips on float noise
STEP_RTOL = 1e-3    # ... and compares each step's parameters to within 1e-3 of the step's own update


# ----------------------------------------------------------------------------- inputs and formulas
def d_outputs_probabilities(probe) -> bool:
    """Does the student's D('gan') output probabilities (else logits)? Table 1 if it cannot run."""
    x = torch.randn(64, 3, 32, 32, generator=fresh(90))   # a logit D lands all 64 in [0, 1] with p ~ 2^-64
    try:
        out = np.asarray(probe("dcgan_discriminator_outputs", x=x, seed=fresh_int(91)), dtype=float)
    except (ProbeError, TypeError, ValueError):
        return True
    return bool(out.size and np.all((out >= 0) & (out <= 1)))


def nets(probe, gan_type, k=0, **critic):
    """(G seed, critic settings) for the student's process and the judge's own copies of both."""
    prob = gan_type == "gan" and d_outputs_probabilities(probe)
    settings = {"seed": fresh_int(100 + k), "prob": prob, "scale": 0.05, **critic}
    g_seed = fresh_int(200 + k)
    return g_seed, settings, LinearG(g_seed), Critic(**settings)


def batch(n=6, k=0):
    g = fresh(300 + k)
    return torch.randn(n, 3, 32, 32, generator=g).tanh(), torch.randn(n, 256, generator=g)


def probability(D, x):
    out = D(x).view(-1)
    return out if D.prob else torch.sigmoid(out)


def expected_d_loss(gan_type, D, real, fake, x_hat=None):
    """lossD by the handout (differentiable in D's parameters)."""
    if gan_type == "gan":
        return -torch.log(probability(D, real)).mean() - torch.log(1 - probability(D, fake)).mean()
    d_real, d_fake = D(real).view(-1), D(fake).view(-1)
    if gan_type == "lsgan":
        return 0.5 * (((d_real - 1) ** 2).mean() + (d_fake ** 2).mean())
    loss = -d_real.mean() + d_fake.mean()
    if gan_type == "wgan-gp":
        x_hat = x_hat.detach().requires_grad_(True)
        grad = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)[0]
        loss = loss + 10 * ((grad.reshape(len(x_hat), -1).norm(dim=1) - 1) ** 2).mean()
    return loss


def expected_g_loss(gan_type, D, fake):
    if gan_type == "gan":
        return -torch.log(probability(D, fake)).mean()
    d_fake = D(fake).view(-1)
    return ((d_fake - 1) ** 2).mean() if gan_type == "lsgan" else -d_fake.mean()


def check(got, expected, what):
    expected = float(expected)
    assert isinstance(got, float), f"{what}: expected a scalar loss, got {got!r}"[:300]
    got = number(got, what)
    assert abs(got - expected) <= 1e-5 + 1e-4 * abs(expected), f"{what}: expected {expected:.6f}, got {got:.6f}"


def close(got, expected, atol=1e-6, rtol=1e-4) -> bool:
    return not isinstance(got, str) and np.shape(got) == tuple(expected.shape) and \
        torch.allclose(torch.as_tensor(np.asarray(got, dtype=np.float64)), expected.double(), rtol=rtol, atol=atol)


def after_step(got, before: torch.Tensor, after: torch.Tensor) -> bool:
    """The student's parameters after one step equal the judge's, to within STEP_RTOL of that step's update
    (the update is what a mistake changes; the parameters' own size would hide a small one)."""
    update = float((after - before).abs().max())
    return close(got, after, atol=1e-7 + STEP_RTOL * update, rtol=0.0)


def every_type(check_one) -> None:
    for_each(GAN_TYPES, check_one, "for all four GAN types")


def d_step(probe, gan_type, **critic):
    """The student's lossD, critic inputs and gradients on fresh inputs, with the judge's copies."""
    g_seed, settings, G, D = nets(probe, gan_type, **critic)
    real, z = batch()
    answer = probe("dcgan_step", action="d_loss", gan_type=gan_type, g_seed=g_seed, critic=settings, real=real, z=z,
                   seed=fresh_int(400))
    return answer, G, D, real, z


def interpolates(answer, real, fake):
    inputs = answer["inputs"] if isinstance(answer, dict) and isinstance(answer.get("inputs"), list) else []
    others = [torch.as_tensor(x) for x in inputs if np.shape(x) == tuple(real.shape)
              and not np.allclose(x, real, atol=1e-6) and not np.allclose(x, fake, atol=1e-6)]
    assert others, "the critic was never evaluated on interpolates x_hat = a*x + (1-a)*G(z)"
    return others[-1].float()


def expected_for(answer, gan_type, G, D, real, z):
    with torch.no_grad():
        fake = G(z)
    x_hat = interpolates(answer, real, fake) if gan_type == "wgan-gp" else None
    return expected_d_loss(gan_type, D, real, fake, x_hat)


# ----------------------------------------------------------------------------- lossD values (9)
@pytest.mark.student("dcgan:DCGAN_Solver.d_loss")
@pytest.mark.points(2)
def test_gan_d_loss_is_bce_real_1_fake_0(probe):
    """GAN lossD = BCE(D(x),1) + BCE(D(G(z)),0)"""
    answer, G, D, real, z = d_step(probe, "gan")
    check(answer["loss"], expected_for(answer, "gan", G, D, real, z), "GAN lossD = BCE(D(x),1) + BCE(D(G(z)),0)")


@pytest.mark.student("dcgan:DCGAN_Solver.d_loss")
@pytest.mark.points(2)
def test_lsgan_d_loss_is_half_mse(probe):
    """LSGAN lossD = 0.5 * (MSE(D(x),1) + MSE(D(G(z)),0))"""
    answer, G, D, real, z = d_step(probe, "lsgan")
    check(answer["loss"], expected_for(answer, "lsgan", G, D, real, z),
          "LSGAN lossD = 0.5 * (mean (D(x)-1)^2 + mean D(G(z))^2)")


@pytest.mark.student("dcgan:DCGAN_Solver.d_loss")
@pytest.mark.points(2)
def test_wgan_d_loss_is_fake_minus_real(probe):
    """WGAN lossD = -mean D(x) + mean D(G(z))"""
    answer, G, D, real, z = d_step(probe, "wgan")
    check(answer["loss"], expected_for(answer, "wgan", G, D, real, z), "WGAN lossD = -mean D(x) + mean D(G(z))")


@pytest.mark.student("dcgan:DCGAN_Solver.d_loss")
@pytest.mark.points(2)
def test_wgan_gp_d_loss_adds_10_times_the_penalty(probe):
    """WGAN-GP lossD = -mean D(x) + mean D(G(z)) + 10 * mean_b (||dD/dx_hat||_2 - 1)^2"""
    answer, G, D, real, z = d_step(probe, "wgan-gp", c=0.05)
    check(answer["loss"], expected_for(answer, "wgan-gp", G, D, real, z),
          "WGAN-GP lossD (critic terms + 10 * gradient penalty at the interpolates)")


@pytest.mark.student("dcgan:DCGAN_Solver.d_loss")
@pytest.mark.points(1)
def test_wgan_gp_interpolates_with_one_uniform_alpha_per_sample(probe):
    """WGAN-GP interpolates x_hat = a*x + (1-a)*G(z) with a ~ U[0,1] per sample"""
    answer, G, _, real, z = d_step(probe, "wgan-gp", c=0.05)
    with torch.no_grad():
        fake = G(z)
    x_hat = interpolates(answer, real, fake)
    d = (real - fake).reshape(len(real), -1)
    alpha = ((x_hat - fake).reshape(len(real), -1) * d).sum(1) / (d * d).sum(1)
    rebuilt = fake + alpha.view(-1, 1, 1, 1) * (real - fake)
    assert torch.allclose(rebuilt, x_hat, atol=1e-5), \
        "x_hat is not a*x + (1-a)*G(z) with a single a per sample (shape [B,1,1,1])"
    outside = [round(a, 2) for a in alpha.tolist() if not -1e-6 <= a <= 1 + 1e-6]
    assert not outside, f"a must lie in [0, 1] (uniform), got values {outside[:4]}"
    assert alpha.std() > 1e-3, "every sample got the same a: draw one a per sample"


@pytest.mark.student("dcgan:DCGAN_Solver.d_loss", "dcgan:DCGAN_Solver.g_loss")
@pytest.mark.points(1)
def test_losses_run_g_as_the_training_loop_has_it(probe):
    """lossD and lossG judge G(z) from G in training mode (its BatchNorm on the batch), for every type"""
    shift = float(np.round(fresh_np(450).uniform(0.3, 0.6), 3))     # a stand-in G whose eval mode draws other images

    def one(gan_type):
        g_seed, settings, _, _ = nets(probe, gan_type, **({"c": 0.05} if gan_type == "wgan-gp" else {}))
        G = LinearG(g_seed, shift)
        real, z = batch()
        with torch.no_grad():
            trained, evaluated = G.train()(z), G.eval()(z)
        for action in ("d_loss", "g_loss"):
            answer = probe("dcgan_step", action=action, gan_type=gan_type, g_seed=g_seed, critic=settings, real=real,
                           z=z, seed=fresh_int(451), g_eval_shift=shift)
            seen = [torch.as_tensor(np.asarray(x, dtype=np.float32)) for x in answer.get("inputs", [])
                    if np.shape(x) == tuple(real.shape)]
            assert not any(torch.allclose(x, evaluated, atol=1e-5) for x in seen), \
                f"{action}: D judged G(z) from G in eval mode; the training loop runs G in training mode"
            assert any(torch.allclose(x, trained, atol=1e-5) for x in seen), \
                f"{action}: D never judged G(z) (G in training mode, on the z given)"
    every_type(one)


# ----------------------------------------------------------------------------- lossG (2)
@pytest.mark.student("dcgan:DCGAN_Solver.g_loss")
@pytest.mark.points(2)
def test_g_loss_for_every_type(probe):
    """lossG: GAN BCE(D(G(z)),1); LSGAN MSE(D(G(z)),1); WGAN and WGAN-GP -mean D(G(z))"""
    def one(gan_type):
        g_seed, settings, G, D = nets(probe, gan_type)
        _, z = batch()
        answer = probe("dcgan_step", action="g_loss", gan_type=gan_type, g_seed=g_seed, critic=settings, z=z)
        with torch.no_grad():
            expected = expected_g_loss(gan_type, D, G(z))
        check(answer["loss"], expected, "lossG")
    every_type(one)


# ----------------------------------------------------------------------------- GPLoss (3)
PENALTY_CASES = {"zero": "zero gradient -> 1", "unit": "unit gradient -> 0",
                 "scaled": "linear critic |w| = 2.5 -> 2.25", "quadratic": "quadratic critic 0.07/2 |x|^2"}


@pytest.mark.student("dcgan:GPLoss.forward")
@pytest.mark.points(1)
def test_gp_loss_analytic_cases(probe):
    """GPLoss(y, x) = mean_b (||dy/dx_b||_2 - 1)^2, norm over all pixels of a sample"""
    n = 2 + int(fresh_np(499).integers(0, 4))
    shape = (n, 3, 8, 8)
    u = torch.randn(*shape, generator=fresh(500))
    u = u / u.reshape(n, -1).norm(dim=1).view(-1, 1, 1, 1)
    x = torch.randn(*shape, generator=fresh(501))
    wrong = []
    for case, what in PENALTY_CASES.items():
        expected = {"zero": 1.0, "unit": 0.0, "scaled": 2.25,
                    "quadratic": float(((0.07 * x.reshape(n, -1).norm(dim=1) - 1) ** 2).mean())}[case]
        got = probe("gp_penalty", case=case, u=u, x=x)
        if not isinstance(got, float) or abs(got - expected) > 1e-5 + 1e-4 * abs(expected):
            wrong.append(f"{what}: expected {expected:.6f}, got {got}")
    assert not wrong, "GPLoss, " + "; ".join(wrong)


@pytest.mark.student("dcgan:GPLoss.forward")
@pytest.mark.points(1)
def test_gp_loss_backpropagates_into_the_critic(probe):
    """GPLoss uses create_graph=True: its gradient reaches D's weights"""
    settings = {"seed": fresh_int(600), "scale": 0.05}
    critic = Critic(**settings)
    x = torch.randn(4, 3, 32, 32, generator=fresh(601))
    grad = probe("gp_backprop", critic=settings, x=x)["grad"]
    assert not isinstance(grad, str), "no gradient reached D: use create_graph=True in torch.autograd.grad"
    w = critic.w.detach()
    expected = 2 * (w.norm() - 1) * w / w.norm()   # d/dw (|w| - 1)^2
    assert close(grad, expected, atol=1e-5), "the gradient of GPLoss reaching D is wrong"


# ----------------------------------------------------------------------------- gradients (2)
@pytest.mark.student("dcgan:DCGAN_Solver.d_loss")
@pytest.mark.points(1)
def test_d_loss_sends_its_gradient_to_d_and_none_to_g(probe):
    """lossD.backward(): D gets exactly the gradient of lossD; G none (G(z).detach())"""
    def one(gan_type):
        answer, G, D, real, z = d_step(probe, gan_type, **({"c": 0.05} if gan_type == "wgan-gp" else {}))
        assert isinstance(answer["G"], str) or not np.any(answer["G"]), "lossD put gradients on G (detach the fake)"
        expected = torch.autograd.grad(expected_for(answer, gan_type, G, D, real, z), [D.w, D.b])
        got = answer["D"]
        assert close(got.get("w"), expected[0]) and close(got.get("b"), expected[1], atol=1e-5), \
            "D's gradient is not the gradient of lossD (is a term computed on detached outputs?)"
    every_type(one)


@pytest.mark.student("dcgan:DCGAN_Solver.g_loss")
@pytest.mark.points(1)
def test_g_loss_sends_its_gradient_to_g(probe):
    """lossG.backward(): G gets exactly the gradient of lossG (no detach in the G step)"""
    def one(gan_type):
        g_seed, settings, G, D = nets(probe, gan_type)
        _, z = batch()
        answer = probe("dcgan_step", action="g_loss", gan_type=gan_type, g_seed=g_seed, critic=settings, z=z)
        expected = torch.autograd.grad(expected_g_loss(gan_type, D, G(z)), G.weight)[0]
        assert not isinstance(answer["G"], str), "lossG gives G no gradient (no detach in the G step)"
        assert close(answer["G"], expected, atol=1e-7), "G's gradient is not the gradient of lossG"
    every_type(one)


# ----------------------------------------------------------------------------- clipping (1)
@pytest.mark.student("dcgan:DCGAN_Solver.clip_weights")
@pytest.mark.points(1)
def test_clip_weights_clamps_every_d_parameter_and_leaves_g(probe):
    """clip_weights clamps every D parameter (BatchNorm's included) to [-0.01, 0.01], G untouched"""
    g_seed, settings, G, D = nets(probe, "wgan", scale=1.0, bn=True)
    after = probe("dcgan_step", action="clip", gan_type="wgan", g_seed=g_seed, critic=settings)
    for name, p in D.named_parameters():
        got = after["D"].get(name)
        assert got is not None and np.array_equal(got, p.detach().clamp(-0.01, 0.01).numpy()), \
            f"D parameter {name} is not clamped to [-0.01, 0.01] (every parameter of D, BatchNorm's included)"
    assert np.array_equal(after["G"], G.weight.detach().numpy()), "clip_weights changed G: clip D only"


# ----------------------------------------------------------------------------- train_step (2)
@pytest.mark.student("dcgan:DCGAN_Solver.train_step")
@pytest.mark.points(2)
def test_train_step_follows_the_prompt_for_two_steps(probe):
    """train_step: D step (zeroed grads, clip after it for 'wgan' only), then G step on the same z"""
    def one(gan_type):
        g_seed, settings, G, D = nets(probe, gan_type, **({"c": 0.05} if gan_type == "wgan-gp" else {}))
        reals = torch.stack([batch(k=1)[0], batch(k=2)[0]])
        steps = probe("dcgan_step", action="train_steps", gan_type=gan_type, g_seed=g_seed, critic=settings,
                      real=reals, seed=fresh_int(700), lr=STEP_LR)
        opt_d = torch.optim.SGD(D.parameters(), lr=STEP_LR)
        opt_g = torch.optim.SGD(G.parameters(), lr=STEP_LR)
        for number, (real, step) in enumerate(zip(reals, steps), 1):
            assert np.all(np.isfinite(step["losses"])), f"step {number}: non-finite losses {step['losses']}"
            zs = [torch.as_tensor(z) for z in step["z"]]
            assert zs and all(z.shape == zs[0].shape and torch.equal(z, zs[0]) for z in zs), \
                f"step {number}: G saw different z's; the G step must reuse the D step's z"
            with torch.no_grad():
                fake = G(zs[0])
            x_hat = interpolates({"inputs": step["critic_inputs"]}, real, fake) if gan_type == "wgan-gp" else None
            d_before, g_before = D.w.detach().clone(), G.weight.detach().clone()
            opt_d.zero_grad()
            expected_d_loss(gan_type, D, real, fake, x_hat).backward()
            opt_d.step()
            if gan_type == "wgan":
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-0.01, 0.01)
            opt_g.zero_grad()
            expected_g_loss(gan_type, D, G(zs[0])).backward()
            opt_g.step()
            clipped = np.abs(np.asarray(step["D"].get("w"))).max() <= 0.01 + 1e-8
            if gan_type != "wgan":
                assert not clipped, "D's weights are clipped, but clipping is for 'wgan' only"
            assert after_step(step["D"].get("w"), d_before, D.w.detach()), \
                (f"step {number}: D after the D step differs from one optimizer step on lossD"
                 + (" followed by clipping" if gan_type == "wgan" else "") + " (zero D's gradients before backward)")
            assert after_step(step["G"], g_before, G.weight.detach()), \
                f"step {number}: G after the G step differs from one optimizer step on lossG (zero G's gradients first)"
    every_type(one)


# ----------------------------------------------------------------------------- optimizers (1)
@pytest.mark.student("dcgan:DCGAN_Solver.__init__")
@pytest.mark.points(1)
def test_optimizers_are_adam_with_the_given_lr_and_betas(probe):
    """optim_G / optim_D: Adam(lr as given, betas=(0.5, 0.999)), each owning exactly its network, for every GAN type"""
    lr = float(np.round(fresh_np(800).uniform(1e-4, 5e-4), 6))

    def one(gan_type):
        facts = probe("dcgan_optimizers", lr=lr, gan_type=gan_type)
        for name, net in (("optim_G", "G"), ("optim_D", "D")):
            got = facts[name]
            assert got["type"] == "Adam", f"{name} should be torch.optim.Adam, got {got['type']}"
            assert got["lr"] == [lr], f"{name}: DCGAN_Solver(lr={lr}) should give the optimizer lr {lr}, got {got['lr']}"
            assert got["betas"] == [[0.5, 0.999]], f"{name}: expected betas (0.5, 0.999), got {got['betas']}"
            owners = got["owners"]
            assert set(owners) == {net} and len(owners) == facts["counts"][net], \
                f"{name} should own exactly the parameters of {net} ({facts['counts'][net]}), got {len(owners)} " \
                f"from {sorted(set(owners))}"
    every_type(one)
