"""The questions the grader asks a submission: each one builds what it needs from plain inputs,
calls the student's code and returns plain data. Nothing here knows an expected value.

They run inside the sandboxed student process during batch grading (grader/child.py answers
the judge's requests) and in-process under the public `pytest grader/`. The judge draws the
inputs (fresh at grading time) and decides every verdict from the answers."""
from __future__ import annotations

import importlib
import random
import tempfile
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize

from grader.mocks import Affine, Critic, LinearG, PatchD

_IMPORTS: dict[str, object] = {}
STUDENT_MODULES = ("dcgan", "cyclegan", "dataloader", "inception_score", "fid", "attention", "util")
on_import = None            # the sandbox child sets this to tell the judge which module it is importing


def student(name: str):
    """The student's `name`.py, imported once; a broken file fails only the questions that need it."""
    assert name in STUDENT_MODULES, name
    if name not in _IMPORTS:
        if on_import:
            on_import(name)
        try:
            _IMPORTS[name] = importlib.import_module(name)
        except BaseException as exc:  # SyntaxError, SystemExit, anything raised at import time
            _IMPORTS[name] = ImportError(f"could not import {name}.py: {type(exc).__name__}: {exc}{where(exc)}")
        if on_import:
            on_import(None)
    module = _IMPORTS[name]
    if isinstance(module, ImportError):
        raise module
    return module


def where(exc: BaseException) -> str:
    """' (dcgan.py:42 in d_loss)' for the last frame of student code in the traceback, else ''."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({Path(exc.filename).name}:{exc.lineno})"
    mine = [f for f in frames if Path(f.filename).name in {m + ".py" for m in STUDENT_MODULES}
            and "grader" not in Path(f.filename).parts]
    return f" ({Path(mine[-1].filename).name}:{mine[-1].lineno} in {mine[-1].name})" if mine else ""


def tensor(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a)).clone()


def seeded(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- architecture traces
def pair(v):
    return [int(x) for x in v] if isinstance(v, (tuple, list)) else [int(v), int(v)]


CHECKED_CHANNELS = 4        # output channels of each conv call whose weights a trace carries


def checked_channels(seed: int, call: int, channels: int) -> list[int]:
    """The output channels of a trace's `call`-th conv whose weights it carries (from the judge's seed)."""
    rng = np.random.default_rng([seed % 2**63, call])
    return sorted(int(c) for c in rng.choice(channels, size=min(CHECKED_CHANNELS, channels), replace=False))


def trace(model: nn.Module, x: torch.Tensor, seed: int = 0) -> dict:
    """Run model(x); every conv / batch-norm call in call order, with its settings, input and output, and
    the weights of a few output channels drawn from `seed` (the judge recomputes those channels from the
    input: a trace is checked, not trusted; all the weights would be ~30 MB a CycleGAN generator)."""
    calls: list[dict] = []
    ids: dict[int, int] = {}

    def hook(module, inputs, output):
        bias = module.bias.detach().clone() if getattr(module, "bias", None) is not None else None
        entry = {"input": inputs[0].detach().clone(), "output": output.detach().clone(),
                 "module": ids.setdefault(id(module), len(ids)), "bias_value": bias,
                 "params": sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)}
        if isinstance(module, nn.BatchNorm2d):
            batch_stats = module.training or not module.track_running_stats
            weight = module.weight.detach().clone() if module.weight is not None else None
            entry.update(kind="BatchNorm2d", num_features=module.num_features, eps=float(module.eps), weight=weight,
                         batch_stats=batch_stats,
                         running=None if batch_stats else [module.running_mean.clone(), module.running_var.clone()])
        else:
            weight = module.weight.detach()
            transposed = isinstance(module, nn.ConvTranspose2d)
            rows = checked_channels(seed, sum(c["kind"] != "BatchNorm2d" for c in calls), module.out_channels)
            if module.groups != 1:
                rows = list(range(module.out_channels))          # grouped: every channel (rare, small)
            picked = weight if module.groups != 1 else weight[:, rows] if transposed else weight[rows]
            entry.update(kind=type(module).__name__, c_in=module.in_channels, c_out=module.out_channels,
                         kernel=pair(module.kernel_size), stride=pair(module.stride), padding=pair(module.padding),
                         padding_mode=str(getattr(module, "padding_mode", "zeros")),
                         output_padding=pair(getattr(module, "output_padding", 0)), bias=module.bias is not None,
                         dilation=pair(module.dilation), groups=int(module.groups), weight_shape=list(weight.shape),
                         weight_rows=picked.clone(), rows=rows)
        calls.append(entry)

    types = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        with torch.nn.utils.parametrize.cached():     # a parametrized weight (spectral norm) is the one used
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return {"out": out.detach(), "convs": [c for c in calls if c["kind"] != "BatchNorm2d"],
            "bns": [c for c in calls if c["kind"] == "BatchNorm2d"]}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- 1.1 DCGAN model
def dcgan_params(part: str, gan_type: str = "gan") -> int:
    dcgan = student("dcgan")
    return n_params(dcgan.DCGAN_Generator() if part == "G" else dcgan.DCGAN_Discriminator(gan_type))


def dcgan_generator_outputs(z: np.ndarray) -> list:
    """G in eval mode on z as [B,256] and as [B,256,1,1]."""
    g = student("dcgan").DCGAN_Generator().eval()
    with torch.no_grad():
        return [g(tensor(z)), g(tensor(z).reshape(len(z), -1, 1, 1))]


def dcgan_discriminator_shapes(x: np.ndarray, gan_types: list[str]) -> list:
    dcgan = student("dcgan")
    with torch.no_grad():
        return [list(dcgan.DCGAN_Discriminator(t).eval()(tensor(x)).shape) for t in gan_types]


def dcgan_trace(part: str, x: np.ndarray, seed: int, gan_type: str = "gan") -> dict:
    """A traced forward pass in train mode of G (x = z) or D('gan_type')."""
    dcgan = student("dcgan")
    seeded(seed)
    net = dcgan.DCGAN_Generator() if part == "G" else dcgan.DCGAN_Discriminator(gan_type)
    return trace(net.train(), tensor(x), seed)


# ----------------------------------------------------------------------------- 1.2 DCGAN training
def dcgan_solver(gan_type: str, g_seed: int, critic: dict, g_eval_shift: float = 0.0):
    """The student's solver with the stand-in networks swapped in for G and D."""
    solver = student("dcgan").DCGAN_Solver(type=gan_type, device="cpu")
    solver.G, solver.D = LinearG(g_seed, g_eval_shift), Critic(**critic)
    return solver


