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
Writes are atomic (a temporary file, then ``os.replace``), so an interrupted
run never leaves a half-written result. ``AFM_RECOMPUTE=1`` ignores the cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from afm.lab.paths import cache_dir

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


def results_dir() -> Path:
    path = cache_dir() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def result_path(kind: str, config: dict[str, Any]) -> Path:
    return results_dir() / kind / f"{config_key(kind, config)}.pt"


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in ``path``'s folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached(kind: str, config: dict[str, Any], compute: Callable[[], T]) -> T:
    """Load the result of ``compute()`` for ``(kind, config)`` from disk, or compute and store it.

    Example:
        >>> cached("demo", {"n": 3}, lambda: {"square": 9})
        {'square': 9}
    """
    path = result_path(kind, config)
    if path.exists() and os.environ.get("AFM_RECOMPUTE", "") != "1":
        try:
            return torch.load(path, weights_only=False)
        except Exception:  # a corrupt entry (e.g. a full disk): recompute it
            path.unlink(missing_ok=True)
    result = compute()
    atomic_save(result, path)
    json_path = path.with_suffix(".json")
    if not json_path.exists():
        json_path.write_text(json.dumps({"kind": kind, "config": config}, sort_keys=True, indent=1))
    return result


def is_cached(kind: str, config: dict[str, Any]) -> bool:
    return result_path(kind, config).exists()
