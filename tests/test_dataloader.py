import random
import subprocess
from pathlib import Path

import pytest
from PIL import Image

import dataloader
from util import KitError

REPO = Path(__file__).resolve().parents[1]


def write_domain(folder, colors, names=None):
    folder.mkdir(parents=True)
    names = names or [f"{i:03d}.png" for i in range(len(colors))]
    for name, c in zip(names, colors):
        Image.new("RGB", (4, 4), (c, c, c)).save(folder / name)


@pytest.fixture
def unpaired(tmp_path):
    """A: 5 images of grey levels 0..4 (x40); B: 7 of 100..106; plus junk files."""
    write_domain(tmp_path / "trainA", [i * 40 for i in range(5)])
    write_domain(tmp_path / "trainB", [100 + i for i in range(7)])
    (tmp_path / "trainA" / "notes.txt").write_text("not an image")
    (tmp_path / "trainB" / "Thumbs.db").write_bytes(b"\0")
    return tmp_path


def grey(t):
    return round(((t[0, 0, 0].item() + 1) / 2) * 255)


def test_length_is_the_number_of_A_images(unpaired):
    assert len(dataloader.Summer2WinterDataset(True, root=unpaired)) == 5


def test_item_is_A_i_with_a_random_B(unpaired):
    ds = dataloader.Summer2WinterDataset(True, root=unpaired)
    random.seed(0)
    seen_B = set()
    for _ in range(40):
        a, b = ds[2]
        assert grey(a) == 80                      # A is stable for a fixed index
        seen_B.add(grey(b))
    assert len(seen_B) >= 4 and seen_B <= set(range(100, 107))   # B varies, drawn from all of B


def test_files_are_sorted_and_only_images(tmp_path):
    write_domain(tmp_path / "testA", [10, 20, 30], names=["c.png", "a.JPG", "b.png"])
    write_domain(tmp_path / "testB", [1], names=["x.png"])
    ds = dataloader.Summer2WinterDataset(False, root=tmp_path)
    assert [p.name for p in ds.files_A] == ["a.JPG", "b.png", "c.png"]
    assert [grey(ds[i][0]) for i in range(3)] == [20, 30, 10]


def test_grayscale_images_become_rgb(tmp_path):
    (tmp_path / "trainA").mkdir(); (tmp_path / "trainB").mkdir()
    Image.new("L", (4, 4), 9).save(tmp_path / "trainA" / "g.png")
    Image.new("RGBA", (4, 4)).save(tmp_path / "trainB" / "g.png")
    a, b = dataloader.Summer2WinterDataset(True, root=tmp_path)[0]
    assert a.shape == b.shape == (3, 4, 4)


def test_missing_dataset_names_download_and_offline_option(tmp_path):
    with pytest.raises(KitError, match="download_dataset.sh.*--dataset seasons"):
        dataloader.Summer2WinterDataset(True, root=tmp_path / "summer2winter_yosemite")


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(KitError, match="unknown dataset 'mnist'"):
        dataloader.create_dataloader("mnist")


def test_offline_loaders(data_root):
    train, test = dataloader.create_dataloader("shapes32", batch_size=8, num_workers=0)
    x = next(iter(train))
    assert x.shape == (8, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    train, test = dataloader.create_dataloader("seasons", batch_size=2, num_workers=0, image_size=32)
    a, b = next(iter(train))
    assert a.shape == b.shape == (2, 3, 32, 32)
    a, b = next(iter(test))
    assert a.shape == (2, 3, 32, 32)


def test_missing_offline_set_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setattr(dataloader, "DATA_ROOT", tmp_path)
    with pytest.raises(KitError, match="make_offline_data.py"):
        dataloader.create_dataloader("shapes32")


def test_failed_cifar10_download_leaves_no_empty_folder(tmp_path, monkeypatch):
    import torchvision.datasets

    def failing_download(root, **kwargs):
        Path(root).mkdir(parents=True)
        (Path(root) / "cifar-10-python.tar.gz").write_bytes(b"half")    # what an interrupted download leaves
        raise RuntimeError("connection reset")
    monkeypatch.setattr(dataloader, "DATA_ROOT", tmp_path)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", failing_download)
    with pytest.raises(KitError, match="CIFAR-10 is not in .*connection reset.*--dataset shapes32"):
        dataloader.create_dataset("cifar10")
    assert not (tmp_path / "cifar10").exists()


def test_every_name_the_download_script_knows_is_a_cyclegan_dataset(tmp_path, monkeypatch):
    # what the script accepts, read from its own error message (not from the list file it reads)
    refused = subprocess.run(["bash", str(REPO / "data" / "download_dataset.sh"), "no_such_set"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2
    script_names = set(refused.stderr.split("Choose one of:")[1].split())
    assert {"horse2zebra", "apple2orange", "summer2winter_yosemite", "maps"} <= script_names
    assert script_names <= set(dataloader.CYCLEGAN_DATASETS)
    # each one not yet downloaded is refused with the exact download command for that name
    monkeypatch.setattr(dataloader, "DATA_ROOT", tmp_path)
    for name in script_names:
        with pytest.raises(KitError, match=f"not found: .*{name}.*bash data/download_dataset.sh {name}"):
            dataloader.create_dataset(name, train=True, image_size=32)


def test_a_folder_without_trainB_names_what_is_missing(tmp_path):
    (tmp_path / "mine" / "trainA").mkdir(parents=True)
    with pytest.raises(KitError) as caught:
        dataloader.create_dataloader("mine", image_size=32, dataroot=tmp_path / "mine")
    message = str(caught.value)
    assert "has no trainB/ folder" in message and "\n" not in message