def scalar(loss) -> torch.Tensor:
    if not (torch.is_tensor(loss) and loss.numel() == 1):
        raise TypeError(f"expected a scalar tensor, got {type(loss).__name__} {list(getattr(loss, 'shape', []))}")
    return loss.detach().reshape(()).double()


def grad_max(param: torch.Tensor) -> float:
    return float(param.grad.abs().max()) if param.grad is not None else 0.0


def grads(module: nn.Module) -> dict:
    return {n: (p.grad if p.grad is not None else "none") for n, p in module.named_parameters()}


def dcgan_step(action: str, gan_type: str, g_seed: int, critic: dict, real=None, z=None, seed: int = 0,
               lr: float = 0.1, g_eval_shift: float = 0.0):
    """One call on the student's solver: d_loss, g_loss (each with its gradients), clip_weights,
    or two train_steps (`real` holds one batch per step)."""
    solver = dcgan_solver(gan_type, g_seed, critic, g_eval_shift)
    real = tensor(real) if real is not None else None
    z = tensor(z) if z is not None else None
    seeded(seed)
    if action == "d_loss":
        loss = solver.d_loss(real, z)
        value = scalar(loss)
        inputs = [x for x in solver.D.inputs if tuple(x.shape) == tuple(real.shape)]
        loss.backward()
        return {"loss": value, "inputs": inputs, "G": grads(solver.G)["weight"], "D": grads(solver.D)}
    if action == "g_loss":
        loss = solver.g_loss(z)
        value = scalar(loss)
        loss.backward()
        return {"loss": value, "G": grads(solver.G)["weight"], "inputs": list(solver.D.inputs)}
    if action == "clip":
        solver.clip_weights()
        return {"G": solver.G.weight, "D": dict(solver.D.named_parameters())}
    if action == "train_steps":     # plain SGD: Adam's first step is sign(g) and flips on float noise
        solver.optim_D = torch.optim.SGD(solver.D.parameters(), lr=lr)
        solver.optim_G = torch.optim.SGD(solver.G.parameters(), lr=lr)
        steps = []
        for batch in real:
            solver.G.inputs.clear(), solver.D.inputs.clear()
            losses = [float(v) for v in solver.train_step(batch)]
            steps.append({"losses": losses, "z": list(solver.G.inputs), "critic_inputs": list(solver.D.inputs),
                          "G": solver.G.weight.detach().clone(),
                          "D": {n: p.detach().clone() for n, p in solver.D.named_parameters()}})
        return steps
    raise ValueError(f"unknown action {action}")


