"""Datasets and loaders for the homework.

  cifar10        CIFAR-10 through torchvision (downloads on first use), for DCGAN
  shapes32       offline 32x32 shapes (python data/make_offline_data.py), for DCGAN
  summer2winter  Summer2Winter Yosemite (bash data/download_dataset.sh), for CycleGAN
  seasons        offline summer/winter landscapes (python data/make_offline_data.py), for CycleGAN
  any name in data/cyclegan_datasets.txt (horse2zebra, apple2orange, maps, ...), for CycleGAN:
                 bash data/download_dataset.sh NAME
  your own folder with trainA/ and trainB/ (testA/, testB/ to evaluate): cyclegan.py --dataroot PATH

Every image is returned as a float tensor in [-1, 1] (the generators end in Tanh).
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Callable

import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from util import KitError, world_size

DATA_ROOT = Path(os.environ.get("GAN_KIT_DATA", Path(__file__).resolve().parent / "data"))
IMG_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
DCGAN_DATASETS = ("cifar10", "shapes32")


def downloadable_cyclegan_datasets() -> tuple[str, ...]:
    """The names data/download_dataset.sh fetches: one list, in data/cyclegan_datasets.txt (none where
    the file is not shipped, e.g. the grader's sandbox: summer2winter and seasons still work)."""
    listing = Path(__file__).resolve().parent / "data" / "cyclegan_datasets.txt"
    if not listing.is_file():
        return ()
    lines = (line.strip() for line in listing.read_text().splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


DOWNLOADABLE = downloadable_cyclegan_datasets()
# --dataset name -> folder under DATA_ROOT ('summer2winter' is the homework's short name)
CYCLEGAN_DATASETS = {"summer2winter": "summer2winter_yosemite", "seasons": "seasons",
                     **{name: name for name in DOWNLOADABLE}}
CYCLEGAN_SPLITS = {True: ("trainA", "trainB"), False: ("testA", "testB")}
HOW_TO_GET = {
    **{name: f"bash data/download_dataset.sh {name}" for name in DOWNLOADABLE},
    "summer2winter_yosemite": "bash data/download_dataset.sh summer2winter_yosemite "
                              "(or train offline on the synthetic set: --dataset seasons)",
    "seasons": "python data/make_offline_data.py   (or: make data)",
    "shapes32": "python data/make_offline_data.py   (or: make data)",
}


def to_minus1_1() -> list[Callable]:
    return [T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]


def require_folder(folder: Path, dataset: str) -> Path:
    """A clear error that names the download command and the offline option."""
    if not folder.is_dir():
        raise KitError(f"dataset folder not found: {folder}. Get it with: {HOW_TO_GET.get(dataset, dataset)}")
    return folder


class FolderDataset(Dataset):
    """Every image file of one folder (sorted, RGB), e.g. generated samples or shapes32."""

    def __init__(self, folder: str | Path, transform: Callable | None = None):
        self.folder = require_folder(Path(folder), Path(folder).parent.name)
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
        if not self.files:
            raise KitError(f"no image files in {self.folder}")
        self.transform = transform or T.Compose(to_minus1_1())

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(Image.open(self.files[index]).convert("RGB"))


class Summer2WinterDataset(Dataset):
    """Unpaired images of two domains: item i is (A[i], a uniformly random B).

    Reads <root>/{train,test}{A,B}; `root` defaults to data/summer2winter_yosemite.
    """

    def __init__(self, train: bool = True, transform: Callable | None = None,
                 root: str | Path | None = None):
        self.root = Path(root) if root is not None else DATA_ROOT / "summer2winter_yosemite"
        split = "train" if train else "test"
        dir_A = require_folder(self.root / f"{split}A", self.root.name)
        dir_B = require_folder(self.root / f"{split}B", self.root.name)
        self.transform = transform or T.Compose(to_minus1_1())
        # TODO: list the image files of dir_A and dir_B into self.files_A and self.files_B.
        # Keep only image files (suffix in IMG_EXTENSIONS, any case) and sort each list by name.
        # BEGIN SOLUTION
        self.files_A = sorted(p for p in dir_A.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
        self.files_B = sorted(p for p in dir_B.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
        # END SOLUTION
        if not self.files_A or not self.files_B:
            raise KitError(f"no image files in {dir_A} or {dir_B}")

    def __len__(self) -> int:
        # TODO: one epoch visits every image of domain A once.
        # BEGIN SOLUTION
        return len(self.files_A)
        # END SOLUTION

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        # TODO: return (A[index], B[j]) with j drawn uniformly at random on every call, so the pairs
        # are unpaired. Open each file with Image.open(...).convert("RGB") and apply self.transform.
        # BEGIN SOLUTION
        image_A = Image.open(self.files_A[index]).convert("RGB")
        image_B = Image.open(self.files_B[random.randrange(len(self.files_B))]).convert("RGB")
        return self.transform(image_A), self.transform(image_B)
        # END SOLUTION


def cyclegan_root(dataset: str, dataroot: str | Path | None = None) -> Path:
    """The folder of a CycleGAN dataset: `dataroot` if given, else the named set under DATA_ROOT."""
    if dataroot is not None:
        return Path(dataroot).expanduser()
    if dataset not in CYCLEGAN_DATASETS:
        raise KitError(f"unknown CycleGAN dataset {dataset!r}; choose one of {', '.join(sorted(CYCLEGAN_DATASETS))}, "
                       f"or pass --dataroot PATH (a folder with trainA/ and trainB/)")
    return DATA_ROOT / CYCLEGAN_DATASETS[dataset]


def check_cyclegan_root(root: Path, train: bool = True) -> Path:
    """One clear error naming every missing split folder of `root` and how to get it."""
    missing = [split for split in CYCLEGAN_SPLITS[train] if not (root / split).is_dir()]
    if missing:
        how = HOW_TO_GET.get(root.name) if root.parent == DATA_ROOT else None
        how = how or ("put domain A's images in trainA/ and domain B's in trainB/ "
                      "(testA/ and testB/ for --train false)")
        what = (f"dataset folder not found: {root}" if not root.is_dir()
                else f"{root} has no {' or '.join(f'{split}/' for split in missing)} folder")
        raise KitError(f"{what}. Get it: {how}")
    return root


def cyclegan_transforms(image_size: int = 256) -> tuple[Callable, Callable]:
    """Training: resize to 286/256 of the crop, random crop, random flip. Test: resize."""
    load_size = int(round(image_size * 286 / 256))
    train = T.Compose([T.Resize((load_size, load_size), T.InterpolationMode.BICUBIC),
                       T.RandomCrop(image_size), T.RandomHorizontalFlip(), *to_minus1_1()])
    test = T.Compose([T.Resize((image_size, image_size), T.InterpolationMode.BICUBIC), *to_minus1_1()])
    return train, test


def create_dataset(dataset: str = "cifar10", train: bool = True, image_size: int | None = None,
                   dataroot: str | Path | None = None) -> Dataset:
    """One split of a named dataset (see the module docstring for the names), or of a CycleGAN
    folder `dataroot` (then `dataset` is only its label)."""
    if dataset == "cifar10":
        from torchvision.datasets import CIFAR10
        folder = DATA_ROOT / "cifar10"
        existed = folder.exists()
        try:
            return CIFAR10(str(folder), train=train, download=True, transform=T.Compose(to_minus1_1()))
        except Exception as exc:  # offline: torchvision raises URLError / RuntimeError
            if not existed:      # a failed download leaves no empty or half-written folder behind
                shutil.rmtree(folder, ignore_errors=True)
            raise KitError(f"CIFAR-10 is not in {DATA_ROOT / 'cifar10'} and could not be downloaded ({exc}). "
                           f"Train offline instead: --dataset shapes32 (after {HOW_TO_GET['shapes32']})") from exc
    if dataset == "shapes32":
        return FolderDataset(DATA_ROOT / "shapes32" / ("train" if train else "test"))
    if dataset in CYCLEGAN_DATASETS or dataroot is not None:
        train_tf, test_tf = cyclegan_transforms(image_size or 256)
        root = check_cyclegan_root(cyclegan_root(dataset, dataroot), train)
        return Summer2WinterDataset(train, train_tf if train else test_tf, root=root)
    raise KitError(f"unknown dataset {dataset!r}; choose one of "
                   f"{', '.join([*DCGAN_DATASETS, *CYCLEGAN_DATASETS])}")


def create_dataloader(dataset: str = "cifar10", batch_size: int = 64, num_workers: int = 1,
                      image_size: int | None = None, dataroot: str | Path | None = None
                      ) -> tuple[DataLoader, DataLoader]:
    """(train loader, test loader) for a named dataset or CycleGAN folder; the train loader shuffles.
    A CycleGAN folder without testA/ and testB/ is shown its own training images as test images."""
    train_set = create_dataset(dataset, True, image_size, dataroot)
    has_test = dataroot is None or all((Path(dataroot) / split).is_dir() for split in CYCLEGAN_SPLITS[False])
    test_set = create_dataset(dataset, not has_test, image_size, dataroot)
    kwargs = dict(batch_size=batch_size, num_workers=num_workers, pin_memory=torch.cuda.is_available())
    sampler = None
    if world_size() > 1:     # torchrun: each process its own 1/W of every epoch (set_epoch reshuffles)
        from torch.utils.data.distributed import DistributedSampler
        sampler = DistributedSampler(train_set, shuffle=True, drop_last=True)
    # workers: kept across epochs (no respawn per epoch) with 4 batches each in flight
    keep = dict(persistent_workers=True, prefetch_factor=4) if num_workers > 0 else {}
    return (DataLoader(train_set, shuffle=sampler is None, sampler=sampler, drop_last=True, **kwargs, **keep),
            DataLoader(test_set, shuffle=False, **kwargs))
