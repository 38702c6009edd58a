"""The ``AFM_*`` settings read from the environment, parsed strictly.

Every on/off setting (``AFM_OFFLINE``, ``AFM_RECOMPUTE``, ``AFM_PROGRESS``)
goes through :func:`env_flag`: ``1/0``, ``true/false``, ``yes/no``, ``on/off``
in any case; unset or empty means the default; anything else is an error that
names the variable, so a typo such as ``AFM_OFFLINE=y`` never silently means
"online".
"""

from __future__ import annotations

import os

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def parse_flag(name: str, value: str | None, default: bool = False) -> bool:
    """``value`` of the environment variable ``name`` as a boolean.

    Args:
        name: the variable, for the error message.
        value: its text (``None`` or blank: ``default``).
        default: the value when unset or empty.

    Raises:
        ValueError: for any other text; the message names ``name`` and the accepted values.

    Example:
        >>> parse_flag("AFM_OFFLINE", "Yes"), parse_flag("AFM_OFFLINE", " off "), parse_flag("AFM_OFFLINE", "")
        (True, False, False)
        >>> parse_flag("AFM_OFFLINE", "maybe")
        Traceback (most recent call last):
            ...
        ValueError: AFM_OFFLINE='maybe' is not an on/off value: use 1/0, true/false, yes/no or on/off (any case), or leave it unset for the default (off)
    """
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not an on/off value: use 1/0, true/false, yes/no or "
                     f"on/off (any case), or leave it unset for the default "
                     f"({'on' if default else 'off'})")


def env_flag(name: str, default: bool = False) -> bool:
    """The on/off setting ``name`` (e.g. ``"AFM_OFFLINE"``), parsed by ``parse_flag``.

    ``1/0``, ``true/false``, ``yes/no``, ``on/off`` in any case; unset or empty is ``default``.

    Raises:
        ValueError: for any other value, naming the variable and the accepted values.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, AFM_RECOMPUTE="TRUE"):
        ...     env_flag("AFM_RECOMPUTE")
        True
    """
    return parse_flag(name, os.environ.get(name), default)


def offline() -> bool:
    """``AFM_OFFLINE``: never download (default off)."""
    return env_flag("AFM_OFFLINE")


def recompute() -> bool:
    """``AFM_RECOMPUTE``: ignore results cached before this run (default off)."""
    return env_flag("AFM_RECOMPUTE")


def progress() -> bool:
    """``AFM_PROGRESS``: show progress bars (default on)."""
    return env_flag("AFM_PROGRESS", default=True)

