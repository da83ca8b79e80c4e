"""Frechet distance speed and exactness, measured side by side in one run: on the same 2048-d
full-rank statistics, the kit's (two symmetric eigendecompositions) vs the usual scipy.linalg.sqrtm
formula (pytorch-fid's); time ratio and relative difference. (Inception throughput against
pytorch-fid and torch-fidelity: benchmarks/bench_speed.py.)

    python benchmarks/bench_metrics.py [--n 4000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fid  # noqa: E402


def sqrtm_fd(mu1, s1, mu2, s2) -> float:
    """The common formula (pytorch-fid): scipy.linalg.sqrtm of the product."""
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def best_time(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000, help="samples per set (> 2048: full rank)")
    parser.add_argument("--dims", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(args.dims, args.dims)) / np.sqrt(args.dims)
    stats = []
    for shift in (0.0, 0.2):
        feats = np.maximum(rng.normal(loc=shift, size=(args.n, args.dims)) @ mix, 0)   # ReLU-like, correlated
        stats += list(fid.feature_statistics(feats))
    mu1, s1, mu2, s2 = stats
    t_kit, v_kit = best_time(lambda: fid.frechet_distance(mu1, s1, mu2, s2), args.repeats)
    t_sqrtm, v_sqrtm = best_time(lambda: sqrtm_fd(mu1, s1, mu2, s2), args.repeats)
    print(f"Frechet distance, {args.dims}-d statistics from N={args.n} (best of {args.repeats}):")
    print(f"  kit (Cholesky+eigh) {t_kit:8.3f} s   FID = {v_kit:.10f}")
    print(f"  scipy sqrtm          {t_sqrtm:8.3f} s   FID = {v_sqrtm:.10f}")
    print(f"  speed-up {t_sqrtm / t_kit:.1f}x, relative difference {abs(v_kit - v_sqrtm) / abs(v_sqrtm):.2e}")


if __name__ == "__main__":
    main()
