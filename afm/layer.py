"""The plug-and-play forgetting layer (P&PF), Eq. (3)-(5).

A forgetting layer sits between two layers of excitatory neurons. For each
excitatory neuron ``i`` it keeps one inhibitory neuron, the *neural switch*
``σ_i``, computed from the excitatory activations ``h``:

* Eq. (4):  ``σ = δ(ρ · h W_f)``  with ``δ`` the logistic sigmoid;
* Eq. (3):  ``h' = h ⊙ σ``        (forgetting without shortcut);
* Eq. (5):  ``h'' = h + h ⊙ σ``   (with the shortcut, the default).

σ near 0 closes the switch: the excitatory neuron is forgotten.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn

from afm.checks import check_bool, check_int, check_real, check_tensor

#: The readings of ``W_f`` that :class:`ForgettingLayer` implements.
GATES = ("dense", "diagonal", "static")


class ForgettingLayer(nn.Module):
    """Eq. (3)-(5): a layer of inhibitory neurons gating ``num_features`` excitatory ones.

    Args:
        num_features: ``N``, the number of excitatory neurons (units, or channels
            of a convolutional feature map).
        rho: ``ρ > 0``, the steepness of the forgetting function (Eq. 4).
        shortcut: ``True`` returns ``h + h ⊙ σ`` (Eq. 5), ``False`` ``h ⊙ σ`` (Eq. 3).
        gate: how ``W_f`` is read (the book's appendix, "Eq. (4): what is h W_f?"):
            ``"dense"``: ``σ = δ(ρ (h W_f + b))`` with ``W_f`` N×N;
            ``"diagonal"``: ``σ_i = δ(ρ (w_i h_i + b_i))``;
            ``"static"``: ``σ_i = δ(ρ w_i)``, independent of the input.

        unit_gain: divide the output by its value at the start, ``1 + σ_0 = 1.5`` with the
            shortcut (``(h + h ⊙ σ) / 1.5``) and ``σ_0 = 0.5`` without (``h ⊙ σ / 0.5``), so
            that the layer passes ``h`` through unchanged before learning. ``False`` (the
            default) is the paper's layer as the book reads it; ``True`` is the remedy the
            plug-in path (:func:`afm.insert_forgetting_layers`) uses: an unnormalised gain of
            1.5 per layer compounds along residual streams and into the classifier head and
            breaks training at ordinary learning rates (chapter "Use it in your own model").
            σ, Ω and the losses of Eq. (6) and (8) are the same either way.

    All gate parameters start at zero, so every switch is half open (σ = 0.5)
    before learning.

    Shapes:
        ``forward`` takes ``(B, N)`` or ``(B, N, H, W)`` and returns the same shape.
        For 4-D input the gate is per channel, computed from the spatial mean of
        ``h`` and broadcast over ``H, W``.

    After each forward the layer keeps, for the losses of Eq. (6) and (8):
        ``gate``: σ, shape ``(B, N)``;
        ``excitation``: the ``h`` that entered, ``(B, N)`` (spatially averaged for 4-D).

    Example:
        >>> layer = ForgettingLayer(4)
        >>> out = layer(torch.ones(2, 4))
        >>> out.shape, layer.gate.shape, float(layer.gate[0, 0])
        (torch.Size([2, 4]), torch.Size([2, 4]), 0.5)
    """

    gate: torch.Tensor | None
    excitation: torch.Tensor | None

    def __init__(self, num_features: int, rho: float = 1.0, shortcut: bool = True,
                 gate: str = "dense", unit_gain: bool = False) -> None:
        super().__init__()
        num_features, rho, shortcut = _check_arguments(num_features, rho, shortcut, gate)
        self.num_features = num_features
        self.rho = rho
        self.shortcut = shortcut
        self.gate_mode = gate
        self.unit_gain = bool(unit_gain)
        if gate == "dense":
            self.weight = nn.Parameter(torch.zeros(num_features, num_features))
        else:
            self.weight = nn.Parameter(torch.zeros(num_features))
        self.bias = None if gate == "static" else nn.Parameter(torch.zeros(num_features))
        self.gate = None
        self.excitation = None

    def extra_repr(self) -> str:
        return (f"{self.num_features}, rho={self.rho}, shortcut={self.shortcut}, "
                f"gate={self.gate_mode!r}" + (", unit_gain=True" if self.unit_gain else ""))

    def switches(self, h: torch.Tensor) -> torch.Tensor:
        """Eq. (4): the neural switches ``σ = δ(ρ · h W_f)``; ``(B, N) -> (B, N)``."""
        if self.gate_mode == "static":  # one σ per neuron, the same for every sample
            z = self.weight.expand(h.shape[0], -1)
            return torch.sigmoid(z if self.rho == 1.0 else self.rho * z)
        if self.gate_mode == "dense":
            z = torch.addmm(self.bias, h, self.weight)  # h W_f + b in one kernel
        else:
            z = torch.addcmul(self.bias, h, self.weight)
        # z is a fresh buffer that no backward pass reads: δ overwrites it (one allocation less)
        return (z if self.rho == 1.0 else self.rho * z).sigmoid_()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Eq. (3) or (5): ``h ⊙ σ`` or ``h + h ⊙ σ``; ``(B, N[, H, W])`` in and out."""
        self._check_input(h)
        pooled = h if h.dim() == 2 else h.mean(dim=(2, 3))
        sigma = self.switches(pooled)
        self.gate, self.excitation = sigma, pooled
        if self.unit_gain:  # h ⊙ g with g = (1 + σ) / 1.5 or σ / 0.5: g is 1 exactly at σ = 0.5
            g = (sigma + 1).mul_(2.0 / 3.0) if self.shortcut else sigma * 2.0
            return h * (g if h.dim() == 2 else g[:, :, None, None])  # one pass over a big h
        s = sigma if h.dim() == 2 else sigma[:, :, None, None]
        return torch.addcmul(h, h, s) if self.shortcut else h * s  # h + h ⊙ σ, or h ⊙ σ

    def clear_state(self) -> None:
        """Forget the ``gate`` and ``excitation`` kept from the last forward (both ``None``)."""
        self.gate = self.excitation = None

    def __deepcopy__(self, memo: dict) -> ForgettingLayer:
        """A copy without the ``gate``/``excitation`` of the last forward (the copy's are ``None``).

        Those tensors hang on the autograd graph of that forward, which ``copy.deepcopy``
        refuses to copy; a copy of a trained network then needs no special helper.

        Example:
            >>> layer = ForgettingLayer(3)
            >>> _ = layer(torch.randn(2, 3, requires_grad=True))
            >>> twin = copy.deepcopy(layer)
            >>> twin.gate is None, layer.gate is not None, torch.equal(twin.weight, layer.weight)
            (True, True, True)
        """
        twin = type(self).__new__(type(self))
        memo[id(self)] = twin
        for key, value in self.__dict__.items():
            twin.__dict__[key] = None if key in ("gate", "excitation") else copy.deepcopy(value, memo)
        return twin

    def _check_input(self, h: torch.Tensor) -> None:
        check_tensor(h, "the input h of ForgettingLayer")
        if not h.is_floating_point():
            raise TypeError(f"ForgettingLayer expects a floating-point input, got {h.dtype}: "
                            f"convert it with h.float()")
        if h.dim() not in (2, 4):
            raise ValueError(
                f"ForgettingLayer expects a 2-D (B, N) or 4-D (B, N, H, W) input, "
                f"got {h.dim()}-D with shape {tuple(h.shape)}")
        if h.shape[1] != self.num_features:
            raise ValueError(
                f"ForgettingLayer expects num_features={self.num_features} in dim 1, "
                f"got {h.shape[1]} (input shape {tuple(h.shape)})")
        if h.dim() == 4 and h.shape[2] * h.shape[3] == 0:
            raise ValueError(f"ForgettingLayer got an empty {h.shape[2]}x{h.shape[3]} feature map "
                             f"(input shape {tuple(h.shape)}): the gate reads the spatial mean, "
                             f"which would be NaN; give the network larger inputs or pool less before this layer")


def _check_arguments(num_features, rho, shortcut, gate) -> tuple[int, float, bool]:
    """The constructor's arguments, checked: ``N`` a positive int, ``ρ`` finite and > 0,
    ``shortcut`` a real bool, ``gate`` one of :data:`GATES`."""
    num_features = check_int(num_features, "num_features (the number N of excitatory neurons)", 1)
    rho = check_real(rho, "rho", positive=True, what="the steepness ρ of Eq. 4")
    shortcut = check_bool(shortcut, "shortcut", "True: h + h ⊙ σ, Eq. 5; False: h ⊙ σ, Eq. 3")
    if not isinstance(gate, str) or gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}: expected one of {', '.join(map(repr, GATES))}")
    return num_features, rho, shortcut


def forgetting_layers(model: nn.Module) -> Iterator[tuple[str, ForgettingLayer]]:
    """Every :class:`ForgettingLayer` in ``model``, with its module name, in order.

    Args:
        model: any ``nn.Module``; its submodules are walked with ``model.named_modules()``.

    Returns:
        An iterator of ``(name, layer)`` pairs, in the order of ``model.named_modules()``
        (after a forward, each ``layer.gate`` has shape ``(B, N)``).

    Example:
        >>> from afm import MLP
        >>> [name for name, _ in forgetting_layers(MLP([4, 3, 3, 2]))]
        ['hidden.0.forget', 'hidden.1.forget']
        >>> list(forgetting_layers(torch.nn.Linear(4, 2)))
        []
    """
    for name, module in model.named_modules():
        if isinstance(module, ForgettingLayer):
            yield name, module