def dcgan_discriminator_outputs(x: np.ndarray, seed: int):
    """D('gan') in eval mode: probabilities (Table 1) or logits (trained with BCE-with-logits)?"""
    seeded(seed)
    with torch.no_grad():
        return student("dcgan").DCGAN_Discriminator("gan").eval()(tensor(x))


def dcgan_optimizers(lr: float, gan_type: str) -> dict:
    """Type, lr, betas and parameter ownership of the solver's own two optimizers."""
    solver = student("dcgan").DCGAN_Solver(type=gan_type, lr=lr, device="cpu")
    return optimizer_facts({"G": solver.G, "D": solver.D}, {"optim_G": solver.optim_G, "optim_D": solver.optim_D})


def optimizer_facts(nets: dict, optimizers: dict) -> dict:
    owner = {id(p): name for name, net in nets.items() for p in net.parameters()}
    counts = {name: sum(1 for _ in net.parameters()) for name, net in nets.items()}
    facts = {"counts": counts}
    for name, opt in optimizers.items():
        groups = getattr(opt, "param_groups", [])
        facts[name] = {"type": type(opt).__name__,
                       "lr": sorted({float(g.get("lr", -1)) for g in groups}),
                       "betas": sorted({tuple(float(b) for b in g.get("betas", ())) for g in groups}),
                       "owners": [owner.get(id(p), "other") for g in groups for p in g["params"]]}
    return facts


def penalty_critic(case: str, u: torch.Tensor):
    """Critics whose input gradient is known: zero, a unit vector u, 2.5 u, or 0.07 x."""
    return {"zero": lambda x: (x * 0).sum((1, 2, 3)).view(-1, 1),
            "unit": lambda x: (x * u).sum((1, 2, 3)).view(-1, 1),
            "scaled": lambda x: (x * 2.5 * u).sum((1, 2, 3)).view(-1, 1),
            "quadratic": lambda x: 0.5 * 0.07 * (x ** 2).sum((1, 2, 3)).view(-1, 1)}[case]


def gp_penalty(case: str, u: np.ndarray, x: np.ndarray):
    xg = tensor(x).requires_grad_(True)
    return scalar(student("dcgan").GPLoss("cpu")(penalty_critic(case, tensor(u))(xg), xg))


def gp_backprop(critic: dict, x: np.ndarray) -> dict:
    c, xg = Critic(**critic), tensor(x).requires_grad_(True)
    student("dcgan").GPLoss("cpu")(c(xg), xg).backward()
    return {"grad": c.w.grad if c.w.grad is not None else "none"}


# ----------------------------------------------------------------------------- 2.1 CycleGAN model
def cyclegan_generator_facts(shapes: list[list[int]], seed: int) -> dict:
    seeded(seed)
    g = student("cyclegan").CycleGAN_Generator()
    with torch.no_grad():
        return {"params": n_params(g), "shapes": [list(g(torch.randn(*s)).shape) for s in shapes]}


def cyclegan_discriminator_facts(sizes: list[int], seed: int) -> dict:
    seeded(seed)
    d = student("cyclegan").CycleGAN_Discriminator()
    with torch.no_grad():
        return {"params": n_params(d), "shapes": [list(d(torch.randn(1, 3, s, s)).shape) for s in sizes]}


def cyclegan_trace(part: str, x: np.ndarray, seed: int, mode: str = "train") -> dict:
    """A traced forward pass of a fresh network; mode 'eval': after three training-mode passes on other
    images (which move running statistics, if the network keeps any), in eval mode, as --train false runs it."""
    cyclegan = student("cyclegan")
    seeded(seed)
    net = cyclegan.CycleGAN_Discriminator() if part == "D" else cyclegan.CycleGAN_Generator()
    x = tensor(x)
    if mode == "eval":
        with torch.no_grad():
            for _ in range(3):
                net(torch.randn_like(x) * 2 + 0.5)
        net.eval()
    if part == "D":
        return trace(net, x, seed)
    facts = {"affine_in": [n for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d) and m.affine],
             "n_blocks": sum(isinstance(m, cyclegan.ResnetBlock) for m in net.modules())}
    return {**trace(net, x, seed), **facts}


