"""Regularisers: the forgetting losses and the baselines' penalties, behind one interface.

A regulariser is any callable ``reg(model) -> scalar tensor`` called by
:func:`afm.train.train` right after the forward pass of each batch, and added
to the task loss. It reads what it needs from the model (weights, or the gates
each :class:`~afm.ForgettingLayer` kept from that forward). Each has a ``name``
for the training history.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .losses import LATERAL_READINGS, forgetting_loss


def _weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight matrices/kernels of every Linear and Conv layer (no biases, no gates)."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def _check_strength(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} strength must be >= 0, got {value!r}")


@dataclass(frozen=True)
class Forgetting:
    """Eq. (9): ``λ · L_inh + β · L_lat`` over every forgetting layer (ERS and IRS)."""

    lam: float
    beta: float = 0.0
    reading: str = "asymmetric"
    name: str = "forgetting"

    def __post_init__(self) -> None:
        _check_strength("lam", self.lam)
        _check_strength("beta", self.beta)
        if self.reading not in LATERAL_READINGS:
            raise ValueError(f"unknown reading {self.reading!r}: expected one of {LATERAL_READINGS}")

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return forgetting_loss(model, self.lam, self.beta, self.reading)


@dataclass(frozen=True)
class L1:
    """``strength · Σ |w|`` over the weights of every Linear and Conv layer."""

    strength: float
    name: str = "l1"

    def __post_init__(self) -> None:
        _check_strength("L1", self.strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return self.strength * sum(w.abs().sum() for w in _weights(model))


@dataclass(frozen=True)
class L2:
    """``strength/2 · Σ w²`` over the weights of every Linear and Conv layer (weight decay)."""

    strength: float
    name: str = "l2"

    def __post_init__(self) -> None:
        _check_strength("L2", self.strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return 0.5 * self.strength * sum((w * w).sum() for w in _weights(model))
