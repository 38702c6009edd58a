"""The regulation strategies of the forgetting layer, Eq. (6)-(9).

* ERS, the *external* regulation strategy: the inhibition loss, Eq. (6).
* IRS, the *internal* regulation strategy: the lateral-inhibition loss, Eq. (8).
* Eq. (9): ``L = L_task + λ · L_inh + β · L_lat``; :func:`forgetting_loss`
  returns the last two terms for every forgetting layer of a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from afm.checks import check_strength, check_tensor
from afm.layer import forgetting_layers

#: Readings of Eq. (8): the paper's asymmetric ``(1-σ_i) σ_j`` and the symmetric ``1 - σ_i σ_j``.
LATERAL_READINGS = ("asymmetric", "symmetric")


def _check_pairs(excitations: Sequence[torch.Tensor], gates: Sequence[torch.Tensor]) -> None:
    if len(excitations) != len(gates):
        raise ValueError(f"need one excitation tensor per gate tensor, got "
                         f"{len(excitations)} excitations and {len(gates)} gates")
    for l, (h, s) in enumerate(zip(excitations, gates)):
        check_tensor(h, f"excitation {l}")
        if h.shape != s.shape or h.dim() != 2:
            raise ValueError(f"layer {l}: excitation and gate must both be (B, N_l), got "
                             f"{tuple(h.shape)} and {tuple(s.shape)}")


def _check_gates(gates: Sequence[torch.Tensor]) -> None:
    if isinstance(gates, torch.Tensor):
        raise TypeError("gates must be a sequence of (B, N_l) tensors, one per layer, got a "
                        "bare tensor: wrap it in a list, [gate]")
    if len(gates) == 0:
        raise ValueError("need at least one (B, N_l) gate tensor, got an empty sequence")
    first = check_tensor(gates[0], "gate 0")
    batch = first.shape[0] if first.dim() == 2 else None
    for l, s in enumerate(gates):
        check_tensor(s, f"gate {l}")
        if s.dim() != 2 or s.shape[0] != batch:
            raise ValueError(f"gate {l}: expected shape (B={batch}, N_l), got {tuple(s.shape)}")
        _check_switches(l, s)


def _check_switches(l: int, s: torch.Tensor) -> None:
    """σ of layer ``l``: a non-empty batch, at least one neuron, every value in [0, 1]."""
    if s.shape[0] == 0:
        raise ValueError(f"gate {l}: empty batch (B = 0): the losses are means over samples; "
                         f"drop empty batches")
    if s.shape[1] == 0:
        raise ValueError(f"gate {l}: zero-width layer (N = 0): a forgetting layer needs at "
                         f"least one neuron")
    low, high = torch.stack(torch.aminmax(s.detach())).tolist()  # one sync
    if math.isnan(low) or math.isnan(high):
        raise FloatingPointError(f"gate {l}: σ contains NaN: the forward pass produced "
                                 f"non-finite switches (check the inputs; in training, lower "
                                 f"the learning rate)")
    if low < 0 or high > 1:
        raise ValueError(f"gate {l}: σ must lie in [0, 1] (the switches of Eq. 4 are sigmoids), "
                         f"got values in [{low:g}, {high:g}]")


def _check_lateral(excitations: Sequence[torch.Tensor], gates: Sequence[torch.Tensor],
                   reading: str) -> None:
    """The input checks of Eq. (8): a known ``reading``, gates and excitations paired (B, N_l)."""
    if reading not in LATERAL_READINGS:
        raise ValueError(f"unknown reading {reading!r}: expected one of {LATERAL_READINGS}")
    _check_gates(gates)
    _check_pairs(excitations, gates)


def inhibition_loss(gates: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. (6), ERS: ``Σ_l Σ_i (1-σ_il) σ_il / Σ_l Σ_i (1-σ_il)``, per sample, mean over the batch.

    The ratio is the mean of σ weighted by ``1-σ``; minimising it closes the
    switches. Where every switch is fully open (σ = 1, the denominator is 0)
    the value is the limit, 1, so the loss is finite for every σ in [0, 1].
    :func:`afm.losses.inhibition_reference` is the same equation written plainly; this
    call runs a fused version of it (``_Inhibition``, equal in value and gradient).

    Args:
        gates: one ``(B, N_l)`` tensor of σ per forgetting layer.

    Returns:
        A scalar tensor in [0, 1].

    Example:
        >>> float(inhibition_loss([torch.tensor([[0.5, 0.5]])]))
        0.5
    """
    _check_gates(gates)
    return _Inhibition.apply(torch.cat(list(gates), dim=1))


