"""1.2 DCGAN training (20 points): the four losses, GPLoss, detach, clipping, the training step.

The solver's G and D are swapped for small fixed networks (grader/mocks.py), so every
expected value below is computed by hand from the loss definitions in the handout."""
import copy

import numpy as np
import pytest
import torch

from grader.mocks import Critic, LinearG

GAN_TYPES = ("gan", "lsgan", "wgan", "wgan-gp")


def make_solver(dcgan, gan_type, G, D):
    """The student's solver with copies of the stand-in networks (probe side)."""
    solver = dcgan.DCGAN_Solver(type=gan_type, device="cpu")
    solver.G, solver.D = copy.deepcopy(G), copy.deepcopy(D)
    return solver


def nets(gan_type, **critic):
    return LinearG(), Critic(**{"prob": gan_type == "gan", "scale": 0.05, **critic})


def batch(n=6):
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, 3, 32, 32, generator=g).tanh(), torch.randn(n, 256, generator=g)


def scalar(loss):
    if not (torch.is_tensor(loss) and loss.numel() == 1):
        raise TypeError(f"expected a scalar tensor, got {type(loss).__name__} {getattr(loss, 'shape', '')}")
    return loss.detach().reshape(()).double()


def check(got, expected, what):
    expected = float(expected)
    assert abs(got - expected) <= 1e-5 + 1e-4 * abs(expected), f"{what}: expected {expected:.6f}, got {got:.6f}"


@pytest.mark.points(2)
def test_gan_d_loss_is_bce_real_1_fake_0(dcgan, probe):
    """GAN lossD = BCE(D(x),1) + BCE(D(G(z)),0)"""
    G, D = nets("gan")
    real, z = batch()
    got = probe("lossD", lambda: scalar(make_solver(dcgan, "gan", G, D).d_loss(real, z)))
    with torch.no_grad():
        p_real, p_fake = D(real).view(-1), D(G(z)).view(-1)
    expected = -torch.log(p_real).mean() - torch.log(1 - p_fake).mean()
    check(got, expected, "GAN lossD = -mean log D(x) - mean log(1 - D(G(z)))")


@pytest.mark.points(2)
def test_lsgan_d_loss_is_half_mse(dcgan, probe):
    """LSGAN lossD = 0.5 * (MSE(D(x),1) + MSE(D(G(z)),0))"""
    G, D = nets("lsgan")
    real, z = batch()
    got = probe("lossD", lambda: scalar(make_solver(dcgan, "lsgan", G, D).d_loss(real, z)))
    with torch.no_grad():
        d_real, d_fake = D(real).view(-1), D(G(z)).view(-1)
    expected = 0.5 * (((d_real - 1) ** 2).mean() + (d_fake ** 2).mean())
    check(got, expected, "LSGAN lossD = 0.5 * (mean (D(x)-1)^2 + mean D(G(z))^2)")


@pytest.mark.points(2)
def test_wgan_d_loss_is_fake_minus_real(dcgan, probe):
    """WGAN lossD = -mean D(x) + mean D(G(z))"""
    G, D = nets("wgan")
    real, z = batch()
    got = probe("lossD", lambda: scalar(make_solver(dcgan, "wgan", G, D).d_loss(real, z)))
    with torch.no_grad():
        expected = -D(real).mean() + D(G(z)).mean()
    check(got, expected, "WGAN lossD = -mean D(x) + mean D(G(z))")


def wgan_gp_run(dcgan, probe):
    """(critic, real, fake, student's lossD, the interpolates the critic saw)"""
    G, critic = nets("wgan-gp", c=0.05)
    real, z = batch()

    def run():
        solver = make_solver(dcgan, "wgan-gp", G, critic)
        solver.D.inputs.clear()
        loss = scalar(solver.d_loss(real, z))
        return {"loss": loss, "inputs": [x for x in solver.D.inputs if x.shape == real.shape]}
    data = probe("lossD and critic inputs", run)
    with torch.no_grad():
        fake = G(z)
    others = [torch.as_tensor(x) for x in data["inputs"]
              if not np.allclose(x, real, atol=1e-6) and not np.allclose(x, fake, atol=1e-6)]
    assert others, "the critic was never evaluated on interpolates x_hat = a*x + (1-a)*G(z)"
    return critic, real, fake, data["loss"], others[-1].float()