# ----------------------------------------------------------------------------- 2.2 CycleGAN training
def make_image_folders(root: Path, spec: dict) -> None:
    """spec: {folder: [[file name, grey level, PIL mode 'RGB' | 'L' | 'RGBA'] or [file name, None, text]]}."""
    from PIL import Image
    for folder, files in spec.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, level, mode in files:
            if level is None:
                (root / folder / name).write_text(mode)
            else:
                colour = level if mode == "L" else (level,) * 3 + ((255,) if mode == "RGBA" else ())
                Image.new(mode, (8, 8), colour).save(root / folder / name)


def image_level(t) -> tuple[int, int]:
    """(grey level of pixel 0,0 and channel 0, channels) of a [-1,1] image tensor."""
    if not (torch.is_tensor(t) and t.dim() == 3):
        raise TypeError(f"expected an image tensor [C, H, W], got {type(t).__name__} {list(getattr(t, 'shape', []))}")
    return round(((t[0, 0, 0].item() + 1) / 2) * 255), int(t.shape[0])


def dataset_draws(spec: dict, draws: int, seed: int) -> dict:
    """File names, length and `draws` calls of each item of the student's Summer2WinterDataset."""
    dataloader = student("dataloader")
    with tempfile.TemporaryDirectory() as tmp:
        make_image_folders(Path(tmp), spec)
        ds = dataloader.Summer2WinterDataset(train=True, transform=None, root=tmp)
        seeded(seed)
        names = [getattr(p, "name", str(p).rsplit("/", 1)[-1]) for p in ds.files_A]
        items = []
        for i in range(sum(level is not None for _, level, _ in spec["trainA"])):  # every A image, in order
            calls = []
            for _ in range(draws):
                a, b = ds[i]
                calls.append([*image_level(a), *image_level(b)])
            items.append(calls)
        return {"files_A": names, "n_B": len(ds.files_B), "len": len(ds), "items": items}


def cyclegan_nets(params: dict) -> dict:
    return {"netG_A2B": Affine(*params["netG_A2B"]), "netG_B2A": Affine(*params["netG_B2A"]),
            "netD_A": PatchD(*params["netD_A"]), "netD_B": PatchD(*params["netD_B"])}


def cyclegan_solver(params: dict):
    solver = student("cyclegan").CycleGAN_Solver(device="cpu")
    for name, net in cyclegan_nets(params).items():
        setattr(solver, name, net)
    return solver


def loss_term(value):
    if not (torch.is_tensor(value) and value.numel() == 1 and value.is_floating_point()):
        return f"not a scalar float tensor: {type(value).__name__}"
    return value.detach().reshape(()).double()


GENERATOR_PARAMS = ("netG_A2B.a", "netG_A2B.b", "netG_B2A.a", "netG_B2A.b")


def cyclegan_generator_loss(params: dict, A: np.ndarray, B: np.ndarray) -> dict:
    """The four terms, and the gradient each one alone sends to each generator parameter."""
    s = cyclegan_solver(params)
    got = s.generator_loss(tensor(A), tensor(B))
    if not isinstance(got, dict):
        raise TypeError(f"generator_loss must return a dict, got {type(got).__name__}")
    out = {k: loss_term(got[k]) for k in ("adv", "cycle", "identity", "total") if k in got}
    leaves = [getattr(getattr(s, n.split(".")[0]), n.split(".")[1]) for n in GENERATOR_PARAMS]
    out["grads"] = {}
    for key in ("adv", "cycle", "identity", "total"):
        term = got.get(key)
        if torch.is_tensor(term) and term.requires_grad and term.numel() == 1:
            found = torch.autograd.grad(term.reshape(()), leaves, retain_graph=True, allow_unused=True)
            out["grads"][key] = [g if g is not None else torch.zeros_like(p) for g, p in zip(found, leaves)]
        else:
            out["grads"][key] = [torch.zeros_like(p) for p in leaves]
    return out


def cyclegan_discriminator_loss(params: dict, A: np.ndarray, B: np.ndarray) -> dict:
    s = cyclegan_solver(params)
    loss = s.discriminator_loss(s.netD_B, tensor(B), s.netG_A2B(tensor(A)))
    value = loss_term(loss)
    loss.backward()
    return {"loss": value, "G grad": grad_max(s.netG_A2B.a),
            "D grads": [p.grad if p.grad is not None else torch.zeros_like(p) for p in (s.netD_B.w, s.netD_B.bias)]}


