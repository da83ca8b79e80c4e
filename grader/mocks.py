"""Small fixed networks that stand in for the student's G and D in the loss tests, so that
every expected value can be computed by hand in the test. They record their inputs."""
from __future__ import annotations

import torch
import torch.nn as nn


class LinearG(nn.Module):
    """z [B,256] or [B,256,1,1] -> tanh(z W) as [B,3,32,32]; in eval mode tanh(z W + eval_shift): a
    stand-in for BatchNorm, whose eval mode (running statistics) draws other images than train mode."""

    def __init__(self, seed: int = 1, eval_shift: float = 0.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(256, 3 * 32 * 32, generator=g) / 16)
        self.eval_shift = eval_shift
        self.inputs: list[torch.Tensor] = []

    def forward(self, z):
        self.inputs.append(z.detach().clone())
        h = z.reshape(z.size(0), 256) @ self.weight
        return torch.tanh(h if self.training else h + self.eval_shift).view(-1, 3, 32, 32)


class Critic(nn.Module):
    """D(x) = w.x + b + c/2 |x|^2 per sample -> [B,1]; through a sigmoid when `prob`.
    Its input gradient is w + c x: the gradient penalty is known in closed form."""

    def __init__(self, seed: int = 2, c: float = 0.0, prob: bool = False, scale: float = 0.02, bn: bool = False):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(3 * 32 * 32, generator=g) * scale)
        self.b = nn.Parameter(torch.tensor(0.1))
        self.bn = nn.BatchNorm2d(3) if bn else None      # BatchNorm's weight and bias are D parameters too
        if bn:      # away from their defaults (1 and 0), so that clipping each of them shows
            with torch.no_grad():
                self.bn.weight.copy_(torch.rand(3, generator=g) + 0.5)
                self.bn.bias.copy_(torch.rand(3, generator=g) - 0.5)
        self.c, self.prob = c, prob
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        flat = (self.bn(x) if self.bn is not None else x).reshape(x.size(0), -1)
        out = flat @ self.w + self.b + 0.5 * self.c * (flat ** 2).sum(1)
        return (torch.sigmoid(out) if self.prob else out).view(-1, 1)

    def input_grad(self, x):
        """dD/dx per sample, flattened (before any sigmoid)."""
        return self.w.detach() + self.c * x.reshape(x.size(0), -1)


class Affine(nn.Module):
    """A stand-in generator: x -> a*x + b per channel (differentiable, parameters a and b)."""

    def __init__(self, a, b):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float32).view(1, 3, 1, 1))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return self.a * x + self.b


class PatchD(nn.Module):
    """A stand-in PatchGAN: x -> average-pooled (window 24, stride 8) weighted channel sum + bias,
    so a 256x256 image gives the handout's patch map [B,1,30,30]."""

    def __init__(self, w, bias):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32).view(1, 3, 1, 1))
        self.bias = nn.Parameter(torch.tensor(float(bias)))
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x)
        return nn.functional.avg_pool2d((self.w * x).sum(1, keepdim=True), 24, stride=8) + self.bias
