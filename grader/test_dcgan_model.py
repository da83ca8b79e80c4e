"""1.1 DCGAN model (10 points): Table 1, parameter counts, output shapes."""
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
def test_generator_has_1707904_parameters(dcgan):
    """Generator parameter count is 1,707,904"""
    got = n_params(dcgan.DCGAN_Generator())
    assert got == 1_707_904, f"expected 1,707,904 trainable parameters in DCGAN_Generator, got {got:,}"


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_discriminator_has_663424_parameters(dcgan, gan_type):
    """Discriminator parameter count is 663,424 for every type"""
    got = n_params(dcgan.DCGAN_Discriminator(gan_type))
    assert got == 663_424, f"expected 663,424 trainable parameters in DCGAN_Discriminator('{gan_type}'), got {got:,}"


@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_generator_output_shape_and_range(dcgan, batch):
    """Generator maps [B,256] and [B,256,1,1] to [B,3,32,32] in [-1,1]"""
    g = dcgan.DCGAN_Generator().eval()
    with torch.no_grad():
        for z in (torch.randn(batch, 256), torch.randn(batch, 256, 1, 1)):
            out = g(z)
            assert tuple(out.shape) == (batch, 3, 32, 32), \
                f"z of shape {tuple(z.shape)}: expected output [{batch}, 3, 32, 32], got {list(out.shape)}"
            assert out.abs().max() <= 1, "generator output must lie in [-1, 1] (Tanh)"


@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_discriminator_output_shape(dcgan, batch):
    """Discriminator maps [B,3,32,32] to [B,1]"""
    for gan_type in GAN_TYPES:
        d = dcgan.DCGAN_Discriminator(gan_type).eval()
        with torch.no_grad():
            out = d(torch.randn(batch, 3, 32, 32))
        assert tuple(out.shape) == (batch, 1), \
            f"DCGAN_Discriminator('{gan_type}'): expected output [{batch}, 1], got {list(out.shape)}"


def _generator_chain(dcgan):
    torch.manual_seed(0)
    return check_chain(dcgan.DCGAN_Generator().train(), torch.randn(4, 256), G_TABLE)


@pytest.mark.points(2)
def test_generator_layers_match_table1(dcgan):
    """Generator deconv layers: channels, kernel 4, stride, padding, no bias (Table 1)"""
    layers, _ = _generator_chain(dcgan)
    assert not layers, "\n".join(layers)


@pytest.mark.points(1)
def test_generator_bn_relu_and_tanh(dcgan):
    """Generator: BN + ReLU after layers 1-3, layer 4 straight into Tanh (no BN)"""
    _, links = _generator_chain(dcgan)
    assert not links, "\n".join(links)


@pytest.mark.points(1)
def test_generator_first_layer_sees_z_as_256x1x1(dcgan):
    """Generator: z enters the first deconv as [B,256,1,1]"""
    z = torch.randn(3, 256)
    _, calls, _ = trace(dcgan.DCGAN_Generator().eval(), z)
    assert calls and torch.equal(calls[0].input, z.view(3, 256, 1, 1)), \
        "the first deconv layer should receive z reshaped to [B, 256, 1, 1]"


@pytest.mark.points(1)
def test_discriminator_layers_match_table1(dcgan):
    """Discriminator conv layers: channels, kernel 4, strides 2,2,2,1, padding 1,1,1,0, no bias"""
    torch.manual_seed(0)
    layers, _ = check_chain(dcgan.DCGAN_Discriminator("lsgan").train(), torch.randn(4, 3, 32, 32), d_table("lsgan"))
    assert not layers, "\n".join(layers)


@pytest.mark.points(1)
@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_discriminator_bn_leakyrelu_and_sigmoid_only_for_gan(dcgan, gan_type):
    """Discriminator: BN + LeakyReLU(0.2) after layers 1-3; Sigmoid at the end only for 'gan'"""
    torch.manual_seed(0)
    _, links = check_chain(dcgan.DCGAN_Discriminator(gan_type).train(), torch.randn(4, 3, 32, 32), d_table(gan_type))
    assert not links, f"type '{gan_type}':\n" + "\n".join(links)
