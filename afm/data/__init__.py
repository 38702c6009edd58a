"""MNIST, Fashion-MNIST, CIFAR-10 (JPEG stand-in) and Permuted MNIST, offline and verified.

Every dataset is returned whole, as in-memory tensors (float32 images in [0, 1],
int64 labels), so that a training loop on a small CPU slices batches instead of
running per-sample PIL transforms.

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
atomically, so a second process loads CIFAR-10 in about a second.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import operator
import os
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch.utils.data import TensorDataset
from tqdm import tqdm

from afm.lab.paths import cache_dir

__all__ = [
    "load_dataset", "permuted_mnist", "pixel_permutation", "train_val_split", "subset",
    "data_sources", "cache_dir", "uses_jpeg_standin", "clear_memory_cache",
    "DataNotFoundError", "CorruptDataError", "DATASET_NAMES", "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES", "CIFAR10_STANDIN_NOTE", "CIFAR10_JPEG_SHA256",
]

DATASET_NAMES = ("mnist", "fashion-mnist", "cifar10")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_STANDIN_NOTE = ("CIFAR-10 here is a JPEG re-encoding stand-in (quality 75, 4:2:0), "
                        "not the original pixels; accuracies are not official CIFAR-10 numbers.")

#: SHA-256 of the stand-in archives, as published in the ``README.md`` of the data directory (``AFM_DATA_DIR``).
CIFAR10_JPEG_SHA256 = {
    "train.zip": "660f39ec4c7030bf290d212aa90b0f46d4e0d8cbb611980b2d3c6886bb522554",
    "test.zip": "11b50272fa13952f5524319c0691d4ebe19715c2f7d389bc61bf84afe890fac8",
}

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# Debian's dataset-fashion-mnist ships the upstream deflate streams unchanged but
# with a normalised gzip header (no file name, the package's build time as mtime),
# so the files' own MD5s differ from the published ones. Putting the upstream
# header back (FNAME = name without ".gz", this mtime, XFL 0, OS 3 = Unix)
# reproduces the upstream files byte for byte, so torchvision's MD5s still apply.
_FASHION_UPSTREAM_GZIP_MTIME = {
    "train-images-idx3-ubyte.gz": 1504176606,
    "train-labels-idx1-ubyte.gz": 1504176606,
    "t10k-images-idx3-ubyte.gz": 1504176627,
    "t10k-labels-idx1-ubyte.gz": 1504176627,
}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
_DATA_DIR_FOLDERS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar10-jpeg"}
_TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_ENV_KEYS = ("AFM_DATA_DIR", "AFM_DEBIAN_FASHION_DIR", "AFM_CACHE_DIR")

_MEMO: dict[tuple, TensorDataset] = {}
_VERIFIED: set[str] = set()


class DataNotFoundError(FileNotFoundError):
    """No source holds the dataset; the message lists every place looked and how to fix it.

    A ``FileNotFoundError``, so ``except FileNotFoundError`` catches it too. Raised by
    ``load_dataset`` when no source has the files and the download is disabled
    (``AFM_OFFLINE=1``) or fails.

    Example:
        >>> import tempfile
        >>> from unittest import mock
        >>> empty = tempfile.mkdtemp()
        >>> with mock.patch.dict(os.environ, AFM_DATA_DIR=empty, AFM_CACHE_DIR=empty,
        ...                      AFM_OFFLINE="1"):
        ...     try:
        ...         load_dataset("mnist")
        ...     except FileNotFoundError as err:
        ...         print(type(err).__name__, "|", str(err).splitlines()[0])
        DataNotFoundError | No copy of the MNIST training set was found. Places looked, in order:
    """


class CorruptDataError(ValueError):
    """A data file failed its checksum; the message names the file, expected vs found, the fix.

    A ``ValueError``, so ``except ValueError`` catches it too. The file is never used.

    Example:
        >>> try:
        ...     raise CorruptDataError("train.zip is corrupt or truncated and was not used")
        ... except ValueError as err:
        ...     print(type(err).__name__, str(err).startswith("train.zip is corrupt"))
        CorruptDataError True
    """


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class _Source:
    path: Path
    label: str  # where the folder comes from, for messages
    kind: str  # "idx-gz" | "jpeg-zip" | "cifar-python"
    fix: str  # how to repair a corrupt file found here
    downloadable: bool = False


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    canonical = {"mnist": "mnist", "fashionmnist": "fashion-mnist", "cifar10": "cifar10"}.get(key)
    if canonical is None:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)} "
                         f"(aliases: fashion_mnist, fashionmnist, cifar-10; any case)")
    return canonical


def _offline() -> bool:
    return os.environ.get("AFM_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _torchvision_root(name: str) -> Path:
    return cache_dir() / "data" / name


def _sources(name: str) -> list[_Source]:
    sources = []
    if data_dir := os.environ.get("AFM_DATA_DIR"):
        sources.append(_Source(
            Path(data_dir).expanduser() / _DATA_DIR_FOLDERS[name], "from AFM_DATA_DIR",
            "jpeg-zip" if name == "cifar10" else "idx-gz",
            "re-copy it from a good copy of the data folder (e.g. shared/data)"))
    if name == "fashion-mnist":
        sources.append(_Source(
            Path(os.environ.get("AFM_DEBIAN_FASHION_DIR") or DEBIAN_FASHION_DIR),
            "Debian package dataset-fashion-mnist; AFM_DEBIAN_FASHION_DIR overrides", "idx-gz",
            "reinstall the package: apt-get install --reinstall dataset-fashion-mnist"))
    root = _torchvision_root(name)
    if name == "cifar10":
        sources.append(_Source(
            root / "cifar-10-batches-py",
            "torchvision download of the ORIGINAL CIFAR-10, python version", "cifar-python",
            f"delete {root} and load again to re-download", downloadable=True))
    else:
        sources.append(_Source(
            root / _TORCHVISION_CLASSES[name] / "raw", "torchvision download", "idx-gz",
            "delete the file and load again to re-download", downloadable=True))
    return sources


def data_sources(name: str) -> list[Path]:
    """The folders looked in for dataset ``name``, in order of preference.

    ``AFM_DATA_DIR/<folder>`` (if the variable is set), then Debian's
    Fashion-MNIST folder (Fashion-MNIST only), then torchvision's download
    folder in ``cache_dir()``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"AFM_DATA_DIR": "/data", "AFM_CACHE_DIR": "/c"}):
        ...     [str(p) for p in data_sources("fashion-mnist")]  # doctest: +ELLIPSIS
        ['/data/fashion-mnist', ..., '/c/data/fashion-mnist/FashionMNIST/raw']
    """
    return [source.path for source in _sources(_canonical(name))]


def _required_files(kind: str, train: bool) -> list[str]:
    if kind == "jpeg-zip":
        return ["train.zip" if train else "test.zip"]
    if kind == "cifar-python":
        batches = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        return [*batches, "batches.meta"]
    prefix = "train" if train else "t10k"
    return [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]


def _present(source: _Source, train: bool) -> bool:
    return all((source.path / f).is_file() for f in _required_files(source.kind, train))


# --------------------------------------------------------------------------- finding


def _find_source(name: str, train: bool) -> _Source:
    """The first source holding the split; download into the cache if none does and allowed."""
    sources = _sources(name)
    for source in sources:
        if _present(source, train):
            return source
    if _offline():
        raise DataNotFoundError(_not_found_message(name, train, sources))
    return _download(name, train, sources)


def _download(name: str, train: bool, sources: list[_Source]) -> _Source:
    from torchvision import datasets

    target = next(source for source in sources if source.downloadable)
    try:
        getattr(datasets, _TORCHVISION_CLASSES[name])(_torchvision_root(name), train=train,
                                                      download=True)
    except Exception as err:  # network errors come in many types
        raise DataNotFoundError(_not_found_message(name, train, sources)
                                + f"\nThe torchvision download failed: {err}") from err
    return target


def _not_found_message(name: str, train: bool, sources: list[_Source]) -> str:
    split = "training" if train else "test"
    lines = [f"No copy of the {_TITLES[name]} {split} set was found. Places looked, in order:"]
    if not os.environ.get("AFM_DATA_DIR"):
        lines.append("  - AFM_DATA_DIR: not set")
    for source in sources:
        missing = [f for f in _required_files(source.kind, train)
                   if not (source.path / f).is_file()]
        what = "missing " + ", ".join(missing) if source.path.is_dir() else "folder does not exist"
        lines.append(f"  - {source.path} ({source.label}): {what}")
    if _offline():
        lines.append("  - download: disabled because AFM_OFFLINE is set")
    fixes = ["set AFM_DATA_DIR to a folder laid out like shared/data "
             "(mnist/, fashion-mnist/, cifar10-jpeg/)"]
    if name == "fashion-mnist":
        fixes.append("run `apt-get install dataset-fashion-mnist`")
    note = " (the original CIFAR-10, not the JPEG stand-in)" if name == "cifar10" else ""
    fixes.append(f"unset AFM_OFFLINE to let torchvision download it{note} "
                 f"into {_torchvision_root(name)}")
    return "\n".join(lines) + "\nTo fix: " + "; or ".join(fixes) + "."


# --------------------------------------------------------------------------- verification


def _file_digest(path: Path, algorithm: str, prefix: bytes = b"", skip: int = 0) -> str:
    digest = hashlib.new(algorithm, prefix)
    with open(path, "rb") as f:
        f.seek(skip)
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _marker(path: Path, expected: str) -> tuple[str, Path]:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{expected}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return key, cache_dir() / "data" / ".verified" / digest


def _already_verified(path: Path, expected: str) -> bool:
    key, marker = _marker(path, expected)
    return key in _VERIFIED or marker.is_file()


def _remember_verified(path: Path, expected: str) -> None:
    key, marker = _marker(path, expected)
    _VERIFIED.add(key)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def _corrupt(path: Path, what: str, expected: str, found: str, fix: str) -> CorruptDataError:
    size = path.stat().st_size
    return CorruptDataError(
        f"{path} is corrupt or truncated and was not used: expected {what} {expected}, "
        f"found {found} ({size:,} bytes). To fix: {fix}.")


def _upstream_gzip_md5(name: str, path: Path) -> str | None:
    """MD5 of a Debian-normalised Fashion-MNIST ``.gz`` with its upstream header put back."""
    mtime = _FASHION_UPSTREAM_GZIP_MTIME.get(path.name) if name == "fashion-mnist" else None
    if mtime is None:
        return None
    with open(path, "rb") as f:
        head = f.read(10)
    if len(head) < 10 or head[:3] != b"\x1f\x8b\x08" or head[3] != 0:  # not a bare header
        return None
    upstream = (b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03"
                + path.name.removesuffix(".gz").encode() + b"\x00")
    return _file_digest(path, "md5", prefix=upstream, skip=10)


def _verify_gz(name: str, source: _Source, filename: str) -> Path:
    """Check one ``.gz`` against torchvision's published MD5; return its path."""
    from torchvision import datasets
    from torchvision.datasets.utils import check_integrity

    path = source.path / filename
    cls = _TORCHVISION_CLASSES[name]
    expected = dict(getattr(datasets, cls).resources)[filename]
    if _already_verified(path, expected):
        return path
    if not (check_integrity(path, expected) or _upstream_gzip_md5(name, path) == expected):
        raise _corrupt(path, f"MD5 (torchvision {cls}.resources)", expected,
                       _file_digest(path, "md5"), source.fix)
    _remember_verified(path, expected)
    return path


