"""MNIST, Fashion-MNIST, CIFAR-10 (JPEG stand-in) and Permuted MNIST, offline and verified.

Every dataset is returned whole, as in-memory tensors (int64 labels; MNIST images as
float32 in [0, 1]; CIFAR-10 images kept as uint8 in a :class:`ByteImages` and read as
float32 in [0, 1] batch by batch, a quarter of the memory), so that a training loop on a
small CPU slices batches instead of running per-sample PIL transforms.

Where the files come from, in this order (see :func:`data_sources`):

1. ``AFM_DATA_DIR``: a folder laid out like the repository's ``shared/data``
   (``mnist/`` and ``fashion-mnist/`` with the four original ``.gz`` files,
   ``cifar10-jpeg/`` with ``train.zip`` and ``test.zip``). It may be read-only:
   nothing is ever written there.
2. Fashion-MNIST only: Debian's ``dataset-fashion-mnist`` package,
   ``/usr/share/datasets/fashion-mnist/`` (``AFM_DEBIAN_FASHION_DIR`` overrides).
3. torchvision's copy in the cache dir, downloaded unless ``AFM_OFFLINE=1``.
   For ``cifar10`` that download is the *original* CIFAR-10 (python version),
   not the JPEG stand-in.

Every source file is checked before use: the MNIST and Fashion-MNIST ``.gz``
files against the MD5s in torchvision's own ``resources`` lists, the CIFAR-10
stand-in zips against the SHA-256s published with them. A corrupt or truncated
file raises :class:`CorruptDataError`; no source at all raises
:class:`DataNotFoundError`. Decompressed and decoded data go to
``cache_dir()/data/`` (``AFM_CACHE_DIR``, default ``~/.cache/afm``), written
atomically with their SHA-256 recorded, checked on every read and rebuilt from the
verified source when they do not match (:mod:`afm.data.sources`).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset
from tqdm import tqdm

from afm.checks import check_bool, check_int, check_real, to_float
from afm.data.sources import (
    _ENV_KEYS, _TORCHVISION_CLASSES, CIFAR10_CLASSES, CIFAR10_JPEG_SHA256, CIFAR10_STANDIN_NOTE,
    DATASET_NAMES, DEBIAN_FASHION_DIR, FASHION_MNIST_CLASSES, CorruptDataError,
    DataNotFoundError, _canonical, _find_source, _present, _required_files, _Source, _sources,
    _torchvision_root, _verify_gz, _verify_zip, data_sources, derived_intact, load_npy,
    write_derived,
)
from afm.lab.paths import cache_dir

__all__ = [
    "load_dataset", "permuted_mnist", "pixel_permutation", "train_val_split", "subset",
    "data_sources", "cache_dir", "uses_jpeg_standin", "clear_memory_cache", "ByteImages",
    "DataNotFoundError", "CorruptDataError", "DATASET_NAMES", "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES", "CIFAR10_STANDIN_NOTE", "CIFAR10_JPEG_SHA256", "DEBIAN_FASHION_DIR",
]

_MEMO: dict[tuple, TensorDataset] = {}


class ByteImages(TensorDataset):
    """A ``TensorDataset(images, labels)`` whose images stay uint8 (0-255) in memory.

    Reading gives float32 in [0, 1], the numbers of ``images.float() / 255``: ``.tensors``
    converts the whole set on each access, ``dataset[i]`` converts the samples asked for,
    and :func:`afm.train`, :func:`afm.evaluate` and ``afm.train.loader``
    convert batch by batch (``stored_tensors`` holds the uint8 images). CIFAR-10 takes
    154 MB this way instead of 614 MB.

    Example:
        >>> data = ByteImages(torch.tensor([[0, 51], [255, 102]], dtype=torch.uint8),
        ...                   torch.tensor([0, 1]))
        >>> data.tensors[0]
        tensor([[0.0000, 0.2000],
                [1.0000, 0.4000]])
        >>> data[1][0], data.stored_tensors[0].dtype, len(data)
        (tensor([1.0000, 0.4000]), torch.uint8, 2)
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"ByteImages needs uint8 images and as many labels, got "
                             f"{images.dtype} {tuple(images.shape)} and {tuple(labels.shape)}")
        self.stored_tensors = (images, labels)

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.stored_tensors
        return to_float(images), labels

    def __getitem__(self, index):
        images, labels = self.stored_tensors
        return to_float(images[index]), labels[index]

    def __len__(self) -> int:
        return self.stored_tensors[0].shape[0]


