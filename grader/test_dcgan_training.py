"""1.2 DCGAN training (20 points): the four losses, GPLoss, detach, clipping, the training step.

The solver's G and D are swapped for small fixed networks (grader/mocks.py), so every
expected value below is computed by hand from the loss definitions in the handout."""
import pytest
import torch

from grader.mocks import Critic, LinearG

GAN_TYPES = ("gan", "lsgan", "wgan", "wgan-gp")


def make_solver(dcgan, gan_type, critic=None):
    solver = dcgan.DCGAN_Solver(type=gan_type, device="cpu")
    solver.G = LinearG()
    solver.D = critic or Critic(prob=gan_type == "gan", scale=0.05)
    return solver


def batch(n=6):
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, 3, 32, 32, generator=g).tanh(), torch.randn(n, 256, generator=g)


def value(loss):
    assert torch.is_tensor(loss) and loss.numel() == 1, f"expected a scalar tensor, got {loss!r}"
    return loss.detach().reshape(())


def check(got, expected, what):
    assert torch.allclose(value(got), expected, rtol=1e-4, atol=1e-5), \
        f"{what}: expected {expected.item():.6f}, got {value(got).item():.6f}"


@pytest.mark.points(2)
def test_gan_d_loss_is_bce_real_1_fake_0(dcgan):
    """GAN lossD = BCE(D(x),1) + BCE(D(G(z)),0)"""
    solver = make_solver(dcgan, "gan")
    real, z = batch()
    with torch.no_grad():
        p_real, p_fake = solver.D(real).view(-1), solver.D(solver.G(z)).view(-1)
    expected = -torch.log(p_real).mean() - torch.log(1 - p_fake).mean()
    check(solver.d_loss(real, z), expected, "GAN lossD = -mean log D(x) - mean log(1 - D(G(z)))")


@pytest.mark.points(2)
def test_lsgan_d_loss_is_half_mse(dcgan):
    """LSGAN lossD = 0.5 * (MSE(D(x),1) + MSE(D(G(z)),0))"""
    solver = make_solver(dcgan, "lsgan")
    real, z = batch()
    with torch.no_grad():
        d_real, d_fake = solver.D(real).view(-1), solver.D(solver.G(z)).view(-1)
    expected = 0.5 * (((d_real - 1) ** 2).mean() + (d_fake ** 2).mean())
    check(solver.d_loss(real, z), expected, "LSGAN lossD = 0.5 * (mean (D(x)-1)^2 + mean D(G(z))^2)")


@pytest.mark.points(2)
def test_wgan_d_loss_is_fake_minus_real(dcgan):
    """WGAN lossD = -mean D(x) + mean D(G(z))"""
    solver = make_solver(dcgan, "wgan")
    real, z = batch()
    with torch.no_grad():
        expected = -solver.D(real).mean() + solver.D(solver.G(z)).mean()
    check(solver.d_loss(real, z), expected, "WGAN lossD = -mean D(x) + mean D(G(z))")


def wgan_gp_run(dcgan):
    critic = Critic(c=0.05, scale=0.05)
    solver = make_solver(dcgan, "wgan-gp", critic)
    real, z = batch()
    with torch.no_grad():
        fake = solver.G(z)
    critic.inputs.clear()
    loss = solver.d_loss(real, z)
    others = [x for x in critic.inputs if x.shape == real.shape
              and not torch.allclose(x, real, atol=1e-6) and not torch.allclose(x, fake, atol=1e-6)]
    assert others, "the critic was never evaluated on interpolates x_hat = a*x + (1-a)*G(z)"
    return solver, critic, real, fake, loss, others[-1]


@pytest.mark.points(2)
def test_wgan_gp_d_loss_adds_10_times_the_penalty(dcgan):
    """WGAN-GP lossD = -mean D(x) + mean D(G(z)) + 10 * mean_b (||dD/dx_hat||_2 - 1)^2"""
    solver, critic, real, fake, loss, x_hat = wgan_gp_run(dcgan)
    with torch.no_grad():
        norms = critic.input_grad(x_hat).norm(dim=1)
        expected = -critic(real).mean() + critic(fake).mean() + 10 * ((norms - 1) ** 2).mean()
    check(loss, expected, "WGAN-GP lossD (critic terms + 10 * gradient penalty at the interpolates)")


@pytest.mark.points(1)
def test_wgan_gp_interpolates_with_one_uniform_alpha_per_sample(dcgan):
    """WGAN-GP interpolates x_hat = a*x + (1-a)*G(z) with a ~ U[0,1] per sample"""
    _, _, real, fake, _, x_hat = wgan_gp_run(dcgan)
    d = (real - fake).reshape(len(real), -1)
    alpha = ((x_hat - fake).reshape(len(real), -1) * d).sum(1) / (d * d).sum(1)
    rebuilt = fake + alpha.view(-1, 1, 1, 1) * (real - fake)
    assert torch.allclose(rebuilt, x_hat, atol=1e-5), \
        "x_hat is not a*x + (1-a)*G(z) with a single a per sample (shape [B,1,1,1])"
    assert ((alpha >= -1e-6) & (alpha <= 1 + 1e-6)).all(), f"a must lie in [0, 1], got {alpha.tolist()}"
    assert alpha.std() > 1e-3, "every sample got the same a: draw one a per sample"