def _verify_zip(source: _Source, filename: str) -> Path:
    """Check one CIFAR-10 stand-in zip against its published SHA-256; return its path."""
    path = source.path / filename
    expected = CIFAR10_JPEG_SHA256[filename]
    if _already_verified(path, expected):
        return path
    found = _file_digest(path, "sha256")
    if found != expected:
        raise _corrupt(path, "SHA-256 (the README.md of the data directory)", expected, found, source.fix)
    _remember_verified(path, expected)
    return path


# --------------------------------------------------------------------------- decoding


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; cached data need not be
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _gunzip(src: Path, dst: Path) -> Path:
    """Decompress ``src`` to ``dst`` unless ``dst`` already has the right size."""
    with open(src, "rb") as f:
        f.seek(-4, os.SEEK_END)
        size = struct.unpack("<I", f.read(4))[0]  # gzip ISIZE: uncompressed size mod 2**32
    if not (dst.is_file() and dst.stat().st_size == size):
        with gzip.open(src, "rb") as stream:
            _atomic_write(dst, lambda out: shutil.copyfileobj(stream, out, 1 << 20))
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
    if not (images_npy.is_file() and labels_npy.is_file()):
        images, labels = _decode_jpeg_zip(zip_path, split)
        _atomic_write(images_npy, lambda f: np.save(f, images))
        _atomic_write(labels_npy, lambda f: np.save(f, labels))
    return torch.from_numpy(np.load(images_npy)), torch.from_numpy(np.load(labels_npy))


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
    of shape (N,). N is 60000/10000 (MNISTs) or 50000/10000 (CIFAR-10).

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
    key = (name, bool(train), tuple(os.environ.get(k) for k in _ENV_KEYS))
    if key not in _MEMO:
        source = _find_source(name, bool(train))
        if source.kind == "idx-gz":
            images, labels = _load_idx(name, source, bool(train))
        elif source.kind == "jpeg-zip":
            images, labels = _load_cifar_jpeg(source, bool(train))
        else:
            images, labels = _load_cifar_python(source, bool(train))
        _MEMO[key] = TensorDataset(images.float().div_(255), labels)
    return _MEMO[key]


def clear_memory_cache() -> None:
    """Forget the in-process memo of loaded datasets and verified files (disk cache stays).

    Example::

        clear_memory_cache()
    """
    _MEMO.clear()
    _VERIFIED.clear()


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
    task = operator.index(task)
    if task < 0:
        raise ValueError(f"task must be a non-negative integer, got {task}")
    return task


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
    return np.random.default_rng([operator.index(seed), task]).permutation(28 * 28)


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
    return TensorDataset(*(tensor[index] for tensor in dataset.tensors))


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
    if n is None or n >= len(dataset):
        return dataset
    if n < 0:
        raise ValueError(f"n must be None or a non-negative integer, got {n}")
    order = np.random.default_rng(seed).permutation(len(dataset))
    return _take(dataset, np.sort(order[:n]))
