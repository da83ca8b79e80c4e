"""Behavioural architecture checks shared by the model tests.

The grader does not care how a network is written (nn.Sequential or attributes, modules or
F.* calls). `grader.questions.trace` runs the network once (in the student's process) with hooks on its
conv and batch-norm layers and returns plain data (layer settings, and each layer's input and
output arrays); these checks then compare, in the judge,
  * each conv layer, in the order it is called, with the handout's table, and
  * what happens between two conv layers, numerically: the next layer's input must equal
    pad(act(norm(previous output))) for the norm / activation / padding the table says.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


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


# ----------------------------------------------------------------------------- judge side
def t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def traced_params(traced: dict) -> int:
    """Parameters of the conv and norm layers that ran (each module once)."""
    seen = {}
    for call in traced.get("convs", []) + traced.get("bns", []):
        seen[call.get("module")] = int(call.get("params", 0))
    return sum(seen.values())


def check_count(reported, traced: dict, expected: int, what: str) -> None:
    """The parameter count, and the same count from the layers that really ran on a fresh input."""
    assert reported == expected, f"expected {expected:,} trainable parameters in {what}, got {reported:,}" \
        if isinstance(reported, int) else f"{what}: parameter count {reported!r}"
    from_layers = traced_params(traced)
    assert from_layers == expected, (f"{what} reports {reported:,} parameters, but the conv and norm layers that run "
                                     f"in its forward pass hold {from_layers:,} (expected {expected:,})")


def check_layer(call: dict, spec: Layer) -> list[str]:
    """Type, channels, kernel, stride, padding, output padding and bias of one conv call."""
    expected_type = "ConvTranspose2d" if spec.transposed else "Conv2d"
    if call.get("kind") != expected_type:
        return [f"{spec.describe()}: expected nn.{expected_type}, got {call.get('kind')}"]
    internal_reflect = call["padding_mode"] == "reflect"
    got = {"in channels": call["c_in"], "out channels": call["c_out"], "kernel": call["kernel"],
           "stride": call["stride"], "bias": call["bias"],
           "zero padding": [0, 0] if internal_reflect else call["padding"]}
    want = {"in channels": spec.c_in, "out channels": spec.c_out, "kernel": [spec.k, spec.k],
            "stride": [spec.s, spec.s], "bias": spec.bias, "zero padding": [spec.p, spec.p]}
    if internal_reflect:
        got["reflection padding"], want["reflection padding"] = call["padding"], [spec.reflect, spec.reflect]
    if spec.transposed:
        got["output padding"], want["output padding"] = call["output_padding"], [spec.op, spec.op]
    return [f"{spec.describe()}: expected {key} {want[key]}, got {got[key]}" for key in want if got[key] != want[key]]


def apply_act(x: torch.Tensor, act: str | None) -> torch.Tensor:
    return {"relu": F.relu, "lrelu": lambda v: F.leaky_relu(v, 0.2), "tanh": torch.tanh,
            "sigmoid": torch.sigmoid, None: lambda v: v}[act](x)


def close(a, b) -> bool:
    a, b = t(a), t(b)
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def after_layer(call: dict, spec: Layer, bns: list[dict]) -> torch.Tensor | str:
    """act(norm(output)) as the table says, or a message when a required BatchNorm is missing."""
    y = t(call["output"])
    if spec.norm == "bn":
        bn = next((b for b in bns if close(b["input"], y)), None)
        if bn is None:
            return f"{spec.describe()}: no BatchNorm2d is applied to this layer's output"
        if bn["num_features"] != spec.c_out:
            return f"{spec.describe()}: BatchNorm2d has {bn['num_features']} features, expected {spec.c_out}"
        y = t(bn["output"])
    elif spec.norm == "in":
        y = F.instance_norm(y, eps=1e-5)
    return apply_act(y, spec.act)


def reflect(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.pad(x, (r, r, r, r), mode="reflect") if r else x


def check_link(prev: dict, prev_spec: Layer, nxt: dict, next_spec: Layer, bns: list[dict]) -> list[str]:
    """The next conv's input must be reflect_pad(act(norm(previous output)))."""
    y = after_layer(prev, prev_spec, bns)
    if isinstance(y, str):
        return [y]
    internal = nxt.get("padding_mode") == "reflect"
    expected = y if internal else reflect(y, next_spec.reflect)
    if close(nxt["input"], expected):
        return []
    hint = [prev_spec.norm.upper()] if prev_spec.norm else []
    if prev_spec.act:
        hint.append(prev_spec.act + ("(0.2)" if prev_spec.act == "lrelu" else ""))
    if next_spec.reflect and not internal:
        hint.append(f"ReflectionPad2d({next_spec.reflect})")
    return [f"between '{prev_spec.name}' and '{next_spec.name}': expected the output to go through "
            f"{' -> '.join(hint) or 'nothing'} (input shape {tuple(expected.shape)}), but the next layer "
            f"received something else (shape {tuple(np.shape(nxt['input']))})"]


def check_output(last: dict, spec: Layer, out, bns: list[dict]) -> list[str]:
    """The network's output must be act(norm(last conv output)) (reshaped is fine)."""
    y, out = after_layer(last, spec, bns), t(out)
    if isinstance(y, str):
        return [y]
    if y.numel() == out.numel() and torch.allclose(y.reshape(out.shape), out, rtol=1e-4, atol=1e-4):
        return []
    return [f"the output should be {spec.act or 'the raw output'} of '{spec.name}'"
            f"{' after ' + spec.norm.upper() if spec.norm else ''}, but it is not"]


def check_chain(traced: dict, table: list[Layer]) -> tuple[list[str], list[str]]:
    """(layer problems, link problems) of a plain chain of conv layers (no skips)."""
    calls, bns = traced["convs"], traced["bns"]
    if len(calls) != len(table):
        msg = f"expected {len(table)} conv layers to run, got {len(calls)}"
        return [msg], [msg]
    layer_problems = [p for c, s in zip(calls, table) for p in check_layer(c, s)]
    link_problems = [p for i in range(len(table) - 1)
                     for p in check_link(calls[i], table[i], calls[i + 1], table[i + 1], bns)]
    link_problems += check_output(calls[-1], table[-1], traced["out"], bns)
    return layer_problems, link_problems
