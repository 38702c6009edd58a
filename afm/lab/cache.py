"""An on-disk result cache keyed on an experiment's configuration and on ``afm``'s source.

Jupyter's own cache does not notice changes in ``afm``; this one does: the key
is a SHA-256 of the JSON configuration *and* of the code of every ``.py`` file
of the package, so editing the training loop recomputes every result, while
re-executing a chapter with unchanged code loads results in milliseconds.
"The code" is each module's syntax tree without its docstrings (comments and
layout are not in the tree), so mending a docstring or a comment keeps the
results; the book's Jupyter cache is keyed on the full text instead
(``source_hash(code_only=False)``, see the Makefile), so the chapters, which
show afm's source, are re-executed (from cached results) when any text changes.

What it guarantees:

* **Loading an entry never runs code.** Entries are data (JSON and safetensors,
  :mod:`afm.lab.codec`), never pickles; any other file at an entry's path (an old
  pickle, a planted one) is rejected with a warning and recomputed.
* **A changed entry is never used.** Each entry carries the SHA-256 of its
  content, checked before use; on a mismatch the entry is recomputed, with one
  warning naming the file. Only such invalid entries are ever deleted; an entry
  that cannot be *read* (permissions, I/O) raises ``OSError`` naming it.
* **Work is done once.** Writes are atomic (a temporary file, then a rename);
  a per-entry lock makes a concurrent run of the same computation wait and load
  it; ``AFM_RECOMPUTE=1`` recomputes each entry at most once per run, not once per
  call. Temporary files left by killed processes are removed.
* **A read-only cache still works**: results are computed, used and returned,
  with a warning that they could not be saved.

Anyone who can *write* the cache folder can change the numbers it serves (though
not run code), so a shared ``AFM_CACHE_DIR`` needs write access control.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from afm import env
from afm.lab import codec
from afm.lab.paths import atomic_write, cache_dir, remove_orphans

T = TypeVar("T")
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of every module, class and function removed."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


def tree_hash(root: Path, code_only: bool = True) -> str:
    """SHA-256 over the relative path and content of every ``.py`` file under ``root``.

    ``code_only``: hash each file's syntax tree without docstrings (``ast.dump``:
    no comments, no layout), so that only a change of code changes the hash;
    otherwise hash the bytes.

    Args:
        root: the folder whose ``.py`` files (recursively, in sorted order) are hashed.
        code_only: hash the code only (``True``) or the full text (``False``).

    Returns:
        The hex digest, 64 characters.

    Example:
        >>> import tempfile
        >>> old, new = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        >>> _ = (old / "m.py").write_text("'Old docstring.'; x = 1")
        >>> _ = (new / "m.py").write_text("'New docstring.'; x = 1  # and a comment")
        >>> len(tree_hash(old)), tree_hash(old) == tree_hash(new)
        (64, True)
        >>> tree_hash(old, code_only=False) == tree_hash(new, code_only=False)
        False
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        text = path.read_bytes()
        if code_only:
            text = ast.dump(_without_docstrings(ast.parse(text, filename=str(path)))).encode()
        digest.update(text)
    return digest.hexdigest()


@functools.lru_cache(maxsize=2)
def source_hash(code_only: bool = True) -> str:
    """The hash of ``afm``'s code (:func:`afm.lab.cache.tree_hash` of the package): the results' cache key.

    ``code_only=False`` hashes the full text (docstrings and comments too): the
    key of the book's Jupyter cache. Computed once per process.

    Args:
        code_only: hash the code only (``True``, the results' key) or the full text.

    Returns:
        The hex digest, 64 characters.

    Example:
        >>> len(source_hash()), source_hash() == tree_hash(PACKAGE_DIR)
        (64, True)
    """
    return tree_hash(PACKAGE_DIR, code_only)


def config_key(kind: str, config: dict[str, Any]) -> str:
    """The cache key of one result: ``kind``, the canonical JSON of ``config``, the source hash."""
    try:
        text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    except TypeError as err:
        raise TypeError(f"cache config for {kind!r} must be JSON-serialisable: {err}") from err
    return hashlib.sha256(f"{kind}\n{text}\n{source_hash()}".encode()).hexdigest()[:32]


SUFFIX = ".afm"
_MISSING = object()
_warned: set[str] = set()
_cleaned: set[Path] = set()
_unsaved: dict[Path, bytes] = {}  # results a read-only cache could not keep, for this process
_since: float | None = None  # when this process's AFM_RECOMPUTE run started


class CacheWarning(UserWarning):
    """A cache entry was rejected (and recomputed) or a result could not be saved."""


def results_dir(create: bool = True) -> Path:
    """``<AFM_CACHE_DIR>/results``; ``create=False`` for code that only reads."""
    path = cache_dir(create) / "results"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def result_path(kind: str, config: dict[str, Any]) -> Path:
    """The entry of ``(kind, config)``: ``<AFM_CACHE_DIR>/results/<kind>/<key>.afm``."""
    return results_dir(create=False) / kind / f"{config_key(kind, config)}{SUFFIX}"


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, CacheWarning, stacklevel=3)


