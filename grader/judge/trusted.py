"""The judge's own copies of what the Testing section must not take from a submission: the Table 1
(DCGAN) and Table 2 (CycleGAN) generators, the Inception Score of one split, the Frechet
distance, and the kit's Inception network (loaded from the kit's files, never the student's).

This file holds the solutions to 1.1, 2.1, 3.1 and 3.2: it is judge-only (grader/roles.py), so it
never reaches the handout and is never mounted in the student's sandbox.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from grader.training_check import LATENT_DIM, CannotCheck, Tools

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- generators
class DCGANGenerator(nn.Module):
    """Table 1: z [B,256] -> [B,3,32,32]; no conv biases; BN + ReLU after layers 1-3, Tanh last."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out, stride, pad in ((256, 256, 1, 0), (256, 128, 2, 1), (128, 64, 2, 1)):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], LATENT_DIM, 1, 1))


def _conv_in_relu(c_in: int, c_out: int, k: int, stride: int, pad: int, reflect: int = 0) -> list[nn.Module]:
    pad_layer = [nn.ReflectionPad2d(reflect)] if reflect else []
    return [*pad_layer, nn.Conv2d(c_in, c_out, k, stride, pad), nn.InstanceNorm2d(c_out), nn.ReLU()]


class ResidualBlock(nn.Module):
    def __init__(self, dim: int = 256):
        super().__init__()
        self.body = nn.Sequential(*_conv_in_relu(dim, dim, 3, 1, 0, reflect=1),
                                  nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CycleGANGenerator(nn.Module):
    """Table 2: c7s1-64, d128, d256, 6 residual blocks, u128, u64, c7s1-3 + Tanh; IN non-affine."""

    def __init__(self):
        super().__init__()
        up: list[nn.Module] = []
        for c_in, c_out in ((256, 128), (128, 64)):
            up += [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(c_out), nn.ReLU()]
        self.net = nn.Sequential(*_conv_in_relu(3, 64, 7, 1, 0, reflect=3), *_conv_in_relu(64, 128, 3, 2, 1),
                                 *_conv_in_relu(128, 256, 3, 2, 1), *[ResidualBlock(256) for _ in range(6)], *up,
                                 nn.ReflectionPad2d(3), nn.Conv2d(64, 3, 7, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


GENERATORS = {"dcgan": DCGANGenerator, "cyclegan": CycleGANGenerator}


def make_generator(family: str) -> nn.Module:
    return GENERATORS[family]()


# ----------------------------------------------------------------------------- metrics
def split_score(probs: np.ndarray) -> float:
    """exp(mean KL(p(y|x) || p(y))) of one split, float64."""
    from scipy.special import xlogy
    marginal = probs.mean(axis=0)
    log_marginal = np.log(np.where(marginal > 0, marginal, 1.0))     # p(y) = 0 only where every p(y|x) = 0
    return float(np.exp((xlogy(probs, probs).sum(axis=1) - probs @ log_marginal).mean()))


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """FID of two feature sets: |mu1-mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(sqrt(S1) S2 sqrt(S1)).
    With fewer samples than dimensions (the judge scores 32 images in 2048-d) the last trace is the sum of
    the singular values of A2 A1^T / sqrt((n1-1)(n2-1)), A the centred features: sqrt(S1) S2 sqrt(S1) has
    the nonzero eigenvalues of S2 S1, which has those of (A2 A1^T)(A2 A1^T)^T / ((n1-1)(n2-1)). Same number
    as the d x d eigendecompositions, in O(n1 n2 d) instead of O(d^3) (seconds a submission)."""
    (n1, d), n2 = a.shape, len(b)
    c1, c2 = a - a.mean(0), b - b.mean(0)
    trace_s1, trace_s2 = (c1 ** 2).sum() / (n1 - 1), (c2 ** 2).sum() / (n2 - 1)
    if n1 * n2 <= d * d:
        tr_covmean = np.linalg.svd(c2 @ c1.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    else:
        from scipy.linalg import eigh
        s1, s2 = c1.T @ c1 / (n1 - 1), c2.T @ c2 / (n2 - 1)
        w, v = eigh(s1)
        root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        middle = root @ s2 @ root
        tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + trace_s1 + trace_s2 - 2 * tr_covmean)


# ----------------------------------------------------------------------------- the kit's Inception
def kit_folder() -> Path:
    """The kit's own inception.py and util.py: copied beside this file for a judge, else the kit."""
    return HERE / "kit" if (HERE / "kit" / "inception.py").is_file() else HERE.parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kit_inception(device: str = "cpu") -> nn.Module:
    """The FID Inception network with its real weights, built from the kit's files (inception.py
    imports `util`: the kit's util stands in while it loads, never a submitted one)."""
    folder = kit_folder()
    saved = sys.modules.get("util")
    try:
        sys.modules["util"] = _load("grader_kit_util", folder / "util.py")
        inception = _load("grader_kit_inception", folder / "inception.py")
    finally:
        if saved is None:
            sys.modules.pop("util", None)
        else:
            sys.modules["util"] = saved
    try:
        net = inception.load_fid_inception(None, device)
    except inception.KitError as exc:
        raise CannotCheck(str(exc)) from None
    # channels_last: ~1.5x faster on CPU; it reorders float sums only (~1e-6 on a score), far inside
    # the claim tolerance's 0.5% + 0.005 floor for another device's arithmetic
    return net.to(memory_format=torch.channels_last)


def judge_tools(seed: int, device: str | None = None) -> Tools:
    """The judge's Tools; its own passes on `device` (default: the batch's GRADER_DEVICE, else the CPU)."""
    device = device or os.environ.get("GRADER_DEVICE", "cpu")
    data = Path(os.environ.get("GAN_KIT_DATA", kit_folder() / "data"))
    cache = os.environ.get("GRADER_CACHE")
    code = hashlib.sha256(Path(__file__).read_bytes() + (kit_folder() / "inception.py").read_bytes()).hexdigest()[:16]
    return Tools(make_generator, lambda: kit_inception(device), split_score, frechet, data, seed,
                 Path(cache) if cache else None, device=device,
                 context=f"judge|{data}|{os.environ.get('GAN_KIT_INCEPTION_WEIGHTS', '')}|{code}|{device}")
