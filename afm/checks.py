"""Checks at the boundary of afm's core: a bad argument gets an error that says what was wrong
and how to fix it, before any computation starts.

Each ``check_*`` names the argument, what it must be, and what it got. Two policies:

* **Types are strict.** ``True`` is not a width and ``"no"`` is not ``False``; a float is not
  an epoch count. Wrong types raise ``TypeError``, wrong values ``ValueError``.
* **NumPy arrays are not converted** where a tensor is expected: their float64 dtype would
  silently change the numbers. They raise a ``TypeError`` that names the fix
  (``torch.from_numpy(a).float()``).

Data given to the measuring functions (:func:`afm.neuron_importance`,
:func:`afm.capture_activations`) may take the forms :func:`as_batches` lists.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

#: How many samples :func:`as_batches` puts in one batch of a ``TensorDataset`` or ``(x, y)``.
BATCH = 1000


def _kind(value: Any) -> str:
    return "numpy.ndarray" if isinstance(value, np.ndarray) else type(value).__name__


def check_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` itself if it is a ``torch.Tensor``, else a ``TypeError`` naming ``name``.

    Example:
        >>> check_tensor(np.zeros(3), "activations")
        Traceback (most recent call last):
            ...
        TypeError: activations must be a torch.Tensor, got a numpy.ndarray: convert it with torch.from_numpy(a).float()
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor, got a numpy.ndarray: convert it with "
                        f"torch.from_numpy(a).float()")
    raise TypeError(f"{name} must be a torch.Tensor, got {_kind(value)} {value!r:.60}")


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an ``int``: an integer (not a bool, not a float) ``>= minimum``.

    Example:
        >>> check_int(3, "epochs", 0)
        3
        >>> check_int(1.5, "epochs", 0)
        Traceback (most recent call last):
            ...
        TypeError: epochs must be an integer, got float 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_kind(value)} {value!r:.60}")
    if minimum is not None and value < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_real(value: Any, name: str, *, positive: bool = False, nonnegative: bool = False,
               what: str = "") -> float:
    """``value`` as a finite ``float`` (not a bool, not NaN or ±inf), ``> 0`` or ``>= 0`` if asked.

    Example:
        >>> check_real(0.5, "lr", positive=True)
        0.5
        >>> check_real(float("inf"), "rho", positive=True, what="the steepness ρ of Eq. 4")
        Traceback (most recent call last):
            ...
        ValueError: rho must be > 0 and finite (the steepness ρ of Eq. 4), got inf
    """
    bound = "> 0 and finite" if positive else ">= 0 and finite" if nonnegative else "finite"
    about = f" ({what})" if what else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a finite number" if bound == "finite" else f"a number {bound}"
        raise TypeError(f"{name} must be {kind}{about}, got {_kind(value)} {value!r:.60}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0) or (nonnegative and value < 0):
        raise ValueError(f"{name} must be {bound}{about}, got {value!r}")
    return value


def check_bool(value: Any, name: str, meaning: str = "") -> bool:
    """``value`` itself if it is ``True`` or ``False`` (NumPy's bool too), else a ``TypeError``.

    Strings such as ``"no"`` are rejected: they are truthy, so they would mean ``True``.

    Example:
        >>> check_bool("no", "shortcut")
        Traceback (most recent call last):
            ...
        TypeError: shortcut must be True or False, got str 'no'
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    about = f" ({meaning})" if meaning else ""
    raise TypeError(f"{name} must be True or False{about}, got {_kind(value)} {value!r:.60}")


def check_strength(name: str, value: Any) -> float:
    """A regulariser's strength (λ, β, an L1/L2 coefficient): a finite number ``>= 0``.

    One check for :class:`afm.Forgetting`, :func:`afm.forgetting_loss`, :class:`afm.L1` and
    :class:`afm.L2`.

    Example:
        >>> check_strength("lam", -1)
        Traceback (most recent call last):
            ...
        ValueError: lam strength must be >= 0 and finite, got -1.0
    """
    return check_real(value, f"{name} strength", nonnegative=True)


def check_inputs_finite(x: torch.Tensor, name: str = "inputs") -> None:
    """A ``ValueError`` when the float tensor ``x`` holds NaN or ±inf, counting each.

    Example:
        >>> check_inputs_finite(torch.tensor([1.0, float("inf")]), "x")
        Traceback (most recent call last):
            ...
        ValueError: x contain non-finite values (0 NaN, 1 ±inf): the data are at fault, not the training; clean or clip them first
    """
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        nan = int(torch.isnan(x).sum())
        inf = int(torch.isinf(x).sum())
        raise ValueError(f"{name} contain non-finite values ({nan} NaN, {inf} ±inf): the data "
                         f"are at fault, not the training; clean or clip them first")


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (0-255) as float32 in [0, 1], the numbers ``images.float() / 255`` gives;
    float tensors unchanged. Datasets kept as uint8 (CIFAR-10) are converted per batch with it.

    Example:
        >>> to_float(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([0.0000, 0.2000, 1.0000])
    """
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def stored_tensors(data: TensorDataset) -> tuple[torch.Tensor, ...]:
    """The tensors of ``data`` as held in memory: for :class:`afm.data.ByteImages`, uint8 images
    (to be passed through :func:`to_float` per batch); for any other ``TensorDataset``, ``.tensors``.

    Example:
        >>> stored_tensors(TensorDataset(torch.zeros(2, 1)))[0].shape
        torch.Size([2, 1])
    """
    stored = getattr(data, "stored_tensors", None)
    return stored if stored is not None else data.tensors


def _is_pair(data: Any) -> bool:  # a tuple: a list is a list of batches
    return (isinstance(data, tuple) and len(data) == 2
            and isinstance(data[0], torch.Tensor)
            and (data[1] is None or isinstance(data[1], torch.Tensor)))


def _slices(x: torch.Tensor, y: torch.Tensor | None,
            scale: bool = False) -> Iterator[tuple[torch.Tensor, Any]]:
    for start in range(0, x.shape[0], BATCH):
        xb = x[start:start + BATCH]
        yield to_float(xb) if scale else xb, None if y is None else y[start:start + BATCH]


def _checked(data: Iterable, what: str) -> Iterator[tuple[torch.Tensor, Any]]:
    for i, batch in enumerate(data):
        if isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 2:
            x = batch[0]
            if isinstance(x, torch.Tensor):
                yield x, (batch[1] if len(batch) == 2 else None)
                continue
            if isinstance(x, np.ndarray):
                check_tensor(x, f"{what}: the inputs x of batch {i}")
        raise TypeError(f"{what}: batch {i} must be a pair (x, y) (or (x,)) with x a "
                        f"torch.Tensor, got {_kind(batch)}"
                        + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
                        + "; pass a DataLoader, a TensorDataset, an (x, y) pair or a list of "
                          "(x, y) batches")


def as_batches(data: Any, what: str = "data") -> Iterable[tuple[torch.Tensor, Any]]:
    """The data forms the measuring functions accept, as an iterable of ``(x, y)`` batches.

    Accepted: a ``DataLoader`` (or any iterable) of ``(x, y)`` or ``(x,)`` batches; a list of
    such batches; a ``TensorDataset(x[, y])`` or a pair ``(x, y)`` of tensors (``y`` may be
    ``None``), cut into batches of :data:`BATCH` samples. Anything else (a bare tensor, a
    NumPy array, a dict) is a ``TypeError`` saying which forms work.

    Example:
        >>> x = torch.zeros(2500, 4)
        >>> [b.shape[0] for b, _ in as_batches((x, None))]
        [1000, 1000, 500]
        >>> as_batches(x, "neuron_importance")
        Traceback (most recent call last):
            ...
        TypeError: neuron_importance: data is a bare Tensor; pass a DataLoader, a TensorDataset, an (x, y) pair or a list of (x, y) batches (e.g. [(x, None)])
    """
    if isinstance(data, TensorDataset):
        tensors = stored_tensors(data)
        y = tensors[1] if len(tensors) > 1 else None
        scale = getattr(data, "stored_tensors", None) is not None  # uint8 images
        return list(_slices(tensors[0], y, scale))
    if _is_pair(data):
        check_same_length(data[0], data[1], what)
        return list(_slices(data[0], data[1]))
    if isinstance(data, (torch.Tensor, np.ndarray, dict, str, bytes)) or not isinstance(
            data, (Iterable, DataLoader)):
        kind = "bare Tensor" if isinstance(data, torch.Tensor) else _kind(data)
        raise TypeError(f"{what}: data is a {kind}; pass a DataLoader, a TensorDataset, an "
                        f"(x, y) pair or a list of (x, y) batches (e.g. [(x, None)])")
    return _checked(data, what)


def check_same_length(x: torch.Tensor, y: torch.Tensor | None, what: str = "data") -> None:
    """A ``ValueError`` unless ``x`` and ``y`` have as many rows (``y`` ``None`` passes).

    Example:
        >>> check_same_length(torch.zeros(3, 2), torch.zeros(2))
        Traceback (most recent call last):
            ...
        ValueError: data: x and y differ in length: 3 vs 2
    """
    if y is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"{what}: x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
