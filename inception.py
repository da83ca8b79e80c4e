"""The Inception network behind IS and FID, its weights, and its input pipeline.

`FIDInception` is the TF "2015-12-05" Inception port used by FID papers (pytorch-fid and
torch-fidelity ship the same tensors under two file names). It is torchvision's Inception3
layout with the four TF-compatible patches (avg pools without padded zeros in Mixed_5*,
6*, 7b; a max pool in Mixed_7c; 1008 classes), so both files load with strict=True.
Input: uint8 images [B, 3, H, W]; TF1 bilinear resize to 299, then (x - 128) / 128.
Output: pool3 features [B, 2048] and logits without the fc bias [B, 1008] (for IS).

Nothing here is a student TODO.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models.inception as tvi
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from util import KitError, to_uint8

WEIGHT_FILES = ("weights-inception-2015-12-05-6726825d.pth", "pt_inception-2015-12-05-6726825d.pth")
WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
               "weights-inception-2015-12-05-6726825d.pth")
WEIGHTS_ENV = "GAN_KIT_INCEPTION_WEIGHTS"
INPUT_SIZE = 299


# ----------------------------------------------------------------------------- network
# Speed without changing a bit (the features must equal torch-fidelity's exactly, tests/test_metrics_oracle.py):
# on a CPU the pools run channels-last, the batch is cut into chunks of a few images (`cpu_chunk`) and the
# resize interpolates each source row once. None of these changes a float operation, only where and when
# it runs. Together ~1.5x pytorch-fid's images/s on a 2-core CPU (benchmarks/bench_speed.py).
def cpu_chunk() -> int:
    """Images per forward pass on a CPU: two per thread, at least 4 (the best of 1-12 on 2 cores)."""
    return max(4, 2 * torch.get_num_threads())


def pool(fn, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """A pooling op, run channels-last on a CPU: PyTorch's CPU pools vectorise across channels only in
    that layout (3-5x faster here), and a max, or a window sum taken in the same order, gives the same bits."""
    if x.device.type != "cpu" or x.is_contiguous(memory_format=torch.channels_last):
        return fn(x, **kwargs)
    return fn(x.contiguous(memory_format=torch.channels_last), **kwargs).contiguous()


def tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TF's 3x3 average pool: stride 1, padded zeros not counted."""
    return pool(F.avg_pool2d, x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def max_pool(x: torch.Tensor, stride: int = 2, padding: int = 0) -> torch.Tensor:
    return pool(F.max_pool2d, x, kernel_size=3, stride=stride, padding=padding)


class FIDInceptionA(tvi.InceptionA):
    """InceptionA whose avg pool ignores padded zeros, as in TF."""

    def forward(self, x):
        pool = self.branch_pool(tf_avg_pool(x))
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, pool], 1)


class FIDInceptionB(tvi.InceptionB):
    """InceptionB (Mixed_6a) as in torchvision, its max pool through `max_pool`."""

    def forward(self, x):
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), bd, max_pool(x)], 1)


class FIDInceptionC(tvi.InceptionC):
    """InceptionC whose avg pool ignores padded zeros, as in TF."""

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        pool = self.branch_pool(tf_avg_pool(x))
        return torch.cat([self.branch1x1(x), b7, bd, pool], 1)


class FIDInceptionD(tvi.InceptionD):
    """InceptionD (Mixed_7a) as in torchvision, its max pool through `max_pool`."""

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for layer in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, max_pool(x)], 1)


class FIDInceptionE(tvi.InceptionE):
    """InceptionE with TF's pooling: avg without padded zeros (Mixed_7b) or max (Mixed_7c)."""

    def __init__(self, in_channels: int, pool: str):
        super().__init__(in_channels)
        self.pool = pool

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = tf_avg_pool(x) if self.pool == "avg" else max_pool(x, stride=1, padding=1)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


def tf1_resize(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """Bilinear resize as TF1 does it (src = dst * in / out, no half-pixel offset): across each row, then down."""
    def grid(n_in: int):
        pos = torch.arange(size, dtype=x.dtype, device=x.device) * torch.tensor(n_in / size, dtype=torch.float32)
        lo = pos.long()
        return lo, (lo + 1).clamp_max(n_in - 1), pos - lo.float()

    y_lo, y_hi, dy = grid(x.shape[2])
    x_lo, x_hi, dx = grid(x.shape[3])
    if x.shape[2] > size:                       # shrinking: interpolate across only the rows that are read
        x = x[:, :, torch.cat([y_lo, y_hi])]
        y_lo, y_hi = torch.arange(size, device=x.device), torch.arange(size, 2 * size, device=x.device)
    left = x[..., x_lo]
    rows = left + (x[..., x_hi] - left) * dx    # every source row interpolated across once
    top = rows[:, :, y_lo]
    return top + (rows[:, :, y_hi] - top) * dy.view(-1, 1)


class FIDInception(tvi.Inception3):
    """uint8 [B,3,H,W] -> (pool3 [B,2048], logits without bias [B,1008]), both float32."""

    def __init__(self):
        super().__init__(num_classes=1008, aux_logits=False, init_weights=False)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = FIDInceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = FIDInceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, pool="avg")
        self.Mixed_7c = FIDInceptionE(2048, pool="max")
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images [B, 3, H, W], got {images.dtype} {tuple(images.shape)}")
        if self.training or images.device.type != "cpu" or len(images) <= cpu_chunk():
            pool3 = self.pool3(images)                  # (in training mode BatchNorm uses the batch's statistics)
        else:
            # in eval mode an image's pool3 does not depend on its batch (bit for bit: the tests check it),
            # and a few images at a time keep the activations in the CPU's caches (~1.3x at a batch of 50)
            pool3 = torch.cat([self.pool3(chunk) for chunk in images.split(cpu_chunk())])
        return pool3, pool3.mm(self.fc.weight.T)    # one product for the batch, as torch-fidelity's (a
                                                    # matrix product's rounding may depend on its rows)

    def pool3(self, images: torch.Tensor) -> torch.Tensor:
        x = tf1_resize(images.float()).sub_(128).div_(128)
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                     "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                     "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = max_pool(x) if name.startswith("maxpool") else getattr(self, name)(x)
        return torch.flatten(self.avgpool(x), 1)


