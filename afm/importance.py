"""What the forgetting layer learns: neuron importance Ω."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .device import to_device
from .layer import forgetting_layers


def neuron_importance(model: nn.Module, data: Iterable) -> dict[str, torch.Tensor]:
    """Ω_i = E_x[σ_i(x)]: the mean state of each neural switch over ``data``.

    Args:
        model: a network with :class:`~afm.ForgettingLayer` modules; run in eval mode.
        data: an iterable of ``(x, y)`` batches (a DataLoader, or a list of tuples).

    Returns:
        ``{module name: Ω of shape (N,)}``, one entry per forgetting layer, on the CPU.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2])
        >>> neuron_importance(model, [(torch.randn(5, 4), torch.zeros(5))])["hidden.0.forget"]
        tensor([0.5000, 0.5000, 0.5000])
    """
    layers = list(forgetting_layers(model))
    if not layers:
        raise ValueError(f"{type(model).__name__} has no ForgettingLayer: importance Ω is "
                         f"read from the forgetting layers' switches")
    sums = {name: None for name, _ in layers}
    count = 0
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for x, _ in data:
                model(to_device(x, device))
                for name, layer in layers:
                    s = layer.gate.double().sum(dim=0).cpu()
                    sums[name] = s if sums[name] is None else sums[name] + s
                count += layers[0][1].gate.shape[0]
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("neuron_importance got no batches: data is empty")
    return {name: (s / count).float() for name, s in sums.items()}


def parameter_importance(omega_out: torch.Tensor, omega_in: torch.Tensor | None) -> torch.Tensor:
    """Eq. (2): ``θ_ij = 1 - (1 - Ω_i^l)(1 - Ω_j^(l-1))`` for the weights joining two layers.

    A weight is unimportant only when both neurons it joins are unimportant.

    Args:
        omega_out: ``(N_l,)`` importance of the neurons the weights feed (rows of ``W``).
        omega_in: ``(N_{l-1},)`` importance of the neurons they come from (columns), or
            ``None`` for inputs without a forgetting layer, which count as Ω = 0.

    Returns:
        ``(N_l, N_{l-1})``, the shape of a ``torch.nn.Linear`` weight; with ``omega_in``
        ``None`` the columns are broadcast (shape ``(N_l, 1)``).

    Example:
        >>> parameter_importance(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.5]))
        tensor([[1.0000, 1.0000],
                [0.0000, 0.5000]])
    """
    if omega_out.dim() != 1 or (omega_in is not None and omega_in.dim() != 1):
        raise ValueError("parameter_importance expects 1-D importance vectors (N_l,) and (N_{l-1},)")
    keep_in = torch.ones(1) if omega_in is None else 1 - omega_in
    return 1 - (1 - omega_out)[:, None] * keep_in[None, :]
