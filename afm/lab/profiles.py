"""Profiles: how much compute a figure gets.

``AFM_PROFILE`` selects one:

* ``smoke``: seconds per chapter; tiny subsets, one seed. For CI: it proves
  the code runs end to end, not that a claim holds.
* ``book`` (default): what the rendered book shows, within 45 minutes for the
  whole book on a 2-core CPU; every chapter states what it scales down.
* ``paper``: the paper's sizes (full data, more epochs and seeds), for a GPU.
"""

from __future__ import annotations

import os
from typing import TypeVar

PROFILES = ("smoke", "book", "paper")
DEFAULT_PROFILE = "book"
T = TypeVar("T")


def check_profile(name: str) -> str:
    """Return ``name`` if it is a profile, else raise ``ValueError`` listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: valid profiles are {', '.join(PROFILES)} "
                         f"(set AFM_PROFILE to one of them, or leave it unset for "
                         f"{DEFAULT_PROFILE!r})")
    return name


def current_profile() -> str:
    """The profile named by ``AFM_PROFILE`` (default ``book``).

    Returns:
        ``"smoke"``, ``"book"`` or ``"paper"`` (one of ``PROFILES``).

    Raises:
        ValueError: when ``AFM_PROFILE`` names no profile; the message lists the valid ones.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, AFM_PROFILE="smoke"):
        ...     current_profile()
        'smoke'
        >>> with mock.patch.dict(os.environ, AFM_PROFILE=""):  # unset or empty
        ...     current_profile()
        'book'
    """
    return check_profile(os.environ.get("AFM_PROFILE", "").strip() or DEFAULT_PROFILE)


def by_profile(profile: str | None = None, *, smoke: T, book: T, paper: T) -> T:
    """Pick the value for ``profile`` (default: :func:`current_profile`).

    Example:
        >>> by_profile("smoke", smoke=1, book=5, paper=20)
        1
    """
    profile = current_profile() if profile is None else check_profile(profile)
    return {"smoke": smoke, "book": book, "paper": paper}[profile]
