"""Where the book keeps what it computes: one folder, ``AFM_CACHE_DIR`` or ``~/.cache/afm``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder, ``AFM_CACHE_DIR`` or ``~/.cache/afm``, created on demand.

    Datasets go under ``cache_dir() / "data"``.

    Example::

        cache_dir() / "data"  # AFM_CACHE_DIR/data, or ~/.cache/afm/data
    """
    path = Path(os.environ.get("AFM_CACHE_DIR") or Path.home() / ".cache" / "afm").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
