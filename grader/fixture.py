"""The Testing fixture: what a real submission hands in (the reference trained briefly on small offline
data, with honest claims), built once per version of the code it depends on and kept in .cache/. The
canary of every batch grades it, `verify` grades the corpus with it, and the tests use it."""
from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.build import KIT
from grader.roles import CHECKPOINT_FILES, manifest_name

LOGIT_STD = 4.0
TRAIN_STEPS = {"dcgan": 120, "cyclegan": 30}   # training steps of the fixture's generators
FIXTURE_SHAPES = {"train": 256, "test": 16}
FIXTURE_DCGAN_BATCH = 32


def random_inception_weights(path: Path, images=None, logit_std: float = LOGIT_STD) -> Path:
    """Seeded random FID-Inception weights, BatchNorm statistics calibrated on `images` (uint8
    [B,3,H,W]; random pixels if None) and fc scaled to logits of std `logit_std`. For the kit's
    own checks only (no download, seconds): the Testing logic does not depend on which fixed
    network scores the samples."""
    import torch
    sys.path.insert(0, str(KIT))
    import inception
    torch.manual_seed(0)
    if images is None:
        images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8)
    net = inception.FIDInception()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None           # cumulative average over the calibration batch
    net.train()
    with torch.no_grad():
        net(images)
        net.eval()
        logits = net(images)[1]
        net.fc.weight.mul_(logit_std / logits.std())     # LOGIT_STD: peaked enough for the IS to tell generators apart
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


def small_offline_data(root: Path) -> Path:
    """shapes32 and a 32-px seasons set, enough for brief training and the Testing section."""
    sys.path.insert(0, str(KIT / "data"))
    import make_offline_data
    make_offline_data.make_shapes32(root, seed=0, splits=FIXTURE_SHAPES)
    make_offline_data.make_seasons(root, seed=0, splits={"trainA": 24, "trainB": 24, "testA": 20, "testB": 20}, size=32)
    return root


def trained_artifacts(folder: Path, data_root: Path, weights: Path, steps: dict[str, int] = TRAIN_STEPS) -> Path:
    """A real submission's results: the reference trained briefly (DCGAN on shapes32 at lr 1e-3,
    CycleGAN at 32 px on seasons), then `--train false`, writing honest claims.
    To save time one DCGAN run stands for all four types: their checkpoints are the same file, so
    `--train false` would write the same line four times (same seed, same samples); it runs once
    and the other three claims repeat its line under their own names."""
    import shutil
    import torch
    sys.path.insert(0, str(KIT))
    import cyclegan
    import dataloader
    import dcgan
    saved_root, saved_threads = dataloader.DATA_ROOT, torch.get_num_threads()
    dataloader.DATA_ROOT = data_root
    torch.set_num_threads(min(2, saved_threads))      # 1 in a parallel test worker (see tests/conftest.py)
    try:
        scores = folder / "inception_score.txt"
        folder.mkdir(parents=True, exist_ok=True)
        trained = dcgan.DCGAN_Solver("gan", lr=1e-3, batch_size=FIXTURE_DCGAN_BATCH, num_workers=0, device="cpu",
                                     dataset="shapes32", results_dir=folder / "results")
        epochs = -(-steps["dcgan"] // (FIXTURE_SHAPES["train"] // FIXTURE_DCGAN_BATCH))   # the small set: 8 steps an epoch
        trained.train(epochs, save_every=epochs)
        dcgan.DCGAN_Solver("gan", num_workers=0, device="cpu", dataset="shapes32",
                           results_dir=folder / "results").test(num_samples=20, weights=str(weights), scores_file=scores)
        claim = scores.read_text().splitlines()[-1]                  # "dcgan-gan: IS = ..."
        for gan_type in dcgan.GAN_TYPES[1:]:
            out_dir = folder / "results" / "dcgan" / gan_type
            shutil.copytree(trained.out_dir / "checkpoints", out_dir / "checkpoints", dirs_exist_ok=True)
            shutil.copytree(trained.out_dir / "images", out_dir / "images", dirs_exist_ok=True)
            with open(scores, "a") as f:
                f.write(claim.replace("dcgan-gan:", f"dcgan-{gan_type}:", 1) + "\n")
        solver = cyclegan.CycleGAN_Solver(num_workers=0, device="cpu", dataset="seasons", image_size=32,
                                          results_dir=folder / "results")
        solver.train(1, max_steps=steps["cyclegan"], save_every=1)
        solver.test(weights=str(weights), scores_file=scores)
    finally:
        dataloader.DATA_ROOT = saved_root
        torch.set_num_threads(saved_threads)
    return folder


@dataclass
class Fixture:
    """A trained submission's results with honest claims, the small data they were trained on and
    the (random) Inception weights that scored them. Environment for a grader run: `env`."""
    results: Path
    data: Path
    weights: Path

    @property
    def env(self) -> dict[str, str]:
        return {"GAN_KIT_DATA": str(self.data), "GAN_KIT_INCEPTION_WEIGHTS": str(self.weights),
                "GRADER_FID_SAMPLES": "12"}


FIXTURE_SOURCES = ("dcgan.py", "cyclegan.py", "util.py", "dataloader.py", "inception.py", "inception_score.py",
                   "fid.py", "data/make_offline_data.py", "grader/fixture.py")


def testing_fixture() -> Fixture:
    """Built once per version of the code it depends on (~1.5 min on 2 cores), kept in .cache/."""
    import hashlib
    digest = hashlib.sha256(b"".join((KIT / name).read_bytes() for name in FIXTURE_SOURCES)).hexdigest()[:16]
    final = KIT / ".cache" / f"testing-fixture-{digest}"
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / "testing-fixture.lock", "w") as lock:     # parallel test workers: one builds
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "done").is_file():
            _build_testing_fixture(final)
    return Fixture(final / "results", final / "data", final / "random-inception.pth")


def _build_testing_fixture(final: Path) -> None:
    """Train, evaluate and keep what a student submits, in a scratch folder renamed to `final` when done."""
    import shutil
    import torch
    build = Path(tempfile.mkdtemp(prefix="fixture-", dir=final.parent))
    data = small_offline_data(build / "data")
    weights = random_inception_weights(build / "random-inception.pth", calibration_images(data))
    trained_artifacts(build / "results", data, weights)
    for path in sorted((build / "results").rglob("*"), reverse=True):   # keep what a student submits
        rel = path.relative_to(build / "results").as_posix()
        if path.is_file() and not manifest_name(rel):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for rel in CHECKPOINT_FILES:            # fp16, as the handout allows (half the size)
        state = torch.load(build / "results" / rel, weights_only=True)
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, build / "results" / rel)
    (build / "done").write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(build, final)


def calibration_images(data: Path):
    import torch
    from grader.training_check import _image_files, _load_images
    return torch.cat([_load_images(_image_files(data / "shapes32" / "train")[:12], 32),
                      _load_images(_image_files(data / "seasons" / "trainA")[:12], 32)])
