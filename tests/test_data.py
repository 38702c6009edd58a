"""Tests of afm.data on the real offline files (shared/data, Debian's Fashion-MNIST).

Nothing is mocked: datasets are loaded, verified and decoded for real, into a
temporary cache. Nothing is written under shared/data, and nothing is downloaded
(AFM_OFFLINE=1 everywhere).
"""

from __future__ import annotations

import gzip
import io
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from afm import data
from afm.lab.paths import cache_dir

from conftest import REAL_DATA as SHARED_DATA

DEBIAN_FASHION = data.DEBIAN_FASHION_DIR

# Samples per label 0..9: the standard MNIST label counts (also in the data directory README.md).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

needs_debian = pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"{DEBIAN_FASHION} missing: apt-get install dataset-fashion-mnist")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Never download; a fresh cache and an empty memo for every test."""
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AFM_DATA_DIR", raising=False)
    monkeypatch.delenv("AFM_DEBIAN_FASHION_DIR", raising=False)
    data.clear_memory_cache()
    yield
    data.clear_memory_cache()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache for the tests on the real data, so CIFAR-10 is decoded once per run."""
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture
def shared_env(monkeypatch, shared_cache, real_mnist):
    monkeypatch.setenv("AFM_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("AFM_CACHE_DIR", str(shared_cache))
    return shared_cache


def read_idx_gz(path: Path) -> np.ndarray:
    """An independent IDX reader: big-endian header, then uint8 payload."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def label_counts(dataset: TensorDataset) -> list[int]:
    return torch.bincount(dataset.tensors[1], minlength=10).tolist()


def check_images(dataset: TensorDataset, shape: tuple[int, ...]) -> None:
    images, labels = dataset.tensors
    assert images.shape == shape and images.dtype == torch.float32
    assert labels.shape == shape[:1] and labels.dtype == torch.int64
    assert images.min() == 0.0 and images.max() == 1.0


# --------------------------------------------------------------------------- real data


def test_mnist_from_shared_folder(shared_env):
    train, test = data.load_dataset("mnist"), data.load_dataset("MNIST", train=False)
    check_images(train, (60000, 1, 28, 28))
    check_images(test, (10000, 1, 28, 28))
    assert label_counts(train) == MNIST_TRAIN_COUNTS
    assert label_counts(test) == MNIST_TEST_COUNTS
    assert data.load_dataset("mnist") is train  # memoised
    expected = read_idx_gz(SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert torch.equal((test.tensors[0] * 255).round().to(torch.uint8).squeeze(1),
                       torch.from_numpy(expected.copy()))
    assert data.data_sources("mnist")[0] == SHARED_DATA / "mnist"


@needs_debian
def test_fashion_mnist_from_debian_package():
    train = data.load_dataset("fashion_mnist")
    test = data.load_dataset("FashionMNIST", train=False)
    check_images(train, (60000, 1, 28, 28))
    check_images(test, (10000, 1, 28, 28))
    assert label_counts(train) == [6000] * 10
    assert label_counts(test) == [1000] * 10
    labels = read_idx_gz(DEBIAN_FASHION / "train-labels-idx1-ubyte.gz")
    assert torch.equal(train.tensors[1], torch.from_numpy(labels.astype(np.int64)))
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_cifar10_standin_decodes_and_caches(shared_env, real_cifar):
    start = time.perf_counter()
    train, test = data.load_dataset("cifar10"), data.load_dataset("CIFAR-10", train=False)
    first = time.perf_counter() - start
    check_images(train, (50000, 3, 32, 32))
    check_images(test, (10000, 3, 32, 32))
    assert label_counts(train) == [5000] * 10 and label_counts(test) == [1000] * 10
    assert data.uses_jpeg_standin("cifar10") and not data.uses_jpeg_standin("mnist")
    assert "stand-in" in data.CIFAR10_STANDIN_NOTE

    # ImageFolder order: first image of the test set is test/airplane/0000.jpg.
    with zipfile.ZipFile(SHARED_DATA / "cifar10-jpeg" / "test.zip") as archive:
        pixels = np.asarray(Image.open(io.BytesIO(archive.read("test/airplane/0000.jpg"))))
    assert torch.equal((test.tensors[0][0] * 255).round().to(torch.uint8),
                       torch.from_numpy(pixels.transpose(2, 0, 1).copy()))
    assert test.tensors[1][0] == data.CIFAR10_CLASSES.index("airplane")

    data.clear_memory_cache()  # as if in a new process: decoded arrays come from disk
    start = time.perf_counter()
    again = data.load_dataset("cifar10")
    cached = time.perf_counter() - start
    assert torch.equal(again.tensors[0], train.tensors[0])
    assert torch.equal(again.tensors[1], train.tensors[1])
    assert list((shared_env / "data" / "cifar10-jpeg").glob("train-*-images.npy"))
    print(f"CIFAR-10 first load {first:.1f} s, cached load {cached:.2f} s")
    assert cached < 10


def test_permuted_mnist(shared_env):
    images, labels = data.load_dataset("mnist", train=False).tensors
    task1 = data.permuted_mnist(1, train=False)
    assert task1.tensors[0].shape == images.shape
    assert torch.equal(task1.tensors[1], labels)
    flat, flat1 = images.flatten(1), task1.tensors[0].flatten(1)
    assert torch.equal(flat.sort(dim=1).values, flat1.sort(dim=1).values)
    perm = torch.from_numpy(data.pixel_permutation(1))
    assert torch.equal(flat1, flat[:, perm])
    assert torch.equal(data.permuted_mnist(1, train=False).tensors[0], task1.tensors[0])
    task0 = data.permuted_mnist(0, train=False).tensors[0]
    assert not torch.equal(task0, images)  # task 0 is permuted too
    assert not torch.equal(task0, task1.tensors[0])
    assert not torch.equal(data.permuted_mnist(1, seed=1, train=False).tensors[0],
                           task1.tensors[0])


def test_pixel_permutation():
    perm = data.pixel_permutation(5, seed=2)
    assert perm.shape == (784,) and sorted(perm.tolist()) == list(range(784))
    assert np.array_equal(perm, data.pixel_permutation(5, seed=2))
    assert np.array_equal(perm, np.random.default_rng([2, 5]).permutation(784))
    assert not np.array_equal(data.pixel_permutation(0), np.arange(784))
    with pytest.raises(ValueError):
        data.pixel_permutation(-1)
    with pytest.raises(ValueError):
        data.permuted_mnist(-2)


# --------------------------------------------------------------------------- failures


def test_truncated_mnist_file_is_rejected(monkeypatch, tmp_path, real_mnist):
    fake = tmp_path / "data" / "mnist"
    fake.mkdir(parents=True)
    original = (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    (fake / "t10k-images-idx3-ubyte.gz").write_bytes(original[: len(original) // 2])
    shutil.copy(SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz", fake)
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "data"))
    before = sorted(p.name for p in fake.iterdir())
    with pytest.raises(data.CorruptDataError) as err:
        data.load_dataset("mnist", train=False)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in message and str(fake) in message
    assert "9fb629c4189551a2d022fa330f9573f3" in message  # the expected MD5
    assert "re-copy" in message
    assert sorted(p.name for p in fake.iterdir()) == before  # nothing written there


@needs_debian
def test_damaged_debian_fashion_file_is_rejected(monkeypatch, tmp_path):
    fake = tmp_path / "debian"
    fake.mkdir()
    (fake / "train-images-idx3-ubyte.gz").symlink_to(DEBIAN_FASHION / "train-images-idx3-ubyte.gz")
    payload = bytearray((DEBIAN_FASHION / "train-labels-idx1-ubyte.gz").read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    (fake / "train-labels-idx1-ubyte.gz").write_bytes(payload)
    monkeypatch.setenv("AFM_DEBIAN_FASHION_DIR", str(fake))
    with pytest.raises(data.CorruptDataError, match="train-labels-idx1-ubyte.gz") as err:
        data.load_dataset("fashion-mnist")
    assert "apt-get install --reinstall dataset-fashion-mnist" in str(err.value)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_cifar_zip_is_rejected(monkeypatch, tmp_path, damage, real_cifar):
    fake = tmp_path / "data" / "cifar10-jpeg"
    fake.mkdir(parents=True)
    payload = bytearray((SHARED_DATA / "cifar10-jpeg" / "test.zip").read_bytes())
    if damage == "flip":
        payload[len(payload) // 2 : len(payload) // 2 + 16] = bytes(16)
    else:
        del payload[len(payload) // 2 :]
    (fake / "test.zip").write_bytes(payload)
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(data.CorruptDataError) as err:
        data.load_dataset("cifar10", train=False)
    message = str(err.value)
    assert str(fake / "test.zip") in message and "SHA-256" in message
    assert data.CIFAR10_JPEG_SHA256["test.zip"] in message


@pytest.mark.parametrize("name", data.DATASET_NAMES)
def test_missing_everywhere_names_every_place(monkeypatch, tmp_path, name):
    empty_data, empty_debian = tmp_path / "data", tmp_path / "debian"
    empty_data.mkdir()
    empty_debian.mkdir()
    monkeypatch.setenv("AFM_DATA_DIR", str(empty_data))
    monkeypatch.setenv("AFM_DEBIAN_FASHION_DIR", str(empty_debian))
    places = data.data_sources(name)
    assert places[0] == empty_data / {"cifar10": "cifar10-jpeg"}.get(name, name)
    assert (empty_debian in places) == (name == "fashion-mnist")
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_dataset(name)
    assert isinstance(err.value, FileNotFoundError)
    message = str(err.value)
    for place in places:
        assert str(place) in message
    assert "AFM_DATA_DIR" in message and "AFM_OFFLINE" in message
    assert ("apt-get install dataset-fashion-mnist" in message) == (name == "fashion-mnist")


def test_source_order_and_aliases(monkeypatch, tmp_path):
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("AFM_DEBIAN_FASHION_DIR", str(tmp_path / "deb"))
    cache = cache_dir()
    assert cache == tmp_path / "cache" and cache.is_dir()
    assert data.data_sources("Fashion_MNIST") == [
        tmp_path / "d" / "fashion-mnist", tmp_path / "deb",
        cache / "data" / "fashion-mnist" / "FashionMNIST" / "raw"]
    assert data.data_sources("fashionmnist") == data.data_sources("fashion-mnist")
    assert data.data_sources("CIFAR-10") == [
        tmp_path / "d" / "cifar10-jpeg", cache / "data" / "cifar10" / "cifar-10-batches-py"]
    monkeypatch.delenv("AFM_DATA_DIR")
    assert data.data_sources("mnist") == [cache / "data" / "mnist" / "MNIST" / "raw"]


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        data.load_dataset("svhn")
    for name in data.DATASET_NAMES:
        assert name in str(err.value)
    with pytest.raises(ValueError):
        data.data_sources("imagenet")


# --------------------------------------------------------------------------- splitting


def toy_dataset(n: int = 100) -> TensorDataset:
    return TensorDataset(torch.arange(n).float().reshape(n, 1), torch.arange(n) % 10)


def test_train_val_split():
    dataset = toy_dataset()
    train, val = data.train_val_split(dataset, val_fraction=0.2, seed=3)
    assert (len(train), len(val)) == (80, 20)
    ids_train, ids_val = set(train.tensors[0][:, 0].tolist()), set(val.tensors[0][:, 0].tolist())
    assert not ids_train & ids_val and len(ids_train | ids_val) == 100
    assert torch.equal(train.tensors[1], train.tensors[0][:, 0].long() % 10)  # rows stay paired
    again_train, again_val = data.train_val_split(dataset, val_fraction=0.2, seed=3)
    assert torch.equal(again_val.tensors[0], val.tensors[0])
    assert torch.equal(again_train.tensors[0], train.tensors[0])
    other = data.train_val_split(dataset, val_fraction=0.2, seed=4)[1]
    assert not torch.equal(other.tensors[0], val.tensors[0])
    for bad in (0, 1, -0.1, 1.5, float("nan"), 0.001):
        with pytest.raises(ValueError):
            data.train_val_split(dataset, val_fraction=bad)


def test_subset():
    dataset = toy_dataset()
    small = data.subset(dataset, 30, seed=1)
    ids = small.tensors[0][:, 0]
    assert len(small) == 30 and len(set(ids.tolist())) == 30
    assert torch.equal(ids, ids.sort().values)  # original order kept
    assert torch.equal(data.subset(dataset, 30, seed=1).tensors[0], small.tensors[0])
    assert not torch.equal(data.subset(dataset, 30, seed=2).tensors[0], small.tensors[0])
    assert data.subset(dataset, None) is dataset and data.subset(dataset, 100) is dataset
    assert data.subset(dataset, 500) is dataset and len(data.subset(dataset, 0)) == 0
    with pytest.raises(ValueError):
        data.subset(dataset, -1)