def recompute_since() -> float | None:
    """With ``AFM_RECOMPUTE`` on: when this run started; entries written before it are stale.

    A run starts when this process first sees ``AFM_RECOMPUTE`` on (and again after it was
    seen off). :func:`afm.lab.sweep.run_many` passes the time to its workers as
    ``AFM_RECOMPUTE_SINCE``, so an entry that one worker recomputed is loaded, not
    recomputed, by the others and by the client.
    """
    global _since
    if not env.recompute():
        _since = None
        return None
    given = os.environ.get("AFM_RECOMPUTE_SINCE", "").strip()
    if given:
        try:
            return float(given)
        except ValueError:
            raise ValueError(f"AFM_RECOMPUTE_SINCE={given!r} is not a time (seconds since "
                             f"the epoch); unset it") from None
    if _since is None:
        _since = time.time()
    return _since


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise type(err)(err.errno, f"cannot read the cache entry {path} ({err.strerror}): fix "
                        f"its permissions, or point AFM_CACHE_DIR elsewhere", str(path)) from err


def _valid_header(path: Path, data: bytes | None) -> dict | None:
    """The checked header of ``data``, or ``None`` (missing, stale, or invalid: then warn, delete)."""
    if data is None:
        return None
    try:
        head = codec.header(data)
    except codec.EntryError as err:
        _reject(path, err)
        return None
    return None if _stale(head) else head


def _stale(head: dict) -> bool:
    """With ``AFM_RECOMPUTE``: whether the entry was written before this run started."""
    since = recompute_since()
    if since is None:
        return False
    try:
        return float(head.get("created", 0)) < since
    except (TypeError, ValueError):
        return True


def _reject(path: Path, err: Exception) -> None:
    _warn_once(f"{path}: {err}", f"rejected the cache entry {path}: it {err}. The result is "
                          f"recomputed; nothing in the file was used or run.")
    with contextlib.suppress(OSError):
        path.unlink()


def _load(path: Path) -> Any:
    data = _read(path)
    head = _valid_header(path, data)
    if head is None:
        return _MISSING
    try:
        return codec.loads(data, head)
    except codec.EntryError as err:
        _reject(path, err)
        return _MISSING


@contextlib.contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s entry (``<key>.lock``, ``fcntl.flock``) while inside.

    A second process computing the same entry waits here, then loads what the first
    one saved. No lock where the folder cannot be written (nothing will be saved
    there) or the platform has no ``fcntl``.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = path.with_suffix(".lock")
    fd = None
    with contextlib.suppress(OSError):
        lock.parent.mkdir(parents=True, exist_ok=True)
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            fd = os.open(lock, flags, 0o666)
            break
        except OSError:
            continue
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _save(kind: str, config: dict[str, Any], path: Path, data: bytes) -> None:
    try:
        atomic_write(path, data)
        sidecar = path.with_suffix(".json")
        if not sidecar.exists():
            atomic_write(sidecar, json.dumps({"kind": kind, "config": config}, sort_keys=True,
                                             indent=1))
    except OSError as err:
        _unsaved[path] = data
        _warn_once(f"save:{path.parent}", f"could not save a result to the cache ({err}); it is "
                   f"used now, but another process will compute it again: make "
                   f"AFM_CACHE_DIR={cache_dir(create=False)} writable, or point it elsewhere")
        return
    _unsaved.pop(path, None)
    if path.parent not in _cleaned:
        _cleaned.add(path.parent)
        remove_orphans(path.parent)


def cached(kind: str, config: dict[str, Any], compute: Callable[[], T]) -> T:
    """Load the result of ``compute()`` for ``(kind, config)`` from disk, or compute and store it.

    The result is returned as stored (decoded from the entry just written), so a
    computed result and a loaded one are the same objects (CPU tensors, same dtypes).

    Args:
        kind: a family of results (a folder of the cache), e.g. ``"run"``.
        config: everything that determines the result, as JSON-able values (part of the key).
        compute: makes the result: plain data, tensors, arrays and afm's result dataclasses
            (:data:`afm.lab.codec.ALLOWED`).

    Raises:
        OSError: when an existing entry cannot be read (it names the file; nothing is deleted).
        TypeError: when ``config`` is not JSON, or the result holds a type the cache does not store.

    Example:
        >>> cached("demo", {"n": 3}, lambda: {"square": 9})
        {'square': 9}
    """
    path = result_path(kind, config)
    value = _load(path)
    if value is not _MISSING:
        return value
    if path in _unsaved:
        return codec.loads(_unsaved[path])
    with entry_lock(path):
        value = _load(path)  # another process may have computed it while this one waited
        if value is not _MISSING:
            return value
        data = codec.dumps(compute(), created=time.time())
        _save(kind, config, path, data)
    return codec.loads(data)


def is_cached(kind: str, config: dict[str, Any]) -> bool:
    """Whether ``(kind, config)`` has a valid entry (right format and checksum, not stale)."""
    path = result_path(kind, config)
    if path in _unsaved:
        return True
    try:
        data = path.read_bytes()
    except OSError:
        return False
    try:
        head = codec.header(data)
    except codec.EntryError:
        return False
    return not _stale(head)