def cyclegan_optimizers(lr: float) -> dict:
    s = student("cyclegan").CycleGAN_Solver(lr=lr, device="cpu")
    nets = {name: getattr(s, name) for name in ("netG_A2B", "netG_B2A", "netD_A", "netD_B")}
    return optimizer_facts(nets, {"optim_G": s.optim_G, "optim_D": s.optim_D})


def cyclegan_train_steps(params: dict, A: np.ndarray, B: np.ndarray, seed: int, every: int) -> list:
    """What each discriminator saw in the D step of len(A) calls of the student's own train_step (its
    pools, its loop), every `every`-th value of each image. The handout's losses stand in for the
    student's generator_loss and discriminator_loss (other items judge those), and the stand-in
    networks never change (the solver's optimizers hold its own networks), so every fake is known."""
    s = cyclegan_solver(params)

    def generator_loss(real_A, real_B):
        fake_B, fake_A = s.netG_A2B(real_A), s.netG_B2A(real_B)
        adv = ((s.netD_B(fake_B) - 1) ** 2).mean() + ((s.netD_A(fake_A) - 1) ** 2).mean()
        cycle = (s.netG_B2A(fake_B) - real_A).abs().mean() + (s.netG_A2B(fake_A) - real_B).abs().mean()
        identity = (s.netG_A2B(real_B) - real_B).abs().mean() + (s.netG_B2A(real_A) - real_A).abs().mean()
        s.netD_A.inputs.clear(), s.netD_B.inputs.clear()          # from here on: the D step
        return {"adv": adv, "cycle": cycle, "identity": identity, "total": adv + 10 * cycle + 5 * identity,
                "fake_A": fake_A, "fake_B": fake_B}

    def discriminator_loss(netD, real, fake):
        pred_real, pred_fake = netD(real), netD(fake.detach())
        return ((pred_real - 1) ** 2).mean() + (pred_fake ** 2).mean()

    s.generator_loss, s.discriminator_loss = generator_loss, discriminator_loss
    seeded(seed)
    steps = []
    for a, b in zip(tensor(A), tensor(B)):
        s.train_step(a[None], b[None])
        steps.append({name: [x.detach().reshape(len(x), -1)[:, ::every].clone() for x in net.inputs]
                      for name, net in (("D_A", s.netD_A), ("D_B", s.netD_B))})
    return steps


STAND_INS = {"netG_A2B": [[0.5, 0.6, 0.7], [0.0, 0.0, 0.0]], "netG_B2A": [[0.7, 0.6, 0.5], [0.0, 0.0, 0.0]],
             "netD_A": [[0.1, 0.2, 0.3], 0.0], "netD_B": [[0.3, 0.2, 0.1], 0.0]}


def cyclegan_lr_schedule(lr: float, epochs: int, size: int) -> list:
    """The two optimizers' learning rates at the first step of every epoch of the student's own
    train(epochs) (one step an epoch, on a tiny dataset folder, the training step itself stubbed)."""
    with tempfile.TemporaryDirectory() as tmp:
        make_image_folders(Path(tmp) / "data", {folder: [[f"{i}.png", 40 * i + 20, "RGB"] for i in range(4)]
                                                for folder in ("trainA", "trainB", "testA", "testB")})
        s = student("cyclegan").CycleGAN_Solver(lr=lr, num_workers=0, device="cpu", dataset="folder",
                                                image_size=size, results_dir=Path(tmp) / "results",
                                                dataroot=Path(tmp) / "data")
        for name, net in cyclegan_nets(STAND_INS).items():     # tiny checkpoints: train() saves every epoch
            setattr(s, name, net)
        seen = []

        def train_step(real_A, real_B):
            seen.append([[float(g["lr"]) for g in opt.param_groups] for opt in (s.optim_G, s.optim_D)])
            return {"G": 0.0}

        s.train_step = train_step
        s.train(epochs, max_steps=1, save_every=epochs)
        return seen


# ----------------------------------------------------------------------------- 3.1 / 3.2 metrics
def inception_score(probs: np.ndarray, splits: int):
    out = student("inception_score").inception_score_from_probs(np.asarray(probs, dtype=np.float64), splits=splits)
    return [float(out[0]), float(out[1])] if len(out) == 2 else f"expected (mean, std), got {type(out).__name__}"