class TorchvisionInception(nn.Module):
    """The AI604 original's backbone: ImageNet inception_v3 (1000 classes), inputs in [-1, 1]."""

    def __init__(self):
        super().__init__()
        from torchvision.models import Inception_V3_Weights, inception_v3
        try:
            self.net = inception_v3(weights=Inception_V3_Weights.IMAGENET1K_V1, transform_input=False)
        except Exception as exc:
            raise KitError(f"torchvision's ImageNet inception_v3 weights could not be loaded ({exc}); "
                           f"they download into {torch.hub.get_dir()}/checkpoints on first use") from exc
        self.net.eval().requires_grad_(False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(images.float() / 127.5 - 1, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                          align_corners=False)
        feats = {}
        handle = self.net.avgpool.register_forward_hook(lambda m, i, o: feats.setdefault("pool", o.flatten(1)))
        logits = self.net(x)
        handle.remove()
        return feats["pool"], logits


# ----------------------------------------------------------------------------- weights
def candidate_weight_paths() -> list[Path]:
    """Where the weights are looked for, in order (after an explicit path)."""
    paths = [Path(os.environ[WEIGHTS_ENV])] if os.environ.get(WEIGHTS_ENV) else []
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    return paths + [hub / name for name in WEIGHT_FILES]


def resolve_weights(weights: str | Path | None = None, download: bool = True) -> Path:
    """An explicit path, else $GAN_KIT_INCEPTION_WEIGHTS, else the torch hub cache, else download."""
    if weights is not None:
        if not Path(weights).is_file():
            raise KitError(f"Inception weights not found: {weights}")
        return Path(weights)
    for path in candidate_weight_paths():
        if path.is_file():
            return path
    target = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHT_FILES[0]
    if download and os.environ.get("GAN_KIT_OFFLINE") != "1":
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(WEIGHTS_URL, str(target), progress=True)
            return target
        except Exception as exc:  # offline, proxy, disk
            reason = f" (download failed: {type(exc).__name__}: {exc})"
    else:
        reason = ""
    raise KitError(f"the FID Inception weights {WEIGHT_FILES[0]} (95 MB) are missing{reason}. "
                   f"Download {WEIGHTS_URL} and put it at {target}, or pass --weights PATH, "
                   f"or set {WEIGHTS_ENV}=PATH. Without them use --metrics none.")


def load_fid_inception(weights: str | Path | None = None, device: torch.device | str = "cpu",
                       download: bool = True) -> FIDInception:
    """The FID Inception network with its real weights (never random ones)."""
    path = resolve_weights(weights, download)
    net = FIDInception()
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise KitError(f"{path} is not the FID Inception weights file: {str(exc).splitlines()[0]}") from exc
    return net.to(device)


def load_backbone(backbone: str = "fid", weights: str | Path | None = None,
                  device: torch.device | str = "cpu") -> nn.Module:
    if backbone == "fid":
        return load_fid_inception(weights, device)
    if backbone == "torchvision":
        return TorchvisionInception().to(device)
    raise KitError(f"unknown backbone {backbone!r}; choose 'fid' or 'torchvision'")


# ----------------------------------------------------------------------------- running it
def as_uint8(batch) -> torch.Tensor:
    """A batch from any kit dataset -> uint8 [B,3,H,W]: uint8 stays, floats in [-1,1] are mapped."""
    if isinstance(batch, (list, tuple)):
        batch = batch[0]
    return batch if batch.dtype == torch.uint8 else to_uint8(batch)


@torch.no_grad()
def extract(net: nn.Module, dataset: Dataset, batch_size: int = 50, device: torch.device | str = "cpu",
            desc: str = "inception"):
    """Yield (pool3, logits) per batch of a dataset, with a progress bar."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    for batch in tqdm(loader, desc=desc, leave=False):
        pool3, logits = net(as_uint8(batch).to(device))
        yield pool3.cpu(), logits.cpu()
