"""1.1 DCGAN model (10 points): Table 1, parameter counts, output shapes."""
import numpy as np
import pytest
import torch

from grader.arch import Layer, check_chain, check_count, genuine
from grader.probe import for_each, fresh, fresh_int

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


@pytest.mark.student("dcgan:DCGAN_Generator")
@pytest.mark.points(1)
def test_generator_has_1707904_parameters(probe):
    """Generator parameter count is 1,707,904"""
    check_count(probe("dcgan_params", part="G"), generator_trace(probe), 1_707_904, "DCGAN_Generator")


@pytest.mark.student("dcgan:DCGAN_Discriminator")
@pytest.mark.points(1)
def test_discriminator_has_663424_parameters(probe):
    """Discriminator parameter count is 663,424 for every type"""
    for_each(GAN_TYPES, lambda gan_type: check_count(probe("dcgan_params", part="D", gan_type=gan_type),
                                                     discriminator_trace(probe, gan_type), 663_424,
                                                     f"DCGAN_Discriminator('{gan_type}')"), "for all four GAN types")


@pytest.mark.student("dcgan:DCGAN_Generator")
@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_generator_output_shape_and_range(probe, batch):
    """Generator maps [B,256] and [B,256,1,1] to [B,3,32,32] in [-1,1]"""
    outputs = probe("dcgan_generator_outputs", z=np.asarray(torch.randn(batch, 256, generator=fresh(batch))))
    for shape, out in zip(((batch, 256), (batch, 256, 1, 1)), outputs):
        assert np.shape(out) == (batch, 3, 32, 32), \
            f"z of shape {list(shape)}: expected output [{batch}, 3, 32, 32], got {list(np.shape(out))}"
        assert np.abs(out).max() <= 1, "generator output must lie in [-1, 1] (Tanh)"


@pytest.mark.student("dcgan:DCGAN_Discriminator")
@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_discriminator_output_shape(probe, batch):
    """Discriminator maps [B,3,32,32] to [B,1]"""
    x = torch.randn(batch, 3, 32, 32, generator=fresh(10 + batch))
    for gan_type, shape in zip(GAN_TYPES, probe("dcgan_discriminator_shapes", x=x, gan_types=list(GAN_TYPES))):
        assert shape == [batch, 1], f"DCGAN_Discriminator('{gan_type}'): expected output [{batch}, 1], got {shape}"


def generator_trace(probe):
    """G's traced forward pass on the grader's z, replayed by the grader (arch.genuine) before any use."""
    z = torch.randn(4, 256, generator=fresh(20))
    return genuine({"z": z.numpy(), **probe("dcgan_trace", part="G", x=z, seed=fresh_int(21))}, [z], fresh_int(21))


def discriminator_trace(probe, gan_type):
    x = torch.randn(4, 3, 32, 32, generator=fresh(22))
    return genuine(probe("dcgan_trace", part="D", x=x, seed=fresh_int(23), gan_type=gan_type), [x], fresh_int(23))


@pytest.mark.student("dcgan:DCGAN_Generator")
@pytest.mark.points(2)
def test_generator_layers_match_table1(probe):
    """Generator deconv layers: channels, kernel 4, stride, padding, no bias (Table 1)"""
    layers, _ = check_chain(generator_trace(probe), G_TABLE)
    assert not layers, "\n".join(layers)


@pytest.mark.student("dcgan:DCGAN_Generator")
@pytest.mark.points(1)
def test_generator_bn_relu_and_tanh(probe):
    """Generator: BN + ReLU after layers 1-3, layer 4 straight into Tanh (no BN)"""
    _, links = check_chain(generator_trace(probe), G_TABLE)
    assert not links, "\n".join(links)


@pytest.mark.student("dcgan:DCGAN_Generator")
@pytest.mark.points(1)
def test_generator_first_layer_sees_z_as_256x1x1(probe):
    """Generator: z enters the first deconv as [B,256,1,1]"""
    traced = generator_trace(probe)
    first = traced["convs"][0]["input"] if traced["convs"] else None
    assert first is not None and np.shape(first) == (4, 256, 1, 1) and np.array_equal(first, traced["z"].reshape(4, 256, 1, 1)), \
        "the first deconv layer should receive z reshaped to [B, 256, 1, 1]"


@pytest.mark.student("dcgan:DCGAN_Discriminator")
@pytest.mark.points(1)
def test_discriminator_layers_match_table1(probe):
    """Discriminator conv layers: channels, kernel 4, strides 2,2,2,1, padding 1,1,1,0, no bias"""
    layers, _ = check_chain(discriminator_trace(probe, "lsgan"), d_table("lsgan"))
    assert not layers, "\n".join(layers)


@pytest.mark.student("dcgan:DCGAN_Discriminator")
@pytest.mark.points(1)
def test_discriminator_bn_leakyrelu_and_sigmoid_only_for_gan(probe):
    """Discriminator: BN + LeakyReLU(0.2) after layers 1-3; Sigmoid at the end only for 'gan'"""
    def one(gan_type):
        _, links = check_chain(discriminator_trace(probe, gan_type), d_table(gan_type))
        assert not links, "; ".join(links)
    for_each(GAN_TYPES, one, "for all four GAN types")
