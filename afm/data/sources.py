"""Where the data files come from, and whether they are intact.

Sources, in order (see :func:`data_sources`): ``AFM_DATA_DIR``; Debian's Fashion-MNIST
package (Fashion-MNIST only); torchvision's copy in the cache dir, downloaded unless
``AFM_OFFLINE=1``. Source files are checked against published checksums every time a
process first reads them (MNIST ``.gz``: torchvision's MD5s; the CIFAR-10 stand-in zips:
their SHA-256s): the check is on the content, never on a file's path, size or time.

Derived data (decompressed MNIST, decoded CIFAR-10) go to ``cache_dir()/data/`` with the
SHA-256 of each file recorded beside it (``<file>.sha256``) when written, and checked
when read: a file that does not match (edited, truncated, or written without a record)
is rebuilt from the verified source, with one warning saying so.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from afm.lab.paths import cache_dir

DATASET_NAMES = ("mnist", "fashion-mnist", "cifar10")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_STANDIN_NOTE = ("CIFAR-10 here is a JPEG re-encoding stand-in (quality 75, 4:2:0), "
                        "not the original pixels; accuracies are not official CIFAR-10 numbers.")

#: SHA-256 of the stand-in archives, as published in the ``README.md`` of the data
#: directory (``AFM_DATA_DIR``).
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


class DataNotFoundError(FileNotFoundError):
    """No source holds the dataset; the message lists every place looked and how to fix it.

    A ``FileNotFoundError``, so ``except FileNotFoundError`` catches it too. Raised by
    ``load_dataset`` when no source has the files and the download is disabled
    (``AFM_OFFLINE=1``) or fails.

    Example:
        >>> import tempfile
        >>> from unittest import mock
        >>> from afm.data import load_dataset
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
    """Check one ``.gz`` against torchvision's published MD5 (its content); return its path."""
    from torchvision import datasets

    path = source.path / filename
    cls = _TORCHVISION_CLASSES[name]
    expected = dict(getattr(datasets, cls).resources)[filename]
    found = _file_digest(path, "md5")
    if found != expected and _upstream_gzip_md5(name, path) != expected:
        raise _corrupt(path, f"MD5 (torchvision {cls}.resources)", expected, found, source.fix)
    return path


def _verify_zip(source: _Source, filename: str) -> Path:
    """Check one CIFAR-10 stand-in zip against its published SHA-256; return its path."""
    path = source.path / filename
    expected = CIFAR10_JPEG_SHA256[filename]
    found = _file_digest(path, "sha256")
    if found != expected:
        raise _corrupt(path, "SHA-256 (the README.md of the data directory)", expected, found, source.fix)
    return path


# --------------------------------------------------------------------------- derived data



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



def _record(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_derived(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a derived file atomically, then record its SHA-256 beside it (``<file>.sha256``)."""
    _atomic_write(path, write)
    digest = _file_digest(path, "sha256")
    _atomic_write(_record(path), lambda f: f.write(f"{digest}  {path.name}\n".encode()))


def derived_intact(path: Path) -> bool:
    """Whether the derived file ``path`` exists and has the SHA-256 recorded when it was written.

    A file that exists but fails (edited, truncated, no record) gets one warning saying it
    will be rebuilt from the verified source; a missing file is simply absent.
    """
    if not path.is_file():
        return False
    record = _record(path)
    recorded = record.read_text().split()[0] if record.is_file() and record.stat().st_size else ""
    if recorded and _file_digest(path, "sha256") == recorded:
        return True
    why = ("has no recorded SHA-256 (written by another tool or an older afm)" if not recorded
           else "does not match its recorded SHA-256 (edited or truncated)")
    warnings.warn(f"{path} {why}: rebuilding it from the verified source", RuntimeWarning,
                  stacklevel=3)
    return False


def load_npy(path: Path):
    """A derived ``.npy`` array, never unpickled: one holding Python objects is refused."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise CorruptDataError(f"{path} holds Python objects, not an array, and was not loaded "
                               f"(nothing in it ran). To fix: delete it and its .sha256 record, "
                               f"then load again to rebuild it ({err})") from err
