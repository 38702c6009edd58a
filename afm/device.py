"""Where tensors live: CUDA when present, the CPU otherwise; ``AFM_DEVICE`` overrides."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn


def default_device() -> torch.device:
    """``AFM_DEVICE`` (e.g. ``cpu``, ``cuda``, ``cuda:1``) if set, else CUDA when available."""
    name = os.environ.get("AFM_DEVICE", "").strip()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"AFM_DEVICE={name!r} is not a device name: use 'cpu' or 'cuda'") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"AFM_DEVICE={name!r} but CUDA is not available here: "
                         f"unset AFM_DEVICE or set it to 'cpu'")
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