@pytest.mark.points(3)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss(dcgan, gan_type):
    """lossG: GAN BCE(D(G(z)),1); LSGAN MSE(D(G(z)),1); WGAN(-GP) -mean D(G(z))"""
    solver = make_solver(dcgan, gan_type)
    _, z = batch()
    with torch.no_grad():
        d_fake = solver.D(solver.G(z)).view(-1)
    expected = {"gan": -torch.log(d_fake).mean(), "lsgan": ((d_fake - 1) ** 2).mean()}.get(gan_type, -d_fake.mean())
    check(solver.g_loss(z), expected, f"{gan_type} lossG")


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
def test_gp_loss_analytic_cases(dcgan, case):
    """GPLoss(y, x) = mean_b (||dy/dx_b||_2 - 1)^2, norm over all pixels of a sample"""
    fn, expected = penalty_cases()[case]
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(5)).requires_grad_(True)
    if expected is None:  # gradient 0.07 x: per-sample norms differ
        expected = ((0.07 * x.detach().reshape(4, -1).norm(dim=1) - 1) ** 2).mean()
    got = dcgan.GPLoss("cpu")(fn(x), x)
    check(got, expected, f"GPLoss, {case}")


@pytest.mark.points(1)
def test_gp_loss_backpropagates_into_the_critic(dcgan):
    """GPLoss uses create_graph=True: its gradient reaches D's weights"""
    critic = Critic(scale=0.05)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(6)).requires_grad_(True)
    try:
        dcgan.GPLoss("cpu")(critic(x), x).backward()
    except RuntimeError as exc:
        pytest.fail(f"backward through GPLoss failed ({exc}); use create_graph=True in torch.autograd.grad",
                    pytrace=False)
    w = critic.w.detach()
    expected = 2 * (w.norm() - 1) * w / w.norm()   # d/dw (|w| - 1)^2
    assert critic.w.grad is not None, "no gradient reached D: use create_graph=True in torch.autograd.grad"
    assert torch.allclose(critic.w.grad, expected, atol=1e-5), "the gradient reaching D is wrong"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_d_loss_sends_no_gradient_to_g(dcgan, gan_type):
    """The D step uses G(z).detach(): lossD leaves no gradient on G"""
    solver = make_solver(dcgan, gan_type, Critic(c=0.001, scale=0.05, prob=gan_type == "gan"))
    real, z = batch()
    solver.d_loss(real, z).backward()
    grad = solver.G.weight.grad
    assert grad is None or grad.abs().max() == 0, f"{gan_type}: lossD.backward() put gradients on G (detach the fake)"
    assert solver.D.w.grad is not None and solver.D.w.grad.abs().max() > 0, f"{gan_type}: lossD gives D no gradient"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_g_loss_sends_gradient_to_g(dcgan, gan_type):
    """The G step: lossG.backward() produces gradients on G"""
    solver = make_solver(dcgan, gan_type)
    _, z = batch()
    solver.g_loss(z).backward()
    grad = solver.G.weight.grad
    assert grad is not None and grad.abs().max() > 0, f"{gan_type}: lossG gives G no gradient (no detach in the G step)"


@pytest.mark.points(1)
def test_clip_weights_clamps_d_only(dcgan):
    """clip_weights clamps every D parameter to [-0.01, 0.01] and leaves G alone"""
    solver = make_solver(dcgan, "wgan", Critic(scale=1.0))
    g_before = solver.G.weight.detach().clone()
    d_before = {n: p.detach().clone() for n, p in solver.D.named_parameters()}
    solver.clip_weights()
    for name, p in solver.D.named_parameters():
        assert p.abs().max() <= 0.01 + 1e-8, f"D parameter {name} not clipped to [-0.01, 0.01]"
        assert torch.equal(p.detach(), d_before[name].clamp(-0.01, 0.01)), f"D parameter {name} is not a clamp"
    assert torch.equal(solver.G.weight.detach(), g_before), "clip_weights changed G: clip D only"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_train_step_updates_both_and_clips_only_for_wgan(dcgan, gan_type):
    """train_step: one D step then one G step; D clipped after its step only for 'wgan'"""
    solver = make_solver(dcgan, gan_type, Critic(scale=0.05, prob=gan_type == "gan"))  # unsaturated, |w| > 0.01
    solver.optim_D = torch.optim.Adam(solver.D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    solver.optim_G = torch.optim.Adam(solver.G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    g_before, w_before = solver.G.weight.detach().clone(), solver.D.w.detach().clone()
    real, _ = batch()
    losses = solver.train_step(real)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in losses), f"non-finite losses {losses}"
    assert not torch.equal(solver.G.weight.detach(), g_before), "train_step did not update G"
    assert not torch.equal(solver.D.w.detach(), w_before), "train_step did not update D"
    clipped = solver.D.w.abs().max().item() <= 0.01 + 1e-8
    if gan_type == "wgan":
        assert clipped, "WGAN: D's weights must be clipped to [-0.01, 0.01] after the D step"
    else:
        assert not clipped, f"{gan_type}: weights are clipped, but clipping is for 'wgan' only"