# --------------------------------------------------------------------------- decoding


def _gunzip(src: Path, dst: Path) -> Path:
    """Decompress ``src`` to ``dst`` unless ``dst`` has the SHA-256 recorded when it was written."""
    if not derived_intact(dst):
        with gzip.open(src, "rb") as stream:
            write_derived(dst, lambda out: shutil.copyfileobj(stream, out, 1 << 20))
    return dst

def _load_idx(name: str, source: _Source, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Verify, decompress into ``<cache>/data/<name>/<Class>/raw/``, read with torchvision."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = _torchvision_root(name) / _TORCHVISION_CLASSES[name] / "raw"
    images_gz, labels_gz = (_verify_gz(name, source, f) for f in _required_files("idx-gz", train))
    images = read_image_file(str(_gunzip(images_gz, raw / images_gz.stem)))
    labels = read_label_file(str(_gunzip(labels_gz, raw / labels_gz.stem)))
    return images.unsqueeze(1), labels.long()


def _jpeg_members(archive: zipfile.ZipFile, path: Path) -> list[tuple[int, zipfile.ZipInfo]]:
    """(label, member) for every ``<split>/<class>/NNNN.jpg``, in ImageFolder order."""
    members = [info for info in archive.infolist() if info.filename.lower().endswith(".jpg")]
    classes = sorted({info.filename.split("/")[-2] for info in members})
    if tuple(classes) != CIFAR10_CLASSES:
        raise CorruptDataError(f"{path}: expected the CIFAR-10 class folders {CIFAR10_CLASSES}, "
                               f"found {tuple(classes)}")
    labelled = [(classes.index(info.filename.split("/")[-2]), info) for info in members]
    return sorted(labelled, key=lambda item: (item[0], item[1].filename))


def _decode_jpeg_zip(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode every JPEG of a stand-in zip: uint8 (N, 3, 32, 32) images, int64 (N,) labels."""
    from PIL import Image

    with zipfile.ZipFile(path) as archive:
        members = _jpeg_members(archive, path)
        images = np.empty((len(members), 32, 32, 3), dtype=np.uint8)
        labels = np.empty(len(members), dtype=np.int64)
        desc = f"Decoding CIFAR-10 JPEG stand-in ({split})"
        for i, (label, info) in enumerate(tqdm(members, desc=desc, unit="img", mininterval=0.5)):
            with Image.open(io.BytesIO(archive.read(info))) as image:
                images[i] = np.asarray(image.convert("RGB"))
            labels[i] = label
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels


def _load_cifar_jpeg(source: _Source, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Verify the zip, then load its decoded arrays from the cache or decode and cache them."""
    split = "train" if train else "test"
    zip_path = _verify_zip(source, f"{split}.zip")
    digest = CIFAR10_JPEG_SHA256[zip_path.name][:12]  # in the name: a new archive, a new cache
    stem = cache_dir() / "data" / "cifar10-jpeg" / f"{split}-{digest}"
    images_npy, labels_npy = Path(f"{stem}-images.npy"), Path(f"{stem}-labels.npy")
    if not (derived_intact(images_npy) and derived_intact(labels_npy)):
        images, labels = _decode_jpeg_zip(zip_path, split)
        write_derived(images_npy, lambda f: np.save(f, images, allow_pickle=False))
        write_derived(labels_npy, lambda f: np.save(f, labels, allow_pickle=False))
    return torch.from_numpy(load_npy(images_npy)), torch.from_numpy(load_npy(labels_npy))


def _load_cifar_python(source: _Source, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The original CIFAR-10 from torchvision's folder (checked by torchvision's own MD5s)."""
    from torchvision.datasets import CIFAR10

    try:
        dataset = CIFAR10(source.path.parent, train=train, download=False)
    except RuntimeError as err:
        raise CorruptDataError(f"{source.path} failed torchvision's CIFAR-10 MD5 check ({err}). "
                               f"To fix: {source.fix}.") from err
    images = np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2))
    return torch.from_numpy(images), torch.tensor(dataset.targets, dtype=torch.int64)


# --------------------------------------------------------------------------- public API


def load_dataset(name: str, train: bool = True) -> TensorDataset:
    """The whole training (or test) set of ``name`` as in-memory tensors.

    ``name`` is ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"`` (also
    ``fashion_mnist``, ``fashionmnist``, ``cifar-10``; any case). Returns a
    ``TensorDataset(images, labels)``: images float32 in [0, 1] of shape
    (N, 1, 28, 28) for the MNISTs and (N, 3, 32, 32) for CIFAR-10, labels int64
    of shape (N,). N is 60000/10000 (MNISTs) or 50000/10000 (CIFAR-10). CIFAR-10
    is a :class:`ByteImages`: uint8 in memory, the same float32 numbers when read.

    Results are memoised in-process (the tensors are shared: do not modify them
    in place); ``cifar10`` from ``AFM_DATA_DIR`` is the JPEG stand-in (see
    :data:`CIFAR10_STANDIN_NOTE`). Raises :class:`DataNotFoundError`,
    :class:`CorruptDataError`, or ``ValueError`` for an unknown name.

    Example::

        images, labels = load_dataset("mnist", train=False).tensors
        images.shape, images.dtype, labels[:3]
        # -> (torch.Size([10000, 1, 28, 28]), torch.float32, tensor([7, 2, 1]))
    """
    name = _canonical(name)
    train = check_bool(train, "train", "True: the training set; False: the test set")
    key = (name, train, tuple(os.environ.get(k) for k in _ENV_KEYS))
    if key not in _MEMO:
        source = _find_source(name, train)
        if source.kind == "idx-gz":
            images, labels = _load_idx(name, source, train)
            _MEMO[key] = TensorDataset(images.float().div_(255), labels)
        else:
            load = _load_cifar_jpeg if source.kind == "jpeg-zip" else _load_cifar_python
            _MEMO[key] = ByteImages(*load(source, train))
    return _MEMO[key]


def clear_memory_cache() -> None:
    """Forget the in-process memo of loaded datasets (the disk cache stays).

    Example::

        clear_memory_cache()
    """
    _MEMO.clear()


def uses_jpeg_standin(name: str, train: bool = True) -> bool:
    """Whether :func:`load_dataset` gives the CIFAR-10 JPEG stand-in for ``name``.

    True for ``cifar10`` whenever the stand-in zip is found (``AFM_DATA_DIR``);
    False for the MNISTs, and for ``cifar10`` when no stand-in is found, since
    the fallback is torchvision's original CIFAR-10.

    Example::

        if uses_jpeg_standin("cifar10"):
            print(CIFAR10_STANDIN_NOTE)
    """
    name = _canonical(name)
    if name != "cifar10":
        return False
    return any(s.kind == "jpeg-zip" and _present(s, train) for s in _sources(name))


def _check_task(task: int) -> int:
    return check_int(task, "task (the number of a Permuted-MNIST task)", 0)


def pixel_permutation(task: int, seed: int = 0) -> np.ndarray:
    """The fixed pixel permutation of Permuted-MNIST task ``task``: int64 array of shape (784,).

    Drawn from ``numpy.random.default_rng([seed, task])``, so each task's
    permutation is independent of the others and reproducible. Task 0 is
    permuted too (it is not plain MNIST).

    Example:
        >>> perm = pixel_permutation(3)
        >>> tuple(perm.shape), sorted(perm.tolist()) == list(range(784))
        ((784,), True)
        >>> bool((pixel_permutation(3) == perm).all())  # the same seed, the same task
        True
    """
    task = _check_task(task)
    return np.random.default_rng([check_int(seed, "seed"), task]).permutation(28 * 28)


def permuted_mnist(task: int, seed: int = 0, train: bool = True) -> TensorDataset:
    """MNIST with the pixels of every image shuffled by :func:`pixel_permutation`.

    Images float32 (N, 1, 28, 28) in [0, 1], labels int64 (N,), the same as
    MNIST's. Task 0 is also permuted. Not memoised (each call makes a copy of
    the images, 188 MB for the training set).

    Example::

        tasks = [permuted_mnist(k, seed=0) for k in range(3)]
        tasks[0].tensors[0].shape  # -> torch.Size([60000, 1, 28, 28])
    """
    perm = torch.from_numpy(pixel_permutation(task, seed))
    images, labels = load_dataset("mnist", train).tensors
    permuted = images.reshape(len(images), -1)[:, perm].reshape(images.shape)
    return TensorDataset(permuted, labels)


def _take(dataset: TensorDataset, indices: np.ndarray) -> TensorDataset:
    index = torch.from_numpy(indices)
    if isinstance(dataset, ByteImages):  # stays uint8
        return ByteImages(*(tensor[index] for tensor in dataset.stored_tensors))
    return TensorDataset(*(tensor[index] for tensor in dataset.tensors))


def _check_dataset(dataset: TensorDataset, what: str) -> None:
    if not isinstance(dataset, TensorDataset):
        raise TypeError(f"{what} needs a TensorDataset (e.g. from load_dataset), got "
                        f"{type(dataset).__name__}: wrap tensors as TensorDataset(x, y)")


def train_val_split(dataset: TensorDataset, val_fraction: float = 0.1,
                    seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Split ``dataset`` into disjoint (train, val) parts, deterministically from ``seed``.

    ``round(len(dataset) * val_fraction)`` samples, chosen by a seeded
    permutation, go to validation; both parts keep the original order and the
    tensors' trailing shapes. ``val_fraction`` must lie strictly between 0 and 1
    and leave at least one sample on each side, else ``ValueError``.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.arange(100.0)[:, None], torch.zeros(100, dtype=torch.long))
        >>> train, val = train_val_split(data, val_fraction=0.1)
        >>> len(train), len(val)
        (90, 10)
        >>> values = train.tensors[0].flatten().tolist() + val.tensors[0].flatten().tolist()
        >>> sorted(values) == list(range(100))
        True
    """
    _check_dataset(dataset, "train_val_split")
    check_int(seed, "seed")
    val_fraction = check_real(val_fraction, "val_fraction")
    n = len(dataset)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    n_val = round(n * val_fraction)
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction={val_fraction} of {n} samples gives {n_val} for "
                         f"validation; each part needs at least one sample")
    order = np.random.default_rng(seed).permutation(n)
    return _take(dataset, np.sort(order[n_val:])), _take(dataset, np.sort(order[:n_val]))


def subset(dataset: TensorDataset, n: int | None, seed: int = 0) -> TensorDataset:
    """``n`` samples of ``dataset``: the first ``n`` of a seeded permutation, in original order.

    ``n`` None or ``>= len(dataset)`` returns ``dataset`` itself; negative ``n``
    raises ``ValueError``. Shapes: ``(n, *trailing)`` for every tensor.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.arange(100.0)[:, None], torch.zeros(100, dtype=torch.long))
        >>> small = subset(data, 10, seed=1)
        >>> len(small), bool(small.tensors[0].unique().numel() == 10)
        (10, True)
    """
    _check_dataset(dataset, "subset")
    check_int(seed, "seed")
    if n is not None:
        n = check_int(n, "n (the number of samples to keep; None keeps all)", 0)
    if n is None or n >= len(dataset):
        return dataset
    order = np.random.default_rng(seed).permutation(len(dataset))
    return _take(dataset, np.sort(order[:n]))