def inhibition_reference(gates: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. (6) as written, with plain autograd: what :func:`afm.inhibition_loss` computes, fused.

    Args:
        gates: one ``(B, N_l)`` tensor of σ per forgetting layer.

    Returns:
        A scalar tensor in [0, 1].

    Example:
        >>> s = torch.tensor([[0.2, 0.6], [1.0, 1.0]])  # the second sample: every switch open
        >>> round(float(inhibition_reference([s])), 4)  # ((.16 + .24) / 1.2 + 1) / 2
        0.6667
    """
    _check_gates(gates)
    s = torch.cat(list(gates), dim=1)  # (B, Σ_l N_l): every layer's switches side by side
    u = 1 - s
    # L_inh = Σ_i (1 - σ_i) σ_i / Σ_i (1 - σ_i), per sample
    numerator, denominator = (u * s).sum(1), u.sum(1)
    # Every switch fully open: 0/0, whose limit is 1 (a weighted mean of σ = 1)
    open_everywhere = denominator <= 0
    ratio = numerator / torch.where(open_everywhere, torch.ones_like(denominator), denominator)
    ratio = torch.where(open_everywhere, torch.ones_like(ratio), ratio)
    # the mean over the batch
    return ratio.mean()


class _Inhibition(torch.autograd.Function):
    """Eq. (6) on the switches of all layers side by side, ``(B, Σ N_l)``, with its gradient
    written out (fewer kernels than autograd's): ``∂L/∂σ_i = (1 - 2σ_i + L) / Σ_k (1-σ_k)``.

    Equal to :func:`inhibition_reference` up to float rounding; the backward pass works in
    place, in one buffer, with the same floats as out of place (``tests/test_step_identity.py``
    holds every step's numbers to those of the code before its overhead was cut, bit for bit)."""

    @staticmethod
    def forward(ctx, s: torch.Tensor) -> torch.Tensor:
        u = 1 - s
        numerator, denominator = (u * s).sum(1), u.sum(1)
        open_everywhere = denominator <= 0
        safe = denominator.masked_fill(open_everywhere, 1.0)
        ratio = (numerator / safe).masked_fill_(open_everywhere, 1.0)
        ctx.save_for_backward(s, ratio, safe, open_everywhere)
        return ratio.mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        s, ratio, safe, open_everywhere = ctx.saved_tensors
        coef = (grad / (s.shape[0] * safe)).masked_fill_(open_everywhere, 0.0)
        # (1 - 2σ + L) · coef, written -2σ + 1 (the same float: a - b is a + (-b))
        return torch.mul(s, -2).add_(1).add_(ratio[:, None]).mul_(coef[:, None])


class _Lateral(torch.autograd.Function):
    """Eq. (8) per sample, summed over layers, ``(h_1..h_L, σ_1..σ_L) -> (B,)``, in O(N) per
    layer, with its gradient written out: for ``a = h ⊙ (1-σ)``, ``b = h ⊙ σ``,
    ``∂L/∂a_i = Σb - b_i``, ``∂L/∂b_j = Σa - a_j``. One autograd node for all layers; the
    backward pass works in place (the same floats as out of place)."""

    @staticmethod
    def forward(ctx, *hs_and_ss: torch.Tensor) -> torch.Tensor:
        n = len(hs_and_ss) // 2
        total, saved = 0, []
        for h, s in zip(hs_and_ss[:n], hs_and_ss[n:]):
            b = h * s
            a = h - b
            sum_a, sum_b = a.sum(1, keepdim=True), b.sum(1, keepdim=True)
            saved += [h, s, a, b, sum_a, sum_b]
            total = total + ((sum_a * sum_b).squeeze(1) - (a * b).sum(1))
        ctx.save_for_backward(*saved)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        saved, g = ctx.saved_tensors, grad[:, None]
        grads_h, grads_s = [], []
        for i in range(0, len(saved), 6):
            h, s, a, b, sum_a, sum_b = saved[i:i + 6]
            grad_a = (sum_b - b).mul_(g)
            d = (sum_a - a).mul_(g).sub_(grad_a)  # ∂L/∂b - ∂L/∂a
            grads_s.append(d * h)                   # ∂a/∂σ = -h, ∂b/∂σ = h
            grads_h.append(d.mul_(s).add_(grad_a))  # ∂a/∂h = 1-σ, ∂b/∂h = σ
        return (*grads_h, *grads_s)


def lateral_inhibition_loss(excitations: Sequence[torch.Tensor], gates: Sequence[torch.Tensor],
                            reading: str = "asymmetric") -> torch.Tensor:
    """Eq. (8), IRS: ``Σ_l Σ_i Σ_{j≠i} h_il h_jl (1-σ_il) σ_jl``, per sample, mean over the batch.

    Computed in O(N) per sample with ``a = h ⊙ (1-σ)``, ``b = h ⊙ σ``:
    ``Σ_{i≠j} a_i b_j = (Σ_i a_i)(Σ_j b_j) - Σ_i a_i b_i``.

    ``reading="symmetric"`` uses ``1 - σ_i σ_j`` instead of ``(1-σ_i) σ_j``
    (the alternative discussed in "Reading the equations"), also in O(N):
    ``[(Σh)² - Σh²] - [(Σhσ)² - Σ(hσ)²]``. :func:`afm.losses.lateral_reference` is the
    double sum as written, in O(N²); this call is equal to it in value and gradient.

    Args:
        excitations: one ``(B, N_l)`` tensor of ``h`` per forgetting layer.
        gates: one ``(B, N_l)`` tensor of σ per forgetting layer.
        reading: ``"asymmetric"`` (the paper's Eq. 8, default) or ``"symmetric"``.

    Returns:
        A scalar tensor.

    Example:
        >>> h, s = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, 0.5]])
        >>> float(lateral_inhibition_loss([h], [s]))  # 2 · (1·2·0.25)
        1.0
    """
    _check_lateral(excitations, gates, reading)
    return _lateral(excitations, gates, reading)


def _lateral(excitations: Sequence[torch.Tensor], gates: Sequence[torch.Tensor],
             reading: str) -> torch.Tensor:
    """Eq. (8) on checked inputs (what :func:`lateral_inhibition_loss` returns)."""
    if reading == "asymmetric":
        return _Lateral.apply(*excitations, *gates).mean()
    total = 0
    for h, s in zip(excitations, gates):
        hs = h * s
        total = total + (h.sum(1) ** 2 - (h * h).sum(1)) - (hs.sum(1) ** 2 - (hs * hs).sum(1))
    return total.mean()


def lateral_reference(excitations: Sequence[torch.Tensor], gates: Sequence[torch.Tensor],
                      reading: str = "asymmetric") -> torch.Tensor:
    """Eq. (8) as written, the double sum over every pair ``j ≠ i``, O(N²) per sample.

    What :func:`afm.lateral_inhibition_loss` computes in O(N); both ``reading`` s of the book.

    Args:
        excitations: one ``(B, N_l)`` tensor of ``h`` per forgetting layer.
        gates: one ``(B, N_l)`` tensor of σ per forgetting layer.
        reading: ``"asymmetric"`` (the paper's) or ``"symmetric"``.

    Returns:
        A scalar tensor.

    Example:
        >>> h, s = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.25, 0.5]])
        >>> float(lateral_reference([h], [s]))  # 1·2·(1-.25)·.5 + 2·1·(1-.5)·.25
        1.0
    """
    _check_lateral(excitations, gates, reading)
    total = 0
    for h, s in zip(excitations, gates):
        s_i, s_j = s[:, :, None], s[:, None, :]  # (B, N, 1) and (B, 1, N)
        # h_i h_j for every pair (i, j): (B, N, N)
        hh = h[:, :, None] * h[:, None, :]
        if reading == "asymmetric":
            # Eq. (8): j inhibits i by (1 - σ_i) σ_j
            factor = (1 - s_i) * s_j
        else:
            # the symmetric reading: 1 - σ_i σ_j
            factor = 1 - s_i * s_j
        # Σ_i Σ_{j≠i}: drop the diagonal i = j
        not_self = 1 - torch.eye(h.shape[1], dtype=h.dtype, device=h.device)
        total = total + (hh * factor * not_self).sum((1, 2))
    # Σ_l, then the mean over the batch
    return total.mean()


def forgetting_loss(model: nn.Module, lam: float, beta: float,
                    reading: str = "asymmetric") -> torch.Tensor:
    """Eq. (9) minus the task loss: ``λ · L_inh + β · L_lat`` over every forgetting layer.

    Uses the gates and excitations each :class:`~afm.ForgettingLayer` of ``model``
    kept from its last forward, so call it right after ``model(x)``.

    Example:
        >>> from afm import ForgettingLayer
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), ForgettingLayer(4))
        >>> _ = model(torch.randn(8, 3))
        >>> forgetting_loss(model, lam=1.0, beta=0.0).item()  # σ = 0.5 before learning
        0.5
    """
    lam, beta = check_strength("lam", lam), check_strength("beta", beta)
    layers = [layer for _, layer in forgetting_layers(model)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no ForgettingLayer: "
                         f"insert afm.ForgettingLayer modules, or drop forgetting_loss")
    if any(layer.gate is None for layer in layers):
        raise RuntimeError("forgetting_loss needs the gates of a forward pass: call model(x) first")
    gates = [layer.gate for layer in layers]
    s = _checked_cat(gates) if lam or beta else None
    loss = _times(lam, _Inhibition.apply(s)) if lam else gates[0].new_zeros(())
    if beta:
        excitations = [layer.excitation for layer in layers]
        _check_lateral_pairs(excitations, gates, reading)
        loss = loss + _times(beta, _lateral(excitations, gates, reading))
    return loss


def _times(strength: float, loss: torch.Tensor) -> torch.Tensor:
    """``strength · loss``; at strength 1 the loss itself (``x · 1.0`` is ``x``, bit for bit)."""
    return loss if strength == 1.0 else strength * loss


def _checked_cat(gates: Sequence[torch.Tensor]) -> torch.Tensor:
    """The switches of every layer side by side, ``(B, Σ N_l)``, checked as by
    :func:`_check_gates` with one range test over all of them (per layer only to name a fault)."""
    for s in gates:
        if s.dim() != 2 or s.shape[0] != gates[0].shape[0] or 0 in s.shape:
            _check_gates(gates)
    s = torch.cat(gates, dim=1)
    low, high = torch.stack(torch.aminmax(s.detach())).tolist()  # one sync for every layer
    if not 0 <= low <= high <= 1:  # also NaN
        _check_gates(gates)
    return s


def _check_lateral_pairs(excitations, gates, reading) -> None:
    """:func:`_check_lateral` without the range test of σ (done on all gates at once)."""
    if reading not in LATERAL_READINGS:
        raise ValueError(f"unknown reading {reading!r}: expected one of {LATERAL_READINGS}")
    _check_pairs(excitations, gates)
