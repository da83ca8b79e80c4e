"""2.1 CycleGAN model (10 points): Table 2, parameter counts, shapes, residual blocks."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.arch import Layer, check_chain, check_layer, check_link, check_output, close, n_params, reflect, trace

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


@pytest.fixture(scope="module")
def g_trace():
    """One traced forward pass of the student's generator on a 32x32 batch."""
    from grader.conftest import student_module
    torch.manual_seed(0)
    g = student_module("cyclegan").CycleGAN_Generator()
    out, calls, _ = trace(g, torch.randn(2, 3, 32, 32))
    return g, out.detach(), calls


def table_size_ok(calls):
    assert len(calls) == len(G_TABLE), f"expected {len(G_TABLE)} conv layers to run (3 down, 6x2 residual, " \
                                       f"2 up, 1 out), got {len(calls)}"


@pytest.mark.points(1)
def test_generator_parameters_and_shapes(cyclegan):
    """Generator: 7,837,696 parameters; [B,3,H,W] -> [B,3,H,W] for H,W divisible by 4"""
    g = cyclegan.CycleGAN_Generator()
    assert n_params(g) == 7_837_696, f"expected 7,837,696 parameters in CycleGAN_Generator, got {n_params(g):,}"
    with torch.no_grad():
        for shape in ((1, 3, 32, 48), (2, 3, 64, 64)):
            out = g(torch.randn(*shape))
            assert tuple(out.shape) == shape, f"input {list(shape)}: expected the same output shape, got {list(out.shape)}"


@pytest.mark.points(1)
def test_discriminator_parameters_and_patch_output(cyclegan):
    """Discriminator: 2,764,672 parameters; [1,1,30,30] patches at 256x256"""
    d = cyclegan.CycleGAN_Discriminator()
    assert n_params(d) == 2_764_672, f"expected 2,764,672 parameters in CycleGAN_Discriminator, got {n_params(d):,}"
    with torch.no_grad():
        for size, patches in ((256, 30), (64, 6)):
            out = d(torch.randn(1, 3, size, size))
            assert tuple(out.shape) == (1, 1, patches, patches), \
                f"input {size}x{size}: expected output [1, 1, {patches}, {patches}], got {list(out.shape)}"


@pytest.mark.points(2)
def test_generator_layers_match_table2(cyclegan, g_trace):
    """Generator layers: kernels, strides, zero vs reflection padding, output_padding, bias flags"""
    _, _, calls = g_trace
    table_size_ok(calls)
    problems = [p for c, s in zip(calls, G_TABLE) for p in check_layer(c, s)]
    assert not problems, "\n".join(problems)


@pytest.mark.points(2)
def test_generator_instance_norm_relu_reflection_and_tanh(cyclegan, g_trace):
    """Generator: non-affine IN + ReLU after each conv, reflection pads of 3, Tanh output"""
    g, out, calls = g_trace
    table_size_ok(calls)
    affine = [n for n, m in g.named_modules() if isinstance(m, nn.InstanceNorm2d) and m.affine]
    assert not affine, f"InstanceNorm2d must be non-affine (affine=False): {affine}"
    problems = check_link(calls[0], DOWN[0], calls[1], DOWN[1], []) + check_link(calls[1], DOWN[1], calls[2], DOWN[2], [])
    problems += check_link(calls[2], DOWN[2], calls[3], RES_A, [])
    problems += check_link(calls[-3], UP[0], calls[-2], UP[1], []) + check_link(calls[-2], UP[1], calls[-1], UP[2], [])
    problems += check_output(calls[-1], UP[2], out, [])
    first = calls[0]
    if getattr(first.module, "padding_mode", "zeros") != "reflect" and first.input.shape[-1] != 32 + 6:
        problems.append(f"down1 should see the image reflection-padded by 3 (38x38), got {tuple(first.input.shape)}")
    assert not problems, "\n".join(problems)


@pytest.mark.points(2)
def test_six_distinct_residual_blocks_with_skip_connections(cyclegan, g_trace):
    """Six distinct ResnetBlocks, each x + [RP1, conv, IN, ReLU, RP1, conv, IN](x)"""
    g, _, calls = g_trace
    table_size_ok(calls)
    blocks = [m for m in g.modules() if isinstance(m, cyclegan.ResnetBlock)]
    assert len(blocks) == 6, f"expected 6 ResnetBlock modules in the generator, got {len(blocks)}"
    convs = [c.module for c in calls[3:15]]
    assert len({id(m) for m in convs}) == 12, "the residual blocks share conv layers: build 6 distinct blocks"
    x = F.relu(F.instance_norm(calls[2].output))           # input of the first block
    problems = []
    for j in range(6):
        a, b = calls[3 + 2 * j], calls[4 + 2 * j]
        problems += check_link(a, RES_A, b, RES_B, [])
        x = x + F.instance_norm(b.output)
        nxt = calls[5 + 2 * j]
        internal = getattr(nxt.module, "padding_mode", "zeros") == "reflect"
        expected = x if j == 5 or internal else reflect(x, 1)
        if not close(nxt.input, expected):
            problems.append(f"residual block {j + 1}: its output should be x + block(x) (the skip connection)")
            break
    assert not problems, "\n".join(problems)
    block = cyclegan.ResnetBlock(8)
    x = torch.randn(2, 8, 6, 6)
    out, bcalls, _ = trace(block, x)
    assert tuple(out.shape) == (2, 8, 6, 6), f"ResnetBlock(8) should keep the shape [2, 8, 6, 6], got {list(out.shape)}"


@pytest.mark.points(1)
def test_discriminator_layers_match_table2(cyclegan):
    """PatchGAN layers: k4, strides 2,2,2,1,1, padding 1, bias flags (no bias on the first and last)"""
    layers, _ = check_chain(cyclegan.CycleGAN_Discriminator(), torch.randn(1, 3, 64, 64), D_TABLE)
    assert not layers, "\n".join(layers)


@pytest.mark.points(1)
def test_discriminator_norms_and_activations(cyclegan):
    """PatchGAN: LeakyReLU(0.2) everywhere, IN on layers 2-4 only, raw scores out"""
    _, links = check_chain(cyclegan.CycleGAN_Discriminator(), torch.randn(1, 3, 64, 64), D_TABLE)
    assert not links, "\n".join(links)
