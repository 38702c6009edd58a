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

from afm.checks import check_strength
from afm.losses import LATERAL_READINGS, forgetting_loss


def _weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight matrices/kernels of every Linear and Conv layer (no biases, no gates)."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def _check_strength(name: str, value: float) -> None:
    check_strength(name, value)  # the same check as afm.forgetting_loss's


@dataclass(frozen=True)
class Forgetting:
    """Eq. (9): ``λ · L_inh + β · L_lat`` over every forgetting layer (ERS and IRS).

    Calling it on a model reads the ``gate`` σ ``(B, N)`` and ``excitation`` h ``(B, N)``
    that each forgetting layer kept from the last forward pass, and returns a scalar tensor
    (shape ``()``) to add to the task loss.

    Args:
        lam: ``λ >= 0``, the strength of the inhibition loss (ERS, Eq. 6).
        beta: ``β >= 0``, the strength of the lateral inhibition loss (IRS, Eq. 8).
        reading: how Eq. (8) is read: ``"asymmetric"`` (the default) or ``"symmetric"``.
        name: the regulariser's name in the training history.

    Example:
        >>> from afm import ForgettingLayer
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), ForgettingLayer(4))
        >>> _ = model(torch.randn(8, 3))
        >>> reg = Forgetting(lam=1.0)
        >>> reg.name, reg(model).item()  # every switch is half open before learning
        ('forgetting', 0.5)
    """

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
    """``strength · Σ |w|`` over the weights of every Linear and Conv layer.

    Biases and the gates of forgetting layers are not penalised. Calling it on a model
    returns a scalar tensor (shape ``()``).

    Args:
        strength: the coefficient, ``>= 0``.
        name: the regulariser's name in the training history.

    Example:
        >>> layer = torch.nn.Linear(2, 2)
        >>> _ = torch.nn.init.constant_(layer.weight, -0.5)
        >>> round(L1(0.1)(layer).item(), 6)  # 0.1 · 4 · 0.5
        0.2
    """

    strength: float
    name: str = "l1"

    def __post_init__(self) -> None:
        _check_strength("L1", self.strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return self.strength * sum(w.abs().sum() for w in _weights(model))


@dataclass(frozen=True)
class L2:
    """``strength/2 · Σ w²`` over the weights of every Linear and Conv layer (weight decay).

    Biases and the gates of forgetting layers are not penalised. Calling it on a model
    returns a scalar tensor (shape ``()``).

    Args:
        strength: the coefficient, ``>= 0``.
        name: the regulariser's name in the training history.

    Example:
        >>> layer = torch.nn.Linear(2, 2)
        >>> _ = torch.nn.init.constant_(layer.weight, -0.5)
        >>> round(L2(0.1)(layer).item(), 6)  # 0.1 / 2 · 4 · 0.25
        0.05
    """

    strength: float
    name: str = "l2"

    def __post_init__(self) -> None:
        _check_strength("L2", self.strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return 0.5 * self.strength * sum((w * w).sum() for w in _weights(model))
