"""Self-attention for CycleGAN (EE898 PA2, Step 2): the SAGAN block (Zhang et al., ICML 2019), a
CycleGAN generator and discriminator with it, and the attention maps of the report.

Read top to bottom: the block, the two networks, then the attention maps.

    python cyclegan.py --attention true --train true     # train the attention model
    python cyclegan.py --train false                     # FID both ways for every trained model + maps

Where the block sits, and why:
- generator: right after the residual blocks, before the first up-sampling layer (256 channels at
  H/4). These are the most abstract features the generator has, on its coarsest grid (64x64 = 4,096
  positions at 256 px, so the N x N attention has 16.7 M entries an image: affordable), and the
  long-range structure is settled there before the up-sampling layers draw the details.
- discriminator: after its third conv, before the last two (256 channels at H/8): each 70x70 patch
  score can then take the rest of the image into account.
Parameter counts: SelfAttention(256) 82,241 (query and key 8,224 each, value 65,792, gamma 1);
generator 7,919,937 (Table 2's 7,837,696 + one block); discriminator 2,846,913 (2,764,672 + one block).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from cyclegan import CycleGAN_Discriminator, CycleGAN_Generator, ResnetBlock
from util import save_image_grid


# ----------------------------------------------------------------------------- the block
class SelfAttention(nn.Module):
    """SAGAN self-attention: x [B, C, H, W] -> gamma * o + x, same shape.

    With N = H * W positions (row-major), f = W_q x and g = W_k x (1x1 convs C -> C/8), h = W_v x
    (1x1 conv C -> C): attention[j, i] = softmax over i of f_j . g_i (row j: where position j looks;
    each row sums to 1), o_j = sum_i attention[j, i] h_i, i.e. o = h attention^T. gamma is a learnable
    scalar initialised to 0, so a new block is the identity and the network learns how much to use it."""

    def __init__(self, channels: int, spectral_norm: bool = False):
        super().__init__()
        self.attention_map: torch.Tensor | None = None      # the last forward's attention [B, N, N], detached
        # TODO: self.query and self.key: 1x1 convs channels -> channels // 8; self.value: 1x1 conv
        # channels -> channels (nn.Conv2d, biases as default; nn.Linear over channels works too);
        # each wrapped in nn.utils.parametrizations.spectral_norm when spectral_norm is true (as in
        # SAGAN); self.gamma: a learnable scalar (nn.Parameter) initialised to 0.
        # BEGIN SOLUTION
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda layer: layer)
        self.query = wrap(nn.Conv2d(channels, channels // 8, 1))
        self.key = wrap(nn.Conv2d(channels, channels // 8, 1))
        self.value = wrap(nn.Conv2d(channels, channels, 1))
        self.gamma = nn.Parameter(torch.zeros(1))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: flatten the positions (N = H * W, row-major), attention = softmax over the last axis
        # of f^T g ([B, N, N]), o = h attention^T reshaped to [B, C, H, W]; keep the attention in
        # self.attention_map (detached: the maps are for looking at) and return gamma * o + x.
        # BEGIN SOLUTION
        b, c, h, w = x.shape
        f, g, v = self.query(x).flatten(2), self.key(x).flatten(2), self.value(x).flatten(2)
        attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1)
        out = (v @ attention.transpose(1, 2)).view(b, c, h, w)
        self.attention_map = attention.detach()
        return self.gamma * out + x
        # END SOLUTION


# ----------------------------------------------------------------------------- the networks
class AttentionGenerator(CycleGAN_Generator):
    """Your Table 2 generator (cyclegan.py) with one SelfAttention(256) after the residual blocks."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 6):
        super().__init__(input_nc, output_nc, ngf, n_blocks)
        # TODO: run a SelfAttention(ngf * 4) right after the last residual block, before the first
        # up-sampling layer, of the generator you built in cyclegan.py (forward is inherited).
        # Hint: replace_module (below) puts a module where another one was, whatever your layout.
        # BEGIN SOLUTION
        first_up = [name for name, module in self.named_modules() if isinstance(module, nn.ConvTranspose2d)][0]
        replace_module(self, first_up, nn.Sequential(SelfAttention(ngf * 4), self.get_submodule(first_up)))
        # END SOLUTION