def inception_score_probabilities(logits: np.ndarray, batch_size: int) -> np.ndarray:
    """The student's Inception_Score(...).class_probabilities for a stand-in network whose logits for
    image i are logits[i] (the given code: batches, then a softmax over the classes)."""
    images = torch.zeros(len(logits), 3, 8, 8, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(len(logits), dtype=torch.uint8)
    table = tensor(logits)

    def net(x):
        index = x[:, 0, 0, 0].long()
        return torch.zeros(len(x), 2048), table[index]

    module = student("inception_score")
    probs = np.asarray(module.Inception_Score(list(images), batch_size=batch_size, device="cpu")
                       .class_probabilities(net=net), dtype=np.float64)
    module.inception_score_from_probs(probs, splits=1)    # the TODO these probabilities feed must run (a skeleton: no)
    return probs


def feature_statistics(features: np.ndarray) -> list:
    return [np.asarray(v) for v in student("fid").feature_statistics(np.asarray(features))]


def frechet_distance(mu1, s1, mu2, s2) -> float:
    return float(student("fid").frechet_distance(*(np.asarray(a) for a in (mu1, s1, mu2, s2))))


# ----------------------------------------------------------------------------- EE898 Step 2: self-attention
def learnable_scalar(block: nn.Module) -> torch.Tensor:
    """The block's gamma: its attribute `gamma`, else its only one-element parameter."""
    named = getattr(block, "gamma", None)
    if torch.is_tensor(named) and named.numel() == 1:
        return named
    scalars = [p for p in block.parameters() if p.numel() == 1]
    if len(scalars) != 1:
        raise ValueError(f"SelfAttention should have one learnable scalar gamma, found {len(scalars)} one-element parameters")
    return scalars[0]


def set_gamma(block: nn.Module, gamma: float) -> None:
    with torch.no_grad():
        learnable_scalar(block).fill_(gamma)


def projection_outputs(block: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list]:
    """block(x) and the output of every 1x1 projection inside it (nn.Conv2d or nn.Linear), as [B, C', N]."""
    found = []

    def hook(module, inputs, output):
        out = output.detach()
        found.append(out.flatten(2) if isinstance(module, nn.Conv2d)
                     else out.reshape(out.shape[0], -1, out.shape[-1]).transpose(1, 2))

    handles = [m.register_forward_hook(hook) for m in block.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        y = block(x)
    finally:
        for h in handles:
            h.remove()
    return y, found


def attention_facts(channels: list[int], shapes: list[list[int]], seed: int) -> dict:
    """Parameter counts of SelfAttention(C) for each C; output shapes; a new block on an input: y - x and gamma."""
    attention = student("attention")
    seeded(seed)
    params = [n_params(attention.SelfAttention(c)) for c in channels]
    shapes_out, identity = [], []
    for shape in shapes:
        block, x = attention.SelfAttention(shape[1]), torch.randn(*shape)
        with torch.no_grad():
            y = block(x)
        shapes_out.append(list(y.shape))
        identity.append(float((y - x).abs().max()))
    block = attention.SelfAttention(shapes[0][1])
    gamma = learnable_scalar(block)
    return {"params": params, "shapes": shapes_out, "identity": identity, "gamma": float(gamma),
            "gamma_learnable": any(gamma is p for p in block.parameters()) and bool(gamma.requires_grad)}


def attention_forward(x: np.ndarray, seed: int, gamma: float) -> dict:
    """A block with gamma set: its output, its projections' outputs and its stored attention map."""
    seeded(seed)
    block = student("attention").SelfAttention(int(np.shape(x)[1]))
    set_gamma(block, gamma)
    with torch.no_grad():
        y, projections = projection_outputs(block, tensor(x))
    if isinstance(y, (tuple, list)) and y:          # (y, attention): a common convention; y is the output
        y = y[0]
    stored = getattr(block, "attention_map", None)
    return {"y": y, "projections": projections, "attention_map": stored.detach() if torch.is_tensor(stored) else "none"}


def attention_gradients(x: np.ndarray, weights: np.ndarray, seed: int, gamma: float | None) -> dict:
    """The largest gradient of sum(weights * block(x)) on each parameter (gamma left as built if None)."""
    seeded(seed)
    block = student("attention").SelfAttention(int(np.shape(x)[1]))
    if gamma is not None:
        set_gamma(block, gamma)
    scalar_param = learnable_scalar(block)
    (block(tensor(x)) * tensor(weights)).sum().backward()
    return {"grads": {n: grad_max(p) for n, p in block.named_parameters() if p is not scalar_param},
            "gamma": grad_max(scalar_param)}


PROBE_SIZES = (32, 64, 128, 256)


def attention_model_trace(part: str, x: np.ndarray, seed: int, gamma: float) -> dict:
    """The student's attention G or D (every block's gamma set): call order of residual blocks,
    attention blocks and convs outside them, with inputs and outputs; parameter counts."""
    attention, cyclegan = student("attention"), student("cyclegan")
    seeded(seed)
    net = attention.AttentionGenerator() if part == "G" else attention.AttentionDiscriminator()
    base = cyclegan.CycleGAN_Generator() if part == "G" else cyclegan.CycleGAN_Discriminator()
    blocks = [m for m in net.modules() if isinstance(m, attention.SelfAttention)]
    for block in blocks:
        set_gamma(block, gamma)
    inside = {id(m) for b in blocks for m in b.modules()}
    calls: list[dict] = []

    def hook(kind):
        def record(module, inputs, output):
            calls.append({"kind": kind, "input": inputs[0].detach().clone(), "output": output.detach().clone()})
        return record

    handles = []
    for m in net.modules():
        if isinstance(m, attention.SelfAttention):
            handles.append(m.register_forward_hook(hook("attention")))
        elif isinstance(m, cyclegan.ResnetBlock):
            handles.append(m.register_forward_hook(hook("residual")))
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and id(m) not in inside:
            handles.append(m.register_forward_hook(hook("conv")))
    x = tensor(x)
    for size in PROBE_SIZES:          # the smallest size the student's own baseline runs at (a deep U-Net needs more)
        sized = x if size == x.shape[-1] else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        try:
            with torch.no_grad():
                base_shape = list(base(sized).shape)
            break
        except Exception:  # noqa: BLE001 - too small for this design: the next size; at 256 px it is the answer
            if size == PROBE_SIZES[-1]:
                raise
    try:
        with torch.no_grad():
            out = net(sized)
    finally:
        for h in handles:
            h.remove()
    return {"calls": calls, "out_shape": list(out.shape), "base_shape": base_shape, "params": n_params(net),
            "base_params": n_params(base),
            "block_params": n_params(attention.SelfAttention(256)), "blocks": len(blocks)}


def attention_queries(attention_map: np.ndarray, height: int, width: int, queries: list[list[int]]):
    return student("attention").query_attention(tensor(attention_map), height, width, [tuple(q) for q in queries])


def locate(names: list[str]) -> dict:
    """{"module:Qual.name": [file, line]} for the student's definitions (for feedback)."""
    import inspect
    found = {}
    for name in names:
        module, _, path = name.partition(":")
        try:
            obj = student(module)
            for part in path.split("."):
                obj = getattr(obj, part)
            obj = inspect.unwrap(obj)
            found[name] = [Path(inspect.getsourcefile(obj)).name, int(inspect.getsourcelines(obj)[1])]
        except Exception:  # noqa: BLE001 - a missing or odd definition only loses the line number
            continue
    return found


QUESTIONS = {f.__name__: f for f in (
    dcgan_params, dcgan_generator_outputs, dcgan_discriminator_shapes, dcgan_trace, dcgan_step, gp_penalty,
    dcgan_discriminator_outputs, dcgan_optimizers, cyclegan_optimizers, locate,
    gp_backprop, cyclegan_generator_facts, cyclegan_discriminator_facts, cyclegan_trace, dataset_draws,
    cyclegan_generator_loss, cyclegan_discriminator_loss, cyclegan_train_steps, cyclegan_lr_schedule,
    inception_score, inception_score_probabilities, feature_statistics, frechet_distance,
    attention_facts, attention_forward, attention_gradients, attention_model_trace, attention_queries)}


def module_of(question: str) -> str:
    """The student module a question imports first."""
    if question.startswith(("dcgan", "gp_")):
        return "dcgan"
    if question.startswith("cyclegan"):
        return "cyclegan"
    if question.startswith("attention"):
        return "attention"
    return {"dataset_draws": "dataloader", "inception_score": "inception_score",
            "inception_score_probabilities": "inception_score", "locate": ""}.get(question, "fid")


def answer(question: str, inputs: dict):
    """Run one question (in the student process); the plain result."""
    from grader.codec import plain
    return plain(QUESTIONS[question](**inputs))
