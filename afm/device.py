"""Where tensors live: CUDA when present, the CPU otherwise; ``AFM_DEVICE`` overrides."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn


def default_device() -> torch.device:
    """``AFM_DEVICE`` (``cpu``, ``cuda`` or ``cuda:<i>``) if set, else CUDA when available.

    Raises:
        ValueError: when ``AFM_DEVICE`` names another device (``meta``, ``mps``, ``gpu``, ...),
            or CUDA (or its GPU ``i``) is not available here; the message says what to set.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, AFM_DEVICE=" CPU "):
        ...     default_device()
        device(type='cpu')
        >>> with mock.patch.dict(os.environ, AFM_DEVICE="meta"):
        ...     default_device()
        Traceback (most recent call last):
            ...
        ValueError: AFM_DEVICE='meta' is not a device the book runs on: use 'cpu', 'cuda' or 'cuda:<i>' (e.g. cuda:0), or leave it unset (CUDA when present, else the CPU)
    """
    name = os.environ.get("AFM_DEVICE", "").strip().lower()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise ValueError(f"AFM_DEVICE={os.environ['AFM_DEVICE']!r} is not a device the book runs "
                         f"on: use 'cpu', 'cuda' or 'cuda:<i>' (e.g. cuda:0), or leave it unset "
                         f"(CUDA when present, else the CPU)")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"AFM_DEVICE={name!r} but CUDA is not available here: "
                         f"unset AFM_DEVICE or set it to 'cpu'")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"AFM_DEVICE={name!r} but this machine has "
                         f"{torch.cuda.device_count()} GPU(s), numbered from 0: "
                         f"pick one of them, 'cuda', or 'cpu'")
    return device


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    return x.to(device, non_blocking=True)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[torch.device]:
    """``model`` in eval mode inside the block, its train/eval mode restored after (also on error).

    Yields the device of the model's parameters (the CPU for a model without any), where
    the inputs it is run on belong.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
        >>> with evaluating(model) as device:
        ...     model.training, device
        (False, device(type='cpu'))
        >>> model.training
        True
    """
    was_training = model.training
    first = next(model.parameters(), None)
    model.eval()
    try:
        yield first.device if first is not None else torch.device("cpu")
    finally:
        model.train(was_training)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators: same seed, same numbers on the CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
