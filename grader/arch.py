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
    """Parameters of the conv and norm layers that ran (each module once), from the shapes of the weights
    the trace carries (tied to its inputs and outputs by `genuine`), not from a number it reports."""
    seen = {}
    for call in traced.get("convs", []) + traced.get("bns", []):
        if call.get("weight_shape") is not None:             # a conv call carries some channels and the shape
            weights = int(np.prod(call["weight_shape"]))
        else:                                                 # a BatchNorm call carries its affine weight
            weights = int(np.size(call["weight"])) if call.get("weight") is not None else 0
        bias = int(np.size(call["bias_value"])) if call.get("bias_value") is not None else 0
        seen[call.get("module")] = weights + bias
    return sum(seen.values())


def conv_rows(call: dict, index: int, seed: int) -> list[int]:
    """The output channels of the index-th conv call the judge recomputes (the ones whose weights it got)."""
    from grader.questions import checked_channels
    if call.get("groups", 1) != 1:
        return list(range(call["c_out"]))
    return checked_channels(seed, index, call["c_out"])


def conv_of(call: dict, x: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """The judge's own computation of output channels `rows` of one traced conv call on `x` (float64)."""
    weight = t(call["weight_rows"])
    bias = t(call["bias_value"])[rows] if call.get("bias_value") is not None else None
    stride, padding, dilation = call["stride"], call["padding"], call.get("dilation", [1, 1])
    groups = call.get("groups", 1)
    if call["kind"] == "ConvTranspose2d":
        return F.conv_transpose2d(x, weight, bias, stride, padding, call["output_padding"], groups, dilation)
    if call.get("padding_mode", "zeros") != "zeros":
        mode = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}[call["padding_mode"]]
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), mode=mode)
        padding = [0, 0]
    return F.conv2d(x, weight, bias, stride, padding, dilation, groups)


def _consistent(call: dict, rows: list[int]) -> bool:
    """The call's reported settings agree with the shapes of its input, output and weights."""
    inp, out, shape, w = np.shape(call["input"]), np.shape(call["output"]), list(call["weight_shape"]), np.shape(call["weight_rows"])
    groups = call.get("groups", 1)
    transposed = call["kind"] == "ConvTranspose2d"
    c_in, c_out = (shape[0], shape[1] * groups) if transposed else (shape[1] * groups, shape[0])
    picked = tuple(shape[:2]) if groups != 1 else (shape[0], len(rows)) if transposed else (len(rows), shape[1])
    return (len(inp) == 4 and len(out) == 4 and inp[1] == c_in == call["c_in"] and out[1] == c_out == call["c_out"]
            and list(shape[2:]) == list(call["kernel"]) and tuple(w[:2]) == tuple(picked) and list(w[2:]) == shape[2:]
            and bool(call["bias"]) == (call.get("bias_value") is not None))


def batch_norm_of(bn: dict, x: torch.Tensor) -> torch.Tensor:
    """The judge's own computation of one traced BatchNorm call on `x`."""
    weight = t(bn["weight"]) if bn.get("weight") is not None else None
    bias = t(bn["bias_value"]) if bn.get("bias_value") is not None else None
    if bn.get("batch_stats", True):
        return F.batch_norm(x, None, None, weight, bias, training=True, eps=float(bn.get("eps", 1e-5)))
    mean, var = (t(v) for v in bn["running"])
    return F.batch_norm(x, mean, var, weight, bias, training=False, eps=float(bn.get("eps", 1e-5)))


def _agrees(got, want: torch.Tensor) -> bool:
    got = t(got)
    scale = float(want.abs().max()) if want.numel() else 0.0
    return got.shape == want.shape and bool(torch.isfinite(got).all()) and torch.allclose(
        got, want, rtol=1e-4, atol=1e-4 * max(1.0, scale))


def received(first: torch.Tensor, x: torch.Tensor) -> bool:
    """`first` holds the judge's input x: its values in any layout (z as [B,256] or [B,256,1,1]), or x
    inside a border of any padding (zeros, reflection, ...). Which layout is right is a check of its own."""
    def same(a, b):
        return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-6)
    if first.numel() == x.numel() and same(first.flatten().sort().values, x.flatten().sort().values):
        return True
    if first.dim() == 4 and x.dim() == 4 and first.shape[:2] == x.shape[:2]:
        p = (first.shape[-1] - x.shape[-1]) // 2
        return p > 0 and first.shape[-2] - x.shape[-2] == 2 * p and same(first[..., p:-p, p:-p], x)
    return False


