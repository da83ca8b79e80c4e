"""Behavioural architecture checks shared by the model tests.

The grader does not care how a network is written (nn.Sequential or attributes, modules or
F.* calls). It runs the network once with hooks on its conv layers, then checks
  * each conv layer, in the order it is called, against the handout's table, and
  * what happens between two conv layers, numerically: the next layer's input must equal
    pad(act(norm(previous output))) for the norm / activation / padding the table says.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

CONV_TYPES = (nn.Conv2d, nn.ConvTranspose2d)


@dataclass
class Call:
    module: nn.Module
    input: torch.Tensor
    output: torch.Tensor


@dataclass
class Layer:
    """One conv layer of a table, and what follows it before the next conv layer."""
    name: str
    transposed: bool
    c_in: int
    c_out: int
    k: int
    s: int
    p: int = 0            # zero padding
    reflect: int = 0      # reflection padding in front of the conv
    op: int = 0           # output_padding (transposed only)
    bias: bool = False
    norm: str | None = None     # 'bn' | 'in' | None, applied to this layer's output
    act: str | None = None      # 'relu' | 'lrelu' | 'tanh' | 'sigmoid' | None

    def describe(self) -> str:
        kind = "Deconv" if self.transposed else "Conv"
        pad = f"RP{self.reflect}" if self.reflect else f"P{self.p}"
        extra = f", OP{self.op}" if self.op else ""
        return (f"{self.name}: {kind}-(N{self.c_out}, K{self.k}, S{self.s}, {pad}{extra}"
                f"{', B' if self.bias else ''}) {self.c_in}->{self.c_out}"
                f"{', ' + self.norm.upper() if self.norm else ''}{', ' + self.act if self.act else ''}")


def trace(model: nn.Module, x: torch.Tensor, types=CONV_TYPES + (nn.BatchNorm2d,)):
    """Run model(x) and record every call of a conv / batch-norm module, in call order."""
    calls: list[Call] = []

    def hook(module, inputs, output):
        calls.append(Call(module, inputs[0].detach().clone(), output.detach().clone()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        out = model(x)
    finally:
        for h in handles:
            h.remove()
    return out, [c for c in calls if isinstance(c.module, CONV_TYPES)], \
        [c for c in calls if isinstance(c.module, nn.BatchNorm2d)]


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def check_layer(call: Call, spec: Layer) -> list[str]:
    """Type, channels, kernel, stride, padding, output padding and bias of one conv call."""
    m, problems = call.module, []
    expected_type = nn.ConvTranspose2d if spec.transposed else nn.Conv2d
    if type(m) is not expected_type:
        return [f"{spec.describe()}: expected nn.{expected_type.__name__}, got {type(m).__name__}"]
    got = {"in channels": m.in_channels, "out channels": m.out_channels, "kernel": pair(m.kernel_size),
           "stride": pair(m.stride), "bias": m.bias is not None}
    want = {"in channels": spec.c_in, "out channels": spec.c_out, "kernel": (spec.k, spec.k),
            "stride": (spec.s, spec.s), "bias": spec.bias}
    internal_reflect = getattr(m, "padding_mode", "zeros") == "reflect"
    got["zero padding"] = (0, 0) if internal_reflect else pair(m.padding)
    want["zero padding"] = (spec.p, spec.p)
    if internal_reflect:
        got["reflection padding"], want["reflection padding"] = pair(m.padding), (spec.reflect, spec.reflect)
    if spec.transposed:
        got["output padding"], want["output padding"] = pair(m.output_padding), (spec.op, spec.op)
    for key in want:
        if got[key] != want[key]:
            problems.append(f"{spec.describe()}: expected {key} {want[key]}, got {got[key]}")
    return problems


def apply_act(x: torch.Tensor, act: str | None) -> torch.Tensor:
    return {"relu": F.relu, "lrelu": lambda t: F.leaky_relu(t, 0.2), "tanh": torch.tanh,
            "sigmoid": torch.sigmoid, None: lambda t: t}[act](x)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def after_layer(call: Call, spec: Layer, bn_calls: list[Call]) -> torch.Tensor | str:
    """act(norm(output)) as the table says, or a message when a required BatchNorm is missing."""
    y = call.output
    if spec.norm == "bn":
        bn = next((b for b in bn_calls if close(b.input, y)), None)
        if bn is None:
            return f"{spec.describe()}: no BatchNorm2d is applied to this layer's output"
        if bn.module.num_features != spec.c_out:
            return f"{spec.describe()}: BatchNorm2d has {bn.module.num_features} features, expected {spec.c_out}"
        y = bn.output
    elif spec.norm == "in":
        y = F.instance_norm(y, eps=1e-5)
    return apply_act(y, spec.act)


def reflect(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.pad(x, (r, r, r, r), mode="reflect") if r else x


def check_link(prev: Call, prev_spec: Layer, nxt: Call, next_spec: Layer, bn_calls: list[Call]) -> list[str]:
    """The next conv's input must be reflect_pad(act(norm(previous output)))."""
    y = after_layer(prev, prev_spec, bn_calls)
    if isinstance(y, str):
        return [y]
    internal = getattr(nxt.module, "padding_mode", "zeros") == "reflect"
    expected = y if internal else reflect(y, next_spec.reflect)
    if close(nxt.input, expected):
        return []
    hint = []
    if prev_spec.norm:
        hint.append(prev_spec.norm.upper())
    if prev_spec.act:
        hint.append(prev_spec.act + ("(0.2)" if prev_spec.act == "lrelu" else ""))
    if next_spec.reflect and not internal:
        hint.append(f"ReflectionPad2d({next_spec.reflect})")
    return [f"between '{prev_spec.name}' and '{next_spec.name}': expected the output to go through "
            f"{' -> '.join(hint) or 'nothing'} (input shape {tuple(expected.shape)}), but the next layer "
            f"received something else (shape {tuple(nxt.input.shape)})"]


def check_output(last: Call, spec: Layer, out: torch.Tensor, bn_calls: list[Call]) -> list[str]:
    """The network's output must be act(norm(last conv output)) (reshaped is fine)."""
    y = after_layer(last, spec, bn_calls)
    if isinstance(y, str):
        return [y]
    if y.numel() == out.numel() and torch.allclose(y.reshape(out.shape), out.detach(), rtol=1e-4, atol=1e-4):
        return []
    return [f"the output should be {spec.act or 'the raw output'} of '{spec.name}'"
            f"{' after ' + spec.norm.upper() if spec.norm else ''}, but it is not"]


def check_chain(model: nn.Module, x: torch.Tensor, table: list[Layer]) -> tuple[list[str], list[str]]:
    """(layer problems, link problems) of a plain chain of conv layers (no skips)."""
    out, calls, bns = trace(model, x)
    if len(calls) != len(table):
        msg = f"expected {len(table)} conv layers to run, got {len(calls)}"
        return [msg], [msg]
    layer_problems = [p for c, s in zip(calls, table) for p in check_layer(c, s)]
    link_problems = [p for i in range(len(table) - 1)
                     for p in check_link(calls[i], table[i], calls[i + 1], table[i + 1], bns)]
    link_problems += check_output(calls[-1], table[-1], out, bns)
    return layer_problems, link_problems


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
