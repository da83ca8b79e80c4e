"""1.2 DCGAN training (20 points): the four losses, GPLoss, detach, clipping, the training step.

The solver's G and D are swapped for small stand-in networks (grader/mocks.py) built from seeds
drawn at grading time, so every expected value below is computed by hand from the loss
definitions in the handout, here in the judge."""
import numpy as np
import pytest
import torch

from grader.mocks import Critic, LinearG
from grader.probe import fresh, fresh_int

GAN_TYPES = ("gan", "lsgan", "wgan", "wgan-gp")


def nets(gan_type, k=0, **critic):
    """(G seed, critic settings) and the judge's own copies of both networks."""
    settings = {"seed": fresh_int(100 + k), "prob": gan_type == "gan", "scale": 0.05, **critic}
    g_seed = fresh_int(200 + k)
    return g_seed, settings, LinearG(g_seed), Critic(**settings)


def batch(n=6, k=0):
    g = fresh(300 + k)
    return torch.randn(n, 3, 32, 32, generator=g).tanh(), torch.randn(n, 256, generator=g)


def step(probe, action, gan_type, g_seed, critic, real=None, z=None, seed=0):
    return probe("dcgan_step", action=action, gan_type=gan_type, g_seed=g_seed, critic=critic, real=real, z=z,
                 seed=seed)


def check(got, expected, what):
    expected = float(expected)
    assert isinstance(got, float), f"{what}: expected a number, got {type(got).__name__}"
    assert abs(got - expected) <= 1e-5 + 1e-4 * abs(expected), f"{what}: expected {expected:.6f}, got {got:.6f}"


def d_loss(probe, gan_type, **critic):
    g_seed, settings, G, D = nets(gan_type, **critic)
    real, z = batch()
    answer = step(probe, "d_loss", gan_type, g_seed, settings, real, z)
    return answer["loss"], G, D, real, z


@pytest.mark.points(2)
def test_gan_d_loss_is_bce_real_1_fake_0(probe):
    """GAN lossD = BCE(D(x),1) + BCE(D(G(z)),0)"""
    got, G, D, real, z = d_loss(probe, "gan")
    with torch.no_grad():
        p_real, p_fake = D(real).view(-1), D(G(z)).view(-1)
    expected = -torch.log(p_real).mean() - torch.log(1 - p_fake).mean()
    check(got, expected, "GAN lossD = -mean log D(x) - mean log(1 - D(G(z)))")


@pytest.mark.points(2)
def test_lsgan_d_loss_is_half_mse(probe):
    """LSGAN lossD = 0.5 * (MSE(D(x),1) + MSE(D(G(z)),0))"""
    got, G, D, real, z = d_loss(probe, "lsgan")
    with torch.no_grad():
        d_real, d_fake = D(real).view(-1), D(G(z)).view(-1)
    expected = 0.5 * (((d_real - 1) ** 2).mean() + (d_fake ** 2).mean())
    check(got, expected, "LSGAN lossD = 0.5 * (mean (D(x)-1)^2 + mean D(G(z))^2)")


@pytest.mark.points(2)
def test_wgan_d_loss_is_fake_minus_real(probe):
    """WGAN lossD = -mean D(x) + mean D(G(z))"""
    got, G, D, real, z = d_loss(probe, "wgan")
    with torch.no_grad():
        expected = -D(real).mean() + D(G(z)).mean()
    check(got, expected, "WGAN lossD = -mean D(x) + mean D(G(z))")


def wgan_gp_run(probe):
    """(critic, real, fake, student's lossD, the interpolates the critic saw)"""
    g_seed, settings, G, critic = nets("wgan-gp", c=0.05)
    real, z = batch()
    data = step(probe, "d_loss", "wgan-gp", g_seed, settings, real, z, seed=fresh_int(400))
    with torch.no_grad():
        fake = G(z)
    inputs = data["inputs"] if isinstance(data, dict) and isinstance(data.get("inputs"), list) else []
    others = [torch.as_tensor(x) for x in inputs if np.shape(x) == tuple(real.shape)
              and not np.allclose(x, real, atol=1e-6) and not np.allclose(x, fake, atol=1e-6)]
    assert others, "the critic was never evaluated on interpolates x_hat = a*x + (1-a)*G(z)"
    return critic, real, fake, data["loss"], others[-1].float()


@pytest.mark.points(2)
def test_wgan_gp_d_loss_adds_10_times_the_penalty(probe):
    """WGAN-GP lossD = -mean D(x) + mean D(G(z)) + 10 * mean_b (||dD/dx_hat||_2 - 1)^2"""
    critic, real, fake, loss, x_hat = wgan_gp_run(probe)
    with torch.no_grad():
        norms = critic.input_grad(x_hat).norm(dim=1)
        expected = -critic(real).mean() + critic(fake).mean() + 10 * ((norms - 1) ** 2).mean()
    check(loss, expected, "WGAN-GP lossD (critic terms + 10 * gradient penalty at the interpolates)")


