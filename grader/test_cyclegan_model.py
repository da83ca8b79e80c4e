"""2.1 CycleGAN model (10 points): Table 2, parameter counts, shapes, residual blocks."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.arch import (Layer, check_chain, check_count, check_layer, check_link, check_output, close, genuine, reflect,
                         t)
from grader.probe import fresh, fresh_int

DOWN = [
    Layer("down1", False, 3, 64, 7, 1, 0, reflect=3, bias=True, norm="in", act="relu"),
    Layer("down2", False, 64, 128, 3, 2, 1, bias=True, norm="in", act="relu"),
    Layer("down3", False, 128, 256, 3, 2, 1, bias=True, norm="in", act="relu"),
]
RES_A = Layer("residual conv1", False, 256, 256, 3, 1, 0, reflect=1, bias=True, norm="in", act="relu")
RES_B = Layer("residual conv2", False, 256, 256, 3, 1, 0, reflect=1, bias=True, norm="in", act=None)
UP = [
    Layer("up1", True, 256, 128, 3, 2, 1, op=1, bias=True, norm="in", act="relu"),
    Layer("up2", True, 128, 64, 3, 2, 1, op=1, bias=True, norm="in", act="relu"),
    Layer("out", False, 64, 3, 7, 1, 0, reflect=3, bias=False, norm=None, act="tanh"),
]
G_TABLE = DOWN + [RES_A, RES_B] * 6 + UP
D_TABLE = [
    Layer("D layer1", False, 3, 64, 4, 2, 1, bias=False, norm=None, act="lrelu"),
    Layer("D layer2", False, 64, 128, 4, 2, 1, bias=True, norm="in", act="lrelu"),
    Layer("D layer3", False, 128, 256, 4, 2, 1, bias=True, norm="in", act="lrelu"),
    Layer("D layer4", False, 256, 512, 4, 1, 1, bias=True, norm="in", act="lrelu"),
    Layer("D layer5", False, 512, 1, 4, 1, 1, bias=False, norm=None, act=None),
]


def generator_trace(probe):
    """One traced forward pass of the student's generator on a 32x32 image, plus its module facts."""
    x = torch.randn(1, 3, 32, 32, generator=fresh(30))
    traced = genuine(probe("cyclegan_trace", part="G", x=x, seed=fresh_int(31)), [x], fresh_int(31))
    assert len(traced["convs"]) == len(G_TABLE), \
        f"expected {len(G_TABLE)} conv layers to run (3 down, 6x2 residual, 2 up, 1 out), got {len(traced['convs'])}"
    return traced


@pytest.mark.student("cyclegan:CycleGAN_Generator")
@pytest.mark.points(1)
def test_generator_parameters_and_shapes(probe):
    """Generator: 7,837,696 parameters; [B,3,H,W] -> [B,3,H,W] for H,W divisible by 4"""
    shapes = ([1, 3, 32, 48], [2, 3, 64, 64])
    got = probe("cyclegan_generator_facts", shapes=[list(s) for s in shapes], seed=fresh_int(32))
    x = torch.randn(1, 3, 32, 32, generator=fresh(30))
    traced = genuine(probe("cyclegan_trace", part="G", x=x, seed=fresh_int(31)), [x], fresh_int(31))
    check_count(got["params"], traced, 7_837_696, "CycleGAN_Generator")
    for shape, out in zip(shapes, got["shapes"]):
        assert out == shape, f"input {shape}: expected the same output shape, got {out}"


@pytest.mark.student("cyclegan:CycleGAN_Discriminator")
@pytest.mark.points(1)
def test_discriminator_parameters_and_patch_output(probe):
    """Discriminator: 2,764,672 parameters; [1,1,30,30] patches at 256x256"""
    got = probe("cyclegan_discriminator_facts", sizes=[256, 64], seed=fresh_int(33))
    check_count(got["params"], discriminator_trace(probe), 2_764_672, "CycleGAN_Discriminator")
    for size, patches, out in zip((256, 64), (30, 6), got["shapes"]):
        assert out == [1, 1, patches, patches], f"input {size}x{size}: expected output [1, 1, {patches}, {patches}], got {out}"


@pytest.mark.student("cyclegan:CycleGAN_Generator")
@pytest.mark.points(1)
def test_generator_layers_match_table2(probe):
    """Generator layers: kernels, strides, zero vs reflection padding, output_padding, bias flags"""
    calls = generator_trace(probe)["convs"]
    problems = [p for c, s in zip(calls, G_TABLE) for p in check_layer(c, s)]
    assert not problems, "\n".join(problems)


@pytest.mark.student("cyclegan:CycleGAN_Generator")
@pytest.mark.points(2)
def test_generator_instance_norm_relu_reflection_and_tanh(probe):
    """Generator: non-affine IN + ReLU after each conv, reflection pads of 3, Tanh output"""
    traced = generator_trace(probe)
    calls = traced["convs"]
    assert not traced["affine_in"], f"InstanceNorm2d must be non-affine (affine=False): {traced['affine_in']}"
    problems = check_link(calls[0], DOWN[0], calls[1], DOWN[1], []) + check_link(calls[1], DOWN[1], calls[2], DOWN[2], [])
    problems += check_link(calls[2], DOWN[2], calls[3], RES_A, [])
    problems += check_link(calls[-3], UP[0], calls[-2], UP[1], []) + check_link(calls[-2], UP[1], calls[-1], UP[2], [])
    problems += check_output(calls[-1], UP[2], traced["out"], [])
    first = calls[0]
    if first["padding_mode"] != "reflect" and np.shape(first["input"])[-1] != 32 + 6:
        problems.append(f"down1 should see the image reflection-padded by 3 (38x38), got {np.shape(first['input'])}")
    assert not problems, "\n".join(problems)


