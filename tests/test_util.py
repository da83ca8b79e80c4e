import argparse

import pytest
import torch
import torch.nn as nn

import util


def test_conv_builds_conv_norm_activation_in_order():
    block = util.conv(3, 8, 4, norm="bn", activation="lrelu")
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU]
    assert block[0].bias is None and block[2].negative_slope == 0.2
    assert (block[0].stride, block[0].padding) == ((2, 2), (1, 1))


def test_deconv_instance_norm_is_not_affine_and_keeps_output_padding():
    block = util.deconv(8, 4, 3, stride=2, pad=1, output_padding=1, bias=True, norm="in", activation="relu")
    assert [type(m) for m in block] == [nn.ConvTranspose2d, nn.InstanceNorm2d, nn.ReLU]
    assert block[0].output_padding == (1, 1) and block[0].bias is not None
    assert block[1].affine is False
    assert block(torch.zeros(1, 8, 5, 5)).shape == (1, 4, 10, 10)


def test_conv_rejects_unknown_norm_and_activation():
    with pytest.raises(ValueError, match="norm"):
        util.conv(3, 3, 3, norm="ln")
    with pytest.raises(ValueError, match="activation"):
        util.conv(3, 3, 3, activation="gelu")


def test_denorm_maps_tanh_range_to_unit_interval():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 2.0])
    assert torch.equal(util.denorm(x), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    util.save_checkpoint(a, tmp_path / "sub" / "a.pth")
    util.load_checkpoint(b, tmp_path / "sub" / "a.pth")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(util.KitError, match="checkpoint not found: .*nope.pth"):
        util.load_checkpoint(nn.Linear(2, 2), tmp_path / "nope.pth")


def test_mismatched_checkpoint_is_a_clear_error(tmp_path):
    util.save_checkpoint(nn.Linear(2, 2), tmp_path / "a.pth")
    with pytest.raises(util.KitError, match="does not match Linear"):
        util.load_checkpoint(nn.Linear(3, 2), tmp_path / "a.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(util.KitError, match="could not be read"):
        util.load_checkpoint(nn.Linear(2, 2), tmp_path / "junk.pth")


@pytest.mark.parametrize("text,value", [("true", True), ("False", False), ("1", True), ("no", False)])
def test_str2bool(text, value):
    assert util.str2bool(text) is value


def test_str2bool_rejects_garbage():
    with pytest.raises(argparse.ArgumentTypeError):
        util.str2bool("maybe")


def test_set_seed_makes_torch_and_numpy_repeatable():
    import numpy as np
    util.set_seed(3)
    first = (torch.rand(3), np.random.rand(3))
    util.set_seed(3)
    assert torch.equal(first[0], torch.rand(3)) and (first[1] == np.random.rand(3)).all()


def test_cuda_device_without_gpu_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(util.KitError, match="CUDA is not available"):
        util.get_device("cuda")
    assert util.get_device(None).type == "cpu"
    assert util.get_device(torch.device("cpu")) == torch.device("cpu")


def test_image_pool_returns_fresh_fakes_until_full_then_mixes_history():
    util.set_seed(0)
    pool = util.ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)           # filling: the images themselves
    new = torch.full((64, 1, 1, 1), 100.0)
    out = pool.query(new)
    old = (out < 100).sum().item()
    assert 0 < old <= 64 and out.shape == new.shape        # some come back from history
    assert set(out.flatten().tolist()) <= set(range(4)) | {100.0}


def test_image_pool_of_size_zero_is_a_pass_through():
    x = torch.randn(3, 3, 2, 2)
    assert util.ImagePool(0).query(x) is x


def test_save_image_grid_writes_png(tmp_path):
    path = util.save_image_grid(torch.zeros(4, 3, 8, 8), tmp_path / "g" / "grid.png", nrow=2)
    assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