@pytest.mark.points(1)
def test_wgan_gp_interpolates_with_one_uniform_alpha_per_sample(probe):
    """WGAN-GP interpolates x_hat = a*x + (1-a)*G(z) with a ~ U[0,1] per sample"""
    _, real, fake, _, x_hat = wgan_gp_run(probe)
    d = (real - fake).reshape(len(real), -1)
    alpha = ((x_hat - fake).reshape(len(real), -1) * d).sum(1) / (d * d).sum(1)
    rebuilt = fake + alpha.view(-1, 1, 1, 1) * (real - fake)
    assert torch.allclose(rebuilt, x_hat, atol=1e-5), \
        "x_hat is not a*x + (1-a)*G(z) with a single a per sample (shape [B,1,1,1])"
    outside = [round(a, 2) for a in alpha.tolist() if not -1e-6 <= a <= 1 + 1e-6]
    assert not outside, f"a must lie in [0, 1] (uniform), got values {outside[:4]}"
    assert alpha.std() > 1e-3, "every sample got the same a: draw one a per sample"


@pytest.mark.points(3)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss(probe, gan_type):
    """lossG: GAN BCE(D(G(z)),1); LSGAN MSE(D(G(z)),1); WGAN(-GP) -mean D(G(z))"""
    g_seed, settings, G, D = nets(gan_type)
    _, z = batch()
    got = step(probe, "g_loss", gan_type, g_seed, settings, z=z)
    with torch.no_grad():
        d_fake = D(G(z)).view(-1)
    expected = {"gan": -torch.log(d_fake).mean(), "lsgan": ((d_fake - 1) ** 2).mean()}.get(gan_type, -d_fake.mean())
    check(got, expected, f"{gan_type} lossG")


PENALTY_CASES = {"zero": "zero gradient -> 1", "unit": "unit gradient -> 0",
                 "scaled": "linear critic |w| = 2.5 -> 2.25", "quadratic": "quadratic critic 0.07/2 |x|^2"}


@pytest.mark.points(3)
@pytest.mark.parametrize("case", list(PENALTY_CASES))
def test_gp_loss_analytic_cases(probe, case):
    """GPLoss(y, x) = mean_b (||dy/dx_b||_2 - 1)^2, norm over all pixels of a sample"""
    shape = (4, 3, 8, 8)
    u = torch.randn(*shape, generator=fresh(500))
    u = u / u.reshape(4, -1).norm(dim=1).view(-1, 1, 1, 1)
    x = torch.randn(*shape, generator=fresh(501))
    got = probe("gp_penalty", case=case, u=u, x=x)
    expected = {"zero": 1.0, "unit": 0.0, "scaled": 2.25,
                "quadratic": float(((0.07 * x.reshape(4, -1).norm(dim=1) - 1) ** 2).mean())}[case]
    check(got, expected, f"GPLoss, {PENALTY_CASES[case]}")


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
    assert np.shape(grad) == tuple(w.shape) and torch.allclose(torch.as_tensor(grad), expected, atol=1e-5), \
        "the gradient reaching D is wrong"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_d_loss_sends_no_gradient_to_g(probe, gan_type):
    """The D step uses G(z).detach(): lossD leaves no gradient on G"""
    g_seed, settings, _, _ = nets(gan_type, c=0.001)
    real, z = batch()
    grads = step(probe, "d_grads", gan_type, g_seed, settings, real, z)
    assert grads["G"] == 0, f"{gan_type}: lossD.backward() put gradients on G (detach the fake)"
    assert grads["D"] > 0, f"{gan_type}: lossD gives D no gradient"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss_sends_gradient_to_g(probe, gan_type):
    """The G step: lossG.backward() produces gradients on G"""
    g_seed, settings, _, _ = nets(gan_type)
    _, z = batch()
    assert step(probe, "g_grads", gan_type, g_seed, settings, z=z) > 0, \
        f"{gan_type}: lossG gives G no gradient (no detach in the G step)"


@pytest.mark.points(1)
def test_clip_weights_clamps_d_only(probe):
    """clip_weights clamps every D parameter to [-0.01, 0.01] and leaves G alone"""
    g_seed, settings, G, D = nets("wgan", scale=1.0)
    after = step(probe, "clip", "wgan", g_seed, settings)
    for name, p in D.named_parameters():
        got = after["D"].get(name)
        assert got is not None and np.array_equal(got, p.detach().clamp(-0.01, 0.01).numpy()), \
            f"D parameter {name} is not clamped to [-0.01, 0.01]"
    assert np.array_equal(after["G"], G.weight.detach().numpy()), "clip_weights changed G: clip D only"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_train_step_updates_both_and_clips_only_for_wgan(probe, gan_type):
    """train_step: one D step then one G step; D clipped after its step only for 'wgan'"""
    g_seed, settings, G, D = nets(gan_type)            # unsaturated critic, weights well above 0.01
    real, _ = batch()
    after = step(probe, "train_step", gan_type, g_seed, settings, real, seed=fresh_int(700))
    assert all(np.isfinite(after["losses"])), f"non-finite losses {after['losses']}"
    assert not np.array_equal(after["G"], G.weight.detach().numpy()), "train_step did not update G"
    assert not np.array_equal(after["w"], D.w.detach().numpy()), "train_step did not update D"
    clipped = np.abs(after["w"]).max() <= 0.01 + 1e-8
    if gan_type == "wgan":
        assert clipped, "WGAN: D's weights must be clipped to [-0.01, 0.01] after the D step"
    else:
        assert not clipped, f"{gan_type}: weights are clipped, but clipping is for 'wgan' only"