@pytest.mark.student("cyclegan:ResnetBlock")
@pytest.mark.points(2)
def test_six_distinct_residual_blocks_with_skip_connections(probe):
    """Six distinct ResnetBlocks, each x + [RP1, conv, IN, ReLU, RP1, conv, IN](x)"""
    traced = generator_trace(probe)
    calls = traced["convs"]
    assert traced["n_blocks"] == 6, f"expected 6 ResnetBlock modules in the generator, got {traced['n_blocks']}"
    assert len({c["module"] for c in calls[3:15]}) == 12, "the residual blocks share conv layers: build 6 distinct blocks"
    x = F.relu(F.instance_norm(t(calls[2]["output"])))           # input of the first block
    problems = []
    for j in range(6):
        a, b = calls[3 + 2 * j], calls[4 + 2 * j]
        problems += check_link(a, RES_A, b, RES_B, [])
        x = x + F.instance_norm(t(b["output"]))
        nxt = calls[5 + 2 * j]
        expected = x if j == 5 or nxt["padding_mode"] == "reflect" else reflect(x, 1)
        if not close(nxt["input"], expected):
            problems.append(f"residual block {j + 1}: its output should be x + block(x) (the skip connection)")
            break
    assert not problems, "\n".join(problems)


def discriminator_trace(probe):
    x = torch.randn(1, 3, 64, 64, generator=fresh(34))
    return genuine(probe("cyclegan_trace", part="D", x=x, seed=fresh_int(35)), [x], fresh_int(35))


@pytest.mark.student("cyclegan:CycleGAN_Discriminator")
@pytest.mark.points(1)
def test_discriminator_layers_match_table2(probe):
    """PatchGAN layers: k4, strides 2,2,2,1,1, padding 1, bias flags (no bias on the first and last)"""
    layers, _ = check_chain(discriminator_trace(probe), D_TABLE)
    assert not layers, "\n".join(layers)


@pytest.mark.student("cyclegan:CycleGAN_Discriminator")
@pytest.mark.points(1)
def test_discriminator_norms_and_activations(probe):
    """PatchGAN: LeakyReLU(0.2) everywhere, IN on layers 2-4 only, raw scores out"""
    _, links = check_chain(discriminator_trace(probe), D_TABLE)
    assert not links, "\n".join(links)


def generator_links(traced) -> list[str]:
    """Every conv's input from the previous conv's output by Table 2 (IN per image, ReLU, reflection
    pads, the residual sums), and the Tanh output."""
    calls, bns = traced["convs"], traced["bns"]
    problems = [p for i in range(3) for p in check_link(calls[i], DOWN[i], calls[i + 1], (DOWN + [RES_A])[i + 1], bns)]
    x = F.relu(F.instance_norm(t(calls[2]["output"])))
    for j in range(6):
        a, b, nxt = calls[3 + 2 * j], calls[4 + 2 * j], calls[5 + 2 * j]
        problems += check_link(a, RES_A, b, RES_B, bns)
        x = x + F.instance_norm(t(b["output"]))
        expected = x if j == 5 or nxt["padding_mode"] == "reflect" else reflect(x, 1)
        if not close(nxt["input"], expected):
            problems.append(f"residual block {j + 1}: its output should be x + block(x), each IN normalising "
                            f"every image by its own statistics")
    problems += check_link(calls[-3], UP[0], calls[-2], UP[1], bns) + check_link(calls[-2], UP[1], calls[-1], UP[2], bns)
    return problems + check_output(calls[-1], UP[2], traced["out"], bns)


@pytest.mark.student("cyclegan:CycleGAN_Generator", "cyclegan:CycleGAN_Discriminator")
@pytest.mark.points(1)
def test_eval_mode_normalises_each_image_by_its_own_statistics(probe):
    """In eval mode (--train false), after training passes, G and D still normalise each image of a batch by
    its own statistics: InstanceNorm without running statistics, no BatchNorm"""
    problems = []
    for part, size in (("G", 16), ("D", 32)):
        x = torch.randn(2, 3, size, size, generator=fresh(36))
        x[1] = x[1] * 3 + 1                         # two images with different statistics
        traced = genuine(probe("cyclegan_trace", part=part, x=x, seed=fresh_int(37), mode="eval"), [x], fresh_int(37))
        if part == "G":
            assert len(traced["convs"]) == len(G_TABLE), \
                f"expected {len(G_TABLE)} conv layers to run in eval mode, got {len(traced['convs'])}"
            found = generator_links(traced)
        else:
            found = [p for group in check_chain(traced, D_TABLE) for p in group]
        problems += [f"{'generator' if part == 'G' else 'discriminator'} in eval mode, a batch of 2: {p}" for p in found]
    assert not problems, "\n".join(problems[:3]) + ("" if len(problems) <= 3 else f"\n(and {len(problems) - 3} more)")
