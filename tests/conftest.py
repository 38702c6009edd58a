"""The tests' data policy: where the real data are, and what a missing folder means.

The real-data tests read ``AFM_DATA_DIR`` (a folder laid out like ``shared/data``: ``mnist/``,
``cifar10-jpeg/``); without it, the ``shared/data`` folder beside the checkout. When a folder
they need is missing they are skipped, with the reason, unless ``AFM_OFFLINE`` is set (as in
CI, where the data must be there): then they FAIL, so that CI can never skip them silently.
Both variables are read once, when the tests start: tests that set them for themselves
(``monkeypatch.setenv``) do not change the policy.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_SET = bool(os.environ.get("AFM_DATA_DIR"))
REAL_DATA = Path(os.environ.get("AFM_DATA_DIR") or ROOT.parent / "shared" / "data").expanduser()
MUST_HAVE_DATA = os.environ.get("AFM_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def require_real_data(*folders: str) -> Path:
    """``REAL_DATA`` if it holds every one of ``folders``; else skip, or fail when offline."""
    missing = [f for f in folders if not (REAL_DATA / f).is_dir()]
    if missing:
        where = ("AFM_DATA_DIR" if DATA_DIR_SET
                 else "AFM_DATA_DIR is not set, so the default")
        message = (f"real-data test: {where} {REAL_DATA} has no {', '.join(missing)}/ folder; "
                   f"set AFM_DATA_DIR to a folder laid out like shared/data")
        if MUST_HAVE_DATA:
            pytest.fail(message + " (AFM_OFFLINE is set, so missing data is a failure, "
                        "not a skip)", pytrace=False)
        pytest.skip(message)
    return REAL_DATA


@pytest.fixture
def real_mnist() -> Path:
    """The real data folder with ``mnist/`` (skip or fail as the module docstring says)."""
    return require_real_data("mnist")


@pytest.fixture
def real_cifar() -> Path:
    """The real data folder with ``cifar10-jpeg/`` (skip or fail as the module docstring says)."""
    return require_real_data("cifar10-jpeg")
