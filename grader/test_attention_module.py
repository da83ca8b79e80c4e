"""EE898 Step 2.1 Self-attention block (10 points): SAGAN's block, judged by what it computes.

y = gamma * o + x; f = W_q x, g = W_k x (1x1, C -> C/8), h = W_v x (1x1, C -> C); attention[j, i] =
softmax over positions i of f_j . g_i; o = h attention^T. Which of the two C/8 projections is called
the query is a name, not a behaviour: either assignment is accepted."""
import numpy as np
import pytest
import torch

from grader.arch import t
from grader.probe import fresh, fresh_int


def block_params(c: int, bias: bool = True) -> int:
    """query + key (C -> C/8), value (C -> C), gamma; biases optional (SAGAN's own code has none)."""
    return 2 * (c * (c // 8) + (c // 8 if bias else 0)) + c * c + (c if bias else 0) + 1


def feature_input(k: int, shape=(2, 16, 3, 5)) -> torch.Tensor:
    """A feature map with H != W (a transposed reshape cannot pass), drawn at grading time."""
    return torch.randn(*shape, generator=fresh(k))


@pytest.mark.student("attention:SelfAttention")
@pytest.mark.points(2)
def test_output_shape_and_c8_reduction(probe):
    """SelfAttention(C): output of the input's shape; query/key 1x1 convs to C/8, value to C (82,241 at C=256)"""
    got = probe("attention_facts", channels=[64, 256], shapes=[[2, 16, 3, 5], [1, 64, 4, 2]], seed=fresh_int(200))
    for c, n in zip((64, 256), got["params"]):
        assert n in (block_params(c), block_params(c, bias=False)), \
            (f"SelfAttention({c}): expected {block_params(c):,} parameters (query and key {c} -> {c // 8}, value "
             f"{c} -> {c}, with biases, and gamma), got {n:,}")
    for shape, out in zip(([2, 16, 3, 5], [1, 64, 4, 2]), got["shapes"]):
        assert out == shape, f"input {shape}: expected an output of the same shape, got {out}"


@pytest.mark.student("attention:SelfAttention")
@pytest.mark.points(2)
def test_identity_at_initialisation(probe):
    """A new block is the identity: gamma is a learnable scalar initialised to 0, and y = gamma * o + x"""
    got = probe("attention_facts", channels=[16], shapes=[[2, 16, 3, 5], [1, 32, 2, 4]], seed=fresh_int(201))
    assert got["gamma_learnable"], "gamma must be a learnable parameter (nn.Parameter) of the block"
    assert got["gamma"] == 0, f"gamma must start at 0, got {got['gamma']:g}"
    worst = max(got["identity"])
    assert worst < 1e-6, f"a new block (gamma = 0) must return its input unchanged (y = gamma * o + x); max |y - x| = {worst:.3g}"


def attention_of(probe, k: int, x: torch.Tensor, gamma: float):
    got = probe("attention_forward", x=x, seed=fresh_int(k), gamma=gamma)
    stored = got["attention_map"]
    assert not isinstance(stored, str), "the block must keep its last attention in self.attention_map ([B, N, N])"
    return got, t(stored)


@pytest.mark.student("attention:SelfAttention.forward")
@pytest.mark.points(2)
def test_attention_rows_are_distributions(probe):
    """self.attention_map is [B, N, N], each row a softmax over the N positions (uniform for a flat input)"""
    x = feature_input(202)
    _, att = attention_of(probe, 203, x, 0.7)
    b, _, h, w = x.shape
    assert list(att.shape) == [b, h * w, h * w], f"expected attention_map of shape [{b}, {h * w}, {h * w}], got {list(att.shape)}"
    assert att.min() >= 0, "attention weights must be non-negative (a softmax)"
    rows = att.sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5), \
        (f"each row of the attention (one query position, over all positions) must sum to 1; row sums range "
         f"{rows.min():.4g}..{rows.max():.4g}: softmax over the last axis")
    flat = feature_input(204, (1, 16, 2, 3))[:, :, :1, :1].expand(1, 16, 2, 3).contiguous()   # every position alike
    _, att = attention_of(probe, 205, flat, 0.7)
    assert torch.allclose(att, torch.full_like(att, 1 / 6), atol=1e-5), \
        "with every position alike, every position must attend to all 6 positions equally (1/6 each)"


def sagan(x, f, g, h, gamma):
    """y and the attention, computed here from the block's own projections."""
    att = torch.softmax(f.transpose(1, 2) @ g, dim=-1)
    return x + gamma * (h @ att.transpose(1, 2)).reshape(x.shape), att


@pytest.mark.student("attention:SelfAttention.forward")
@pytest.mark.points(2)
def test_output_matches_sagan_formula(probe):
    """y = gamma * h attention^T + x with attention = softmax_i(f_j . g_i), from the block's own projections"""
    x, gamma = feature_input(206), 0.6
    got = probe("attention_forward", x=x, seed=fresh_int(207), gamma=gamma)   # the stored map is another item's
    c = x.shape[1]
    projections = [t(p) for p in got["projections"]]
    small = [p for p in projections if p.shape[1] == c // 8]
    value = [p for p in projections if p.shape[1] == c]
    assert len(small) == 2 and len(value) == 1, \
        (f"expected three 1x1 projections (nn.Conv2d or nn.Linear): two to C/8 = {c // 8} channels (query, key) "
         f"and one to C = {c} (value); got outputs of {[p.shape[1] for p in projections]} channels")
    y, x64 = t(got["y"]), x.double()
    candidates = [sagan(x64, small[0], small[1], value[0], gamma), sagan(x64, small[1], small[0], value[0], gamma)]
    matches = [att for expected, att in candidates if torch.allclose(y, expected, rtol=1e-4, atol=1e-5)]
    assert matches, ("the output is not gamma * o + x with o = h attention^T and attention = softmax over positions i "
                     "of f_j . g_i (row j: where position j looks): check the softmax axis, the transpose and the residual")
    if not isinstance(got["attention_map"], str):
        assert torch.allclose(t(got["attention_map"]), matches[0], atol=1e-5), \
            "self.attention_map must hold the attention the output was computed with (row j: where position j looks)"


@pytest.mark.student("attention:SelfAttention")
@pytest.mark.points(2)
def test_gradient_reaches_gamma_and_projections(probe):
    """Training reaches gamma (from the start) and, once gamma != 0, every query/key/value weight"""
    x = feature_input(208)
    weights = torch.randn(x.shape, generator=fresh(209))
    start = probe("attention_gradients", x=x, weights=weights, seed=fresh_int(210), gamma=None)
    assert start["gamma"] > 0, "no gradient reaches gamma: it must be a learnable parameter used in y = gamma * o + x"
    later = probe("attention_gradients", x=x, weights=weights, seed=fresh_int(210), gamma=0.5)
    dead = sorted(name for name, g in later["grads"].items() if not g > 0)
    assert not dead, (f"with gamma = 0.5, no gradient reaches {', '.join(dead)}: the attention must stay in the "
                      f"graph (no detach or torch.no_grad inside forward; detach only the stored map)")
