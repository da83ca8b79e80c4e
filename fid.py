"""Frechet Inception Distance (Heusel et al., 2017).

FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2) over pool3 (2048-d) features of the
FID Inception network, with float64 means and covariances (ddof 1). tr sqrt(S1 S2) is
computed exactly from the eigenvalues of a symmetric PSD matrix similar to S1 S2
(L^T S2 L with S1 = L L^T, or sqrt(S1) S2 sqrt(S1) when S1 is singular), not with
scipy.linalg.sqrtm: faster, and exact where sqrtm is not (singular covariances, N <= 2048).

    python fid.py DIR1 DIR2 [--weights PATH]
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from util import KitError, cli_main


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) of an [N, D] feature array, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need an [N, D] array with N >= 2 to estimate a covariance, got shape {features.shape}")
    # TODO: the mean over samples, and the unbiased sample covariance (divide by N - 1) of the
    # features as columns (D x D). Hint: np.cov(..., rowvar=False).
    # BEGIN SOLUTION
    return features.mean(axis=0), np.cov(features, rowvar=False)
    # END SOLUTION


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    # TODO: |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2), returned as a float.
    # Hint: tr sqrt(S1 S2) = sum of the square roots of the eigenvalues of S1 S2 (they are real and
    # >= 0). Stable route: S1 S2 has the eigenvalues of the symmetric R S2 R with R = sqrt(S1)
    # (np.linalg.eigh), or of L^T S2 L with S1 = L L^T (np.linalg.cholesky, when S1 is full rank);
    # take them with np.linalg.eigvalsh and clip tiny negative ones to 0.
    # BEGIN SOLUTION
    diff = mu1 - mu2
    try:  # full rank: a Cholesky factor is ~6x cheaper than an eigendecomposition
        root1 = np.linalg.cholesky(sigma1)
        middle = root1.T @ sigma2 @ root1
    except np.linalg.LinAlgError:  # singular (N <= D): the symmetric square root
        values, vectors = np.linalg.eigh(sigma1)
        root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        middle = root1 @ sigma2 @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)
    # END SOLUTION


class RunningStatistics:
    """Mean and covariance (ddof 1) accumulated batch by batch in float64 (shifted sums: no
    catastrophic cancellation), so 50k x 2048 features never sit in memory together."""

    def __init__(self):
        self.n, self.shift, self.sum, self.outer = 0, None, None, None

    def update(self, batch: torch.Tensor | np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64)
        if self.shift is None:
            self.shift = batch[0].copy()
            self.sum = np.zeros_like(self.shift)
            self.outer = np.zeros((len(self.shift), len(self.shift)))
        centered = batch - self.shift
        self.n += len(batch)
        self.sum += centered.sum(axis=0)
        self.outer += centered.T @ centered

    def finalize(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2:
            raise KitError(f"FID needs at least 2 images per set, got {self.n}")
        if self.n <= len(self.sum):
            warnings.warn(f"only {self.n} images for {len(self.sum)}-d features: the covariance is singular "
                          f"and FID is biased upward; use more images (>= 10000 is customary)")
        mean_c = self.sum / self.n
        cov = (self.outer - self.n * np.outer(mean_c, mean_c)) / (self.n - 1)
        return self.shift + mean_c, cov


def dataset_statistics(dataset: Dataset, net: torch.nn.Module, batch_size: int = 50,
                       device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    import inception
    stats = RunningStatistics()
    for pool3, _ in inception.extract(net, dataset, batch_size, device, "FID"):
        stats.update(pool3)
    return stats.finalize()


def fid_between(dataset1: Dataset, dataset2: Dataset, device: torch.device | str | None = None,
                weights: str | Path | None = None, batch_size: int = 50, net: torch.nn.Module | None = None) -> float:
    """FID between two datasets of images (uint8, or floats in [-1, 1])."""
    import inception
    device = device or "cpu"
    net = net or inception.load_fid_inception(weights, device)
    return frechet_distance(*dataset_statistics(dataset1, net, batch_size, device),
                            *dataset_statistics(dataset2, net, batch_size, device))


def main(argv: list[str] | None = None) -> None:
    import torchvision.transforms as T
    from dataloader import FolderDataset
    from util import get_device
    parser = argparse.ArgumentParser(description="FID between two folders of images.")
    parser.add_argument("folder1", type=Path)
    parser.add_argument("folder2", type=Path)
    parser.add_argument("--weights", default=None, help="FID Inception weights file")
    parser.add_argument("--batch_size", type=int, default=50)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    sets = [FolderDataset(f, transform=T.PILToTensor()) for f in (args.folder1, args.folder2)]
    value = fid_between(*sets, device=get_device(args.device), weights=args.weights, batch_size=args.batch_size)
    print(f"FID({args.folder1}, {args.folder2}) = {value:.6f}")


if __name__ == "__main__":
    cli_main(main)
