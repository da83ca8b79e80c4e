"""Shared fixtures of the kit's own tests: small offline datasets made once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import make_offline_data

if os.environ.get("PYTEST_XDIST_WORKER"):      # `make test` runs two workers on 2 cores: one thread each
    torch.set_num_threads(1)

SMALL_SEASONS = {"trainA": 12, "trainB": 9, "testA": 4, "testB": 3}
SMALL_SHAPES = {"train": 128, "test": 16}


@pytest.fixture(scope="session")
def offline_root(tmp_path_factory) -> Path:
    """A data/ folder with small shapes32 and seasons sets (64x64 landscapes)."""
    root = tmp_path_factory.mktemp("data")
    make_offline_data.make_shapes32(root, seed=0, splits=SMALL_SHAPES)
    make_offline_data.make_seasons(root, seed=0, splits=SMALL_SEASONS, size=64)
    return root


@pytest.fixture
def data_root(offline_root, monkeypatch) -> Path:
    """Point dataloader at the small offline sets."""
    import dataloader
    monkeypatch.setattr(dataloader, "DATA_ROOT", offline_root)
    return offline_root


@pytest.fixture(scope="session")
def testing_fixture():
    """The reference trained briefly with honest claims, its data and random Inception weights
    (grader/fixture.py; built once per version of the code, kept in .cache/)."""
    from grader.fixture import testing_fixture as build
    return build()


@pytest.fixture(scope="module")
def testing_env(testing_fixture):
    """The Testing section's data and Inception weights for the grader runs of a test module."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in testing_fixture.env.items():
            mp.setenv(key, value)
        yield testing_fixture