@pytest.mark.points(2)
def test_wgan_gp_d_loss_adds_10_times_the_penalty(dcgan, probe):
    """WGAN-GP lossD = -mean D(x) + mean D(G(z)) + 10 * mean_b (||dD/dx_hat||_2 - 1)^2"""
    critic, real, fake, loss, x_hat = wgan_gp_run(dcgan, probe)
    with torch.no_grad():
        norms = critic.input_grad(x_hat).norm(dim=1)
        expected = -critic(real).mean() + critic(fake).mean() + 10 * ((norms - 1) ** 2).mean()
    check(loss, expected, "WGAN-GP lossD (critic terms + 10 * gradient penalty at the interpolates)")


@pytest.mark.points(1)
def test_wgan_gp_interpolates_with_one_uniform_alpha_per_sample(dcgan, probe):
    """WGAN-GP interpolates x_hat = a*x + (1-a)*G(z) with a ~ U[0,1] per sample"""
    _, real, fake, _, x_hat = wgan_gp_run(dcgan, probe)
    d = (real - fake).reshape(len(real), -1)
    alpha = ((x_hat - fake).reshape(len(real), -1) * d).sum(1) / (d * d).sum(1)
    rebuilt = fake + alpha.view(-1, 1, 1, 1) * (real - fake)
    assert torch.allclose(rebuilt, x_hat, atol=1e-5), \
        "x_hat is not a*x + (1-a)*G(z) with a single a per sample (shape [B,1,1,1])"
    assert ((alpha >= -1e-6) & (alpha <= 1 + 1e-6)).all(), f"a must lie in [0, 1], got {alpha.tolist()}"
    assert alpha.std() > 1e-3, "every sample got the same a: draw one a per sample"


@pytest.mark.points(3)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss(dcgan, probe, gan_type):
    """lossG: GAN BCE(D(G(z)),1); LSGAN MSE(D(G(z)),1); WGAN(-GP) -mean D(G(z))"""
    G, D = nets(gan_type)
    _, z = batch()
    got = probe("lossG", lambda: scalar(make_solver(dcgan, gan_type, G, D).g_loss(z)))
    with torch.no_grad():
        d_fake = D(G(z)).view(-1)
    expected = {"gan": -torch.log(d_fake).mean(), "lsgan": ((d_fake - 1) ** 2).mean()}.get(gan_type, -d_fake.mean())
    check(got, expected, f"{gan_type} lossG")


def penalty_cases():
    g = torch.Generator().manual_seed(3)
    u = torch.randn(4, 3, 8, 8, generator=g)
    unit = u / u.reshape(4, -1).norm(dim=1).view(-1, 1, 1, 1)
    return {
        "zero gradient -> 1": (lambda x: (x * 0).sum((1, 2, 3)).view(-1, 1), torch.tensor(1.0)),
        "unit gradient -> 0": (lambda x: (x * unit).sum((1, 2, 3)).view(-1, 1), torch.tensor(0.0)),
        "linear critic |w| = 2.5 -> 2.25": (lambda x: (x * 2.5 * unit).sum((1, 2, 3)).view(-1, 1),
                                            torch.tensor(2.25)),
        "quadratic critic": (lambda x: 0.5 * 0.07 * (x ** 2).sum((1, 2, 3)).view(-1, 1), None),
    }


@pytest.mark.points(3)
@pytest.mark.parametrize("case", list(penalty_cases()))
def test_gp_loss_analytic_cases(dcgan, probe, case):
    """GPLoss(y, x) = mean_b (||dy/dx_b||_2 - 1)^2, norm over all pixels of a sample"""
    fn, expected = penalty_cases()[case]
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(5))

    def run():
        xg = x.clone().requires_grad_(True)
        return scalar(dcgan.GPLoss("cpu")(fn(xg), xg))
    got = probe("penalty", run)
    if expected is None:  # gradient 0.07 x: per-sample norms differ
        expected = ((0.07 * x.reshape(4, -1).norm(dim=1) - 1) ** 2).mean()
    check(got, expected, f"GPLoss, {case}")


