"""Where the book keeps what it computes (``AFM_CACHE_DIR`` or ``~/.cache/afm``), and how it writes.

Every file the book writes into it (cache entries, results files, claims) is
written atomically by :func:`atomic_write`: a temporary file beside the target,
then a rename, so a reader never sees half a file. Files get the usual modes
(``0666`` less the umask), so a cache shared by a group stays readable by it.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

#: A temporary file older than this is left over from a killed process and is removed.
ORPHAN_SECONDS = 15 * 60


def cache_dir(create: bool = True) -> Path:
    """The cache folder, ``AFM_CACHE_DIR`` or ``~/.cache/afm``, created on demand.

    Datasets go under ``cache_dir() / "data"``.

    Args:
        create: make the folder if it is missing (``False`` for code that only reads).

    Example::

        cache_dir() / "data"  # AFM_CACHE_DIR/data, or ~/.cache/afm/data
    """
    path = Path(os.environ.get("AFM_CACHE_DIR") or Path.home() / ".cache" / "afm").expanduser()
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise type(err)(err.errno, f"cannot create the cache folder {path} "
                            f"({err.strerror}): set AFM_CACHE_DIR to a folder you can write",
                            str(path)) from err
    return path


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file's mode is ``0666`` less the umask, like any file a program creates.

    Args:
        path: the target; its folder is created if missing.
        data: bytes, or text (written as UTF-8).

    Returns:
        ``path``.

    Raises:
        OSError: when the folder cannot be written; nothing is left behind.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "sub" / "x.json"
        >>> atomic_write(target, '{"a": 1}').read_text(), [p.name for p in target.parent.iterdir()]
        ('{"a": 1}', ['x.json'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    payload = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_orphans(folder: Path, older_than: float = ORPHAN_SECONDS) -> list[Path]:
    """Delete the temporary files (``.*.tmp``) in ``folder`` older than ``older_than`` seconds.

    A process killed while writing leaves its temporary file; a live writer renames its own
    within seconds, so an old one is an orphan. Files that cannot be removed are left.

    Returns:
        The files removed.
    """
    removed, now = [], time.time()
    for tmp in folder.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    return removed


def check_writable(folder: Path, what: str) -> Path:
    """Create ``folder`` and a file in it, or raise ``OSError`` saying which folder and why.

    Args:
        folder: the folder to check.
        what: what it is for, in words (e.g. ``"--out"``), for the message.

    Example:
        >>> import tempfile
        >>> check_writable(Path(tempfile.mkdtemp()) / "new", "--out").is_dir()
        True
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".afm-write-check.{secrets.token_hex(4)}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise type(err)(err.errno, f"{what} {folder} is not writable ({err.strerror})",
                        str(folder)) from None
    return folder