def genuine(traced: dict, first_inputs: list, seed: int) -> dict:
    """The trace, if it is the computation it reports; else AssertionError (every check that reads it
    fails). A trace comes from the student's process, so nothing in it is taken on trust:
      * the first conv layer received the judge's own input (one of `first_inputs`, in any layout or
        inside a padding border);
      * every conv call's settings agree with the shapes of its input, output and weights, and the
        output channels drawn from the judge's `seed` are the judge's conv of the call's input with the
        call's own weights, which are finite and not constant (a network of zeros computes nothing);
      * every BatchNorm call's output is the judge's batch norm of its input (its own affine values).
    What is built on a trace (layer settings, links, counts) then describes a real computation."""
    convs, bns = traced.get("convs"), traced.get("bns", [])
    if not isinstance(convs, list) or not convs or not all(isinstance(c, dict) for c in convs + list(bns)):
        raise AssertionError("no conv layer ran in the forward pass")
    try:
        if not any(received(t(convs[0]["input"]), t(x)) for x in first_inputs):
            raise AssertionError("the first conv layer did not receive the network's input (the grader's sample)")
        for i, call in enumerate(convs):
            rows = conv_rows(call, i, seed)
            if not _consistent(call, rows):
                raise AssertionError(f"conv layer {i + 1}'s settings do not match the shapes of its input, output "
                                     f"and weights")
            weight = t(call["weight_rows"])
            if not bool(torch.isfinite(weight).all()) or float(weight.std()) == 0.0:
                raise AssertionError(f"conv layer {i + 1} has no usable weights (constant or not finite)")
            if not _agrees(t(call["output"])[:, rows], conv_of(call, t(call["input"]), rows)):
                raise AssertionError(f"conv layer {i + 1}'s output is not the convolution of its input with its weights")
        for i, bn in enumerate(bns, 1):
            if not _agrees(bn["output"], batch_norm_of(bn, t(bn["input"]))):
                raise AssertionError(f"BatchNorm layer {i}'s output is not the batch norm of its input")
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise AssertionError(f"the traced forward pass is not a computation the grader can replay ({exc})") from None
    return traced


def check_count(reported, traced: dict, expected: int, what: str) -> None:
    """The parameter count, and the same count from the layers that really ran on a fresh input."""
    assert reported == expected, f"expected {expected:,} trainable parameters in {what}, got {reported:,}" \
        if isinstance(reported, int) else f"{what}: parameter count {reported!r}"
    from_layers = traced_params(traced)
    assert from_layers == expected, (f"{what} reports {reported:,} parameters, but the conv and norm layers that run "
                                     f"in its forward pass hold {from_layers:,} (expected {expected:,})")


def padded_outside(call: dict, spec: Layer) -> int:
    """The zero padding a module in front of a conv adds (nn.ZeroPad2d, F.pad: the conv then pads less):
    the rings of exact zeros around the conv's input, counted up to what the table's padding still needs."""
    need = spec.p - call["padding"][0]
    if spec.transposed or call.get("padding_mode", "zeros") != "zeros" or need <= 0 or call["padding"][0] != call["padding"][1]:
        return 0
    x = t(call["input"])
    if min(x.shape[-2:]) <= 2 * need:
        return 0
    border = torch.ones(x.shape[-2:], dtype=torch.bool)
    border[need:-need, need:-need] = False
    return need if not bool(x[..., border].any()) else 0


def check_layer(call: dict, spec: Layer) -> list[str]:
    """Type, channels, kernel, stride, padding, output padding and bias of one conv call."""
    expected_type = "ConvTranspose2d" if spec.transposed else "Conv2d"
    if call.get("kind") != expected_type:
        return [f"{spec.describe()}: expected nn.{expected_type}, got {call.get('kind')}"]
    internal_reflect = call["padding_mode"] == "reflect"
    outside = padded_outside(call, spec)
    got = {"in channels": call["c_in"], "out channels": call["c_out"], "kernel": call["kernel"],
           "stride": call["stride"], "bias": call["bias"],
           "zero padding": [0, 0] if internal_reflect else [p + outside for p in call["padding"]]}
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
        y = batch_norm_of(bn, y)
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
    if outside := padded_outside(nxt, next_spec):
        expected = F.pad(expected, (outside,) * 4)
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
