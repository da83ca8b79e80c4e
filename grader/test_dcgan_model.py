"""1.1 DCGAN model (10 points): Table 1, parameter counts, output shapes."""
import numpy as np
import pytest
import torch

from grader.arch import Layer, check_chain, n_params, trace

GAN_TYPES = ("gan", "lsgan", "wgan", "wgan-gp")
G_TABLE = [
    Layer("G layer1", True, 256, 256, 4, 1, 0, norm="bn", act="relu"),
    Layer("G layer2", True, 256, 128, 4, 2, 1, norm="bn", act="relu"),
    Layer("G layer3", True, 128, 64, 4, 2, 1, norm="bn", act="relu"),
    Layer("G layer4", True, 64, 3, 4, 2, 1, norm=None, act="tanh"),
]


def d_table(gan_type):
    return [
        Layer("D layer1", False, 3, 64, 4, 2, 1, norm="bn", act="lrelu"),
        Layer("D layer2", False, 64, 128, 4, 2, 1, norm="bn", act="lrelu"),
        Layer("D layer3", False, 128, 256, 4, 2, 1, norm="bn", act="lrelu"),
        Layer("D layer4", False, 256, 1, 4, 1, 0, act="sigmoid" if gan_type == "gan" else None),
    ]


@pytest.mark.points(1)
def test_generator_has_1707904_parameters(dcgan, probe):
    """Generator parameter count is 1,707,904"""
    got = probe("params", lambda: n_params(dcgan.DCGAN_Generator()))
    assert got == 1_707_904, f"expected 1,707,904 trainable parameters in DCGAN_Generator, got {got:,}"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_discriminator_has_663424_parameters(dcgan, probe, gan_type):
    """Discriminator parameter count is 663,424 for every type"""
    got = probe("params", lambda: n_params(dcgan.DCGAN_Discriminator(gan_type)))
    assert got == 663_424, f"expected 663,424 trainable parameters in DCGAN_Discriminator('{gan_type}'), got {got:,}"


@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_generator_output_shape_and_range(dcgan, probe, batch):
    """Generator maps [B,256] and [B,256,1,1] to [B,3,32,32] in [-1,1]"""
    def run():
        g = dcgan.DCGAN_Generator().eval()
        with torch.no_grad():
            return [g(torch.randn(batch, 256)), g(torch.randn(batch, 256, 1, 1))]
    for shape, out in zip(((batch, 256), (batch, 256, 1, 1)), probe("outputs", run)):
        assert out.shape == (batch, 3, 32, 32), \
            f"z of shape {list(shape)}: expected output [{batch}, 3, 32, 32], got {list(out.shape)}"
        assert np.abs(out).max() <= 1, "generator output must lie in [-1, 1] (Tanh)"


@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_discriminator_output_shape(dcgan, probe, batch):
    """Discriminator maps [B,3,32,32] to [B,1]"""
    def run():
        with torch.no_grad():
            return [list(dcgan.DCGAN_Discriminator(t).eval()(torch.randn(batch, 3, 32, 32)).shape) for t in GAN_TYPES]
    for gan_type, shape in zip(GAN_TYPES, probe("shapes", run)):
        assert shape == [batch, 1], f"DCGAN_Discriminator('{gan_type}'): expected output [{batch}, 1], got {shape}"


def generator_trace(dcgan, probe):
    def run():
        torch.manual_seed(0)
        z = torch.randn(4, 256)
        return {"z": z, **trace(dcgan.DCGAN_Generator().train(), z)}
    return probe("generator trace", run, shared=True)


def discriminator_trace(dcgan, probe, gan_type):
    def run():
        torch.manual_seed(0)
        return trace(dcgan.DCGAN_Discriminator(gan_type).train(), torch.randn(4, 3, 32, 32))
    return probe(f"discriminator trace {gan_type}", run, shared=True)


@pytest.mark.points(2)
def test_generator_layers_match_table1(dcgan, probe):
    """Generator deconv layers: channels, kernel 4, stride, padding, no bias (Table 1)"""
    layers, _ = check_chain(generator_trace(dcgan, probe), G_TABLE)
    assert not layers, "\n".join(layers)


@pytest.mark.points(1)
def test_generator_bn_relu_and_tanh(dcgan, probe):
    """Generator: BN + ReLU after layers 1-3, layer 4 straight into Tanh (no BN)"""
    _, links = check_chain(generator_trace(dcgan, probe), G_TABLE)
    assert not links, "\n".join(links)


@pytest.mark.points(1)
def test_generator_first_layer_sees_z_as_256x1x1(dcgan, probe):
    """Generator: z enters the first deconv as [B,256,1,1]"""
    traced = generator_trace(dcgan, probe)
    first = traced["convs"][0]["input"] if traced["convs"] else None
    assert first is not None and first.shape == (4, 256, 1, 1) and np.array_equal(first, traced["z"].reshape(4, 256, 1, 1)), \
        "the first deconv layer should receive z reshaped to [B, 256, 1, 1]"


@pytest.mark.points(1)
def test_discriminator_layers_match_table1(dcgan, probe):
    """Discriminator conv layers: channels, kernel 4, strides 2,2,2,1, padding 1,1,1,0, no bias"""
    layers, _ = check_chain(discriminator_trace(dcgan, probe, "lsgan"), d_table("lsgan"))
    assert not layers, "\n".join(layers)


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_discriminator_bn_leakyrelu_and_sigmoid_only_for_gan(dcgan, probe, gan_type):
    """Discriminator: BN + LeakyReLU(0.2) after layers 1-3; Sigmoid at the end only for 'gan'"""
    _, links = check_chain(discriminator_trace(dcgan, probe, gan_type), d_table(gan_type))
    assert not links, f"type '{gan_type}':\n" + "\n".join(links)