class AttentionDiscriminator(CycleGAN_Discriminator):
    """Your Table 2 PatchGAN (cyclegan.py) with one SelfAttention(256) before its last two convs."""

    def __init__(self, input_nc: int = 3, ndf: int = 64):
        super().__init__(input_nc, ndf)
        # TODO: run a SelfAttention(ndf * 4) on the output of the third conv layer (after its IN and
        # LeakyReLU), before the fourth, in the discriminator you built in cyclegan.py.
        # BEGIN SOLUTION
        fourth = [name for name, module in self.named_modules() if isinstance(module, nn.Conv2d)][3]
        replace_module(self, fourth, nn.Sequential(SelfAttention(ndf * 4), self.get_submodule(fourth)))
        # END SOLUTION


def replace_module(net: nn.Module, name: str, new: nn.Module) -> None:
    """Put `new` where net's submodule `name` (a name of net.named_modules(), e.g. 'model.9') was."""
    parent, _, attribute = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, attribute, new)


def attention_block(net: nn.Module) -> SelfAttention:
    """The (first) SelfAttention inside `net`."""
    for module in net.modules():
        if isinstance(module, SelfAttention):
            return module
    raise ValueError(f"{type(net).__name__} has no SelfAttention block")


# ----------------------------------------------------------------------------- attention maps
def query_attention(attention_map: torch.Tensor, height: int, width: int,
                    queries: list[tuple[int, int]]) -> torch.Tensor:
    """Where each query position looks: attention_map [B, N, N] (N = height * width, row-major; row j
    is the attention of position j) -> [B, len(queries), height, width]; queries are (row, column)
    on the feature grid."""
    # TODO: for query (r, c), take row r * width + c of every attention map, reshaped to (height, width).
    # BEGIN SOLUTION
    rows = torch.tensor([r * width + c for r, c in queries], device=attention_map.device)
    return attention_map[:, rows, :].reshape(attention_map.shape[0], len(queries), height, width)
    # END SOLUTION


QUERIES = ((0.25, 0.25), (0.5, 0.5), (0.25, 0.75), (0.75, 0.5))   # query pixels, as fractions of (height, width)


@torch.no_grad()
def save_attention_maps(generator: nn.Module, images: torch.Tensor, path: str | Path,
                        queries: tuple[tuple[float, float], ...] = QUERIES) -> Path:
    """One row per image: the input with its query pixels marked (green), then for each query the
    attention of the generator's block over the image, overlaid in red (brighter: more attention)."""
    block, grid = attention_block(generator), {}
    hook = block.register_forward_hook(lambda module, inputs, output: grid.update(shape=inputs[0].shape[-2:]))
    was_training = generator.training
    try:
        generator.eval()(images)
    finally:
        hook.remove()
        generator.train(was_training)
    (h, w), (H, W) = grid["shape"], images.shape[-2:]
    cells = [(min(int(fy * h), h - 1), min(int(fx * w), w - 1)) for fy, fx in queries]
    maps = query_attention(block.attention_map, h, w, cells).float()               # [B, Q, h, w]
    maps = F.interpolate(maps, size=(H, W), mode="nearest")
    maps = maps / maps.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    grey = images.mean(1, keepdim=True).expand_as(images)                      # the input, in grey, under the red
    red, green = (torch.tensor(rgb, device=images.device).view(3, 1, 1)
                  for rgb in ([1.0, -1.0, -1.0], [-1.0, 1.0, -1.0]))
    marked = images.clone()
    rows = []
    for b in range(len(images)):
        row = []
        for q, (r, c) in enumerate(cells):
            y, x = (r * H) // h, (c * W) // w
            overlay = grey[b] * (1 - maps[b, q]) + red * maps[b, q]
            for image in (overlay, marked[b]):
                image[:, y:y + max(H // h, 2), x:x + max(W // w, 2)] = green
            row.append(overlay)
        rows += [marked[b], *row]
    return save_image_grid(torch.stack(rows), path, nrow=1 + len(cells))