@pytest.mark.points(1)
def test_gp_loss_backpropagates_into_the_critic(dcgan, probe):
    """GPLoss uses create_graph=True: its gradient reaches D's weights"""
    critic = Critic(scale=0.05)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(6))

    def run():
        c, xg = copy.deepcopy(critic), x.clone().requires_grad_(True)
        dcgan.GPLoss("cpu")(c(xg), xg).backward()
        return {"grad": c.w.grad if c.w.grad is not None else "none"}
    grad = probe("critic gradient", run)["grad"]
    assert not isinstance(grad, str), "no gradient reached D: use create_graph=True in torch.autograd.grad"
    w = critic.w.detach()
    expected = 2 * (w.norm() - 1) * w / w.norm()   # d/dw (|w| - 1)^2
    assert torch.allclose(torch.as_tensor(grad), expected, atol=1e-5), "the gradient reaching D is wrong"


def grad_of(param):
    return param.grad if param.grad is not None else torch.zeros_like(param)


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_d_loss_sends_no_gradient_to_g(dcgan, probe, gan_type):
    """The D step uses G(z).detach(): lossD leaves no gradient on G"""
    G, D = nets(gan_type, c=0.001)
    real, z = batch()

    def run():
        solver = make_solver(dcgan, gan_type, G, D)
        solver.d_loss(real, z).backward()
        return {"G": np.abs(grad_of(solver.G.weight).numpy()).max(), "D": np.abs(grad_of(solver.D.w).numpy()).max()}
    grads = probe("gradients", run)
    assert grads["G"] == 0, f"{gan_type}: lossD.backward() put gradients on G (detach the fake)"
    assert grads["D"] > 0, f"{gan_type}: lossD gives D no gradient"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss_sends_gradient_to_g(dcgan, probe, gan_type):
    """The G step: lossG.backward() produces gradients on G"""
    G, D = nets(gan_type)
    _, z = batch()

    def run():
        solver = make_solver(dcgan, gan_type, G, D)
        solver.g_loss(z).backward()
        return np.abs(grad_of(solver.G.weight).numpy()).max()
    assert probe("G gradient", run) > 0, f"{gan_type}: lossG gives G no gradient (no detach in the G step)"


@pytest.mark.points(1)
def test_clip_weights_clamps_d_only(dcgan, probe):
    """clip_weights clamps every D parameter to [-0.01, 0.01] and leaves G alone"""
    G, D = nets("wgan", scale=1.0)

    def run():
        solver = make_solver(dcgan, "wgan", G, D)
        solver.clip_weights()
        return {"G": solver.G.weight, "D": {n: p for n, p in solver.D.named_parameters()}}
    after = probe("parameters after clipping", run)
    for name, p in D.named_parameters():
        assert np.array_equal(after["D"].get(name), p.detach().clamp(-0.01, 0.01).numpy()), \
            f"D parameter {name} is not clamped to [-0.01, 0.01]"
    assert np.array_equal(after["G"], G.weight.detach().numpy()), "clip_weights changed G: clip D only"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_train_step_updates_both_and_clips_only_for_wgan(dcgan, probe, gan_type):
    """train_step: one D step then one G step; D clipped after its step only for 'wgan'"""
    G, D = nets(gan_type)            # unsaturated critic, weights well above 0.01
    real, _ = batch()

    def run():
        solver = make_solver(dcgan, gan_type, G, D)
        solver.optim_D = torch.optim.Adam(solver.D.parameters(), lr=1e-3, betas=(0.5, 0.999))
        solver.optim_G = torch.optim.Adam(solver.G.parameters(), lr=1e-3, betas=(0.5, 0.999))
        losses = [float(v) for v in solver.train_step(real)]
        return {"losses": losses, "G": solver.G.weight, "w": solver.D.w}
    after = probe("after one step", run)
    assert all(np.isfinite(after["losses"])), f"non-finite losses {after['losses']}"
    assert not np.array_equal(after["G"], G.weight.detach().numpy()), "train_step did not update G"
    assert not np.array_equal(after["w"], D.w.detach().numpy()), "train_step did not update D"
    clipped = np.abs(after["w"]).max() <= 0.01 + 1e-8
    if gan_type == "wgan":
        assert clipped, "WGAN: D's weights must be clipped to [-0.01, 0.01] after the D step"
    else:
        assert not clipped, f"{gan_type}: weights are clipped, but clipping is for 'wgan' only"
