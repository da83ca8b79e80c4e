"""Published reference values (torch-fidelity's own tests). They need the real FID Inception
weights and CIFAR-10, which cannot be fetched on the build machines: without them these tests
are skipped with the reason (never counted as passed)."""
import pytest
import torch

import fid
import inception
import inception_score as isc
from dataloader import DATA_ROOT
from util import KitError


@pytest.fixture(scope="module")
def net():
    try:
        path = inception.resolve_weights(download=False)
    except KitError as exc:
        pytest.skip(f"real Inception weights not present: {str(exc)[:120]}")
    return inception.load_fid_inception(path)


def cifar10(train: bool, n: int | None = None):
    try:
        from torchvision.datasets import CIFAR10
        data = CIFAR10(str(DATA_ROOT / "cifar10"), train=train, download=False)
    except Exception:
        pytest.skip(f"CIFAR-10 not present in {DATA_ROOT / 'cifar10'}")
    images = torch.from_numpy(data.data[:n]).permute(0, 3, 1, 2).contiguous()   # uint8 [N,3,32,32]
    return torch.utils.data.TensorDataset(images)


def test_is_of_100_cifar10_train_images(net):
    score, _ = isc.Inception_Score(cifar10(True, 100)).compute_score(splits=10, net=net)
    assert score == pytest.approx(4.51089784587268, rel=1e-6)


@pytest.mark.slow
def test_is_of_cifar10_train(net):
    score, std = isc.Inception_Score(cifar10(True)).compute_score(splits=10, net=net)
    assert score == pytest.approx(11.23678, rel=1e-5) and std == pytest.approx(0.09514, rel=1e-2)


@pytest.mark.slow
def test_fid_cifar10_train_5000_vs_valid_5000(net):
    assert fid.fid_between(cifar10(True, 5000), cifar10(False, 5000), net=net) == pytest.approx(10.3233274, rel=1e-6)
