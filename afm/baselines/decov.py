"""DeCov, the decorrelation baseline of Fig. 4a (Cogswell et al. 2016, the paper's ref. 13).

For the activations ``h`` of one hidden layer over a batch of ``B`` samples,
with the batch covariance ``C_ij = 1/B Σ_n (h_i^n - μ_i)(h_j^n - μ_j)``,

    L_DeCov = ½ (‖C‖_F² - ‖diag(C)‖₂²),

the halved sum of the squared off-diagonal covariances: it penalises neurons
that fire together and leaves each neuron's own variance alone.
:class:`DeCov` adds ``strength · Σ_l L_DeCov(h_l)`` over the excitatory
activations (the ReLU outputs, ``model.excitatory_names()``) of every hidden
layer, behind the same interface as :mod:`afm.regularisers`.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["decov_loss", "DeCov"]


def decov_loss(h: torch.Tensor) -> torch.Tensor:
    """``½ (‖C‖_F² - ‖diag(C)‖²)`` for the batch covariance ``C`` of ``h`` (Cogswell et al. 2016).

    Args:
        h: ``(B, N)`` activations of one layer (or ``(B, N, H, W)``, averaged over ``H, W``
            first, one value per channel). ``C`` uses the biased ``1/B`` normalisation, as
            in the original paper, so a batch of one sample gives 0.

    Returns:
        A scalar tensor ``>= 0``, differentiable with respect to ``h``.

    Example:
        >>> h = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # C = [[1, 1], [1, 1]]
        >>> float(decov_loss(h))  # ½ (4 - 2)
        1.0
    """
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"decov_loss expects a torch.Tensor, got {type(h).__name__}")
    if h.dim() == 4:
        h = h.mean(dim=(2, 3))
    if h.dim() != 2 or h.shape[0] < 1:
        raise ValueError(f"decov_loss expects activations of shape (B, N) with B >= 1 "
                         f"(or (B, C, H, W)), got {tuple(h.shape)}")
    centred = h - h.mean(dim=0, keepdim=True)
    cov = centred.T @ centred / h.shape[0]  # (N, N)
    return 0.5 * ((cov * cov).sum() - (cov.diagonal() ** 2).sum())


class DeCov:
    """``strength · Σ_l L_DeCov(h_l)`` over hidden layers: a regulariser for :func:`afm.train`.

    Like :class:`afm.regularisers.L1`, a callable ``reg(model) -> scalar`` with a ``name``.
    It sees the activations through forward hooks on the modules ``names``
    (default: ``model.excitatory_names()``, the ReLU ``act`` of every hidden
    block), which keep each module's output of the latest forward pass.

    Call :meth:`attach` before the first forward pass. If ``reg(model)`` is
    called on a model it is not attached to, it attaches then and returns 0
    for that call (no activations were seen yet): in a training loop only the
    first step goes unregularised. Attaching to another model detaches from
    the previous one; :meth:`detach` removes the hooks.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> reg = DeCov(0.1).attach(model)
        >>> _ = model(torch.randn(8, 4))
        >>> reg(model).shape
        torch.Size([])
    """

    name = "decov"

    def __init__(self, strength: float, names: Sequence[str] | None = None) -> None:
        if not strength >= 0:  # also rejects NaN
            raise ValueError(f"DeCov strength must be >= 0, got {strength!r}")
        self.strength = float(strength)
        self.names = None if names is None else list(names)
        self._model: weakref.ref | None = None
        self._handles: list = []
        self._outputs: dict[str, torch.Tensor] = {}

    def __repr__(self) -> str:
        return f"DeCov(strength={self.strength!r}, names={self.names!r})"

    def _layer_names(self, model: nn.Module) -> list[str]:
        if self.names is not None:
            return self.names
        if not hasattr(model, "excitatory_names"):
            raise ValueError(f"{type(model).__name__} has no excitatory_names(): "
                             f"pass DeCov(strength, names=[...]) with the modules to decorrelate")
        return model.excitatory_names()

    def attach(self, model: nn.Module) -> DeCov:
        """Register forward hooks on ``model``'s hidden activations; returns ``self``."""
        self.detach()
        names = self._layer_names(model)
        modules = dict(model.named_modules())
        unknown = [n for n in names if n not in modules]
        if unknown or not names:
            raise ValueError(f"DeCov: unknown or no module names {unknown or names}; valid "
                             f"names include {[n for n in modules if n][:20]}")

        def hook(name):
            def fn(_module, _inputs, output):
                self._outputs[name] = output
            return fn

        self._handles = [modules[n].register_forward_hook(hook(n)) for n in names]
        self._model = weakref.ref(model)
        return self

    def detach(self) -> None:
        """Remove the hooks and forget the kept activations."""
        for handle in self._handles:
            handle.remove()
        self._handles, self._outputs, self._model = [], {}, None

    def attached_to(self, model: nn.Module) -> bool:
        return self._model is not None and self._model() is model

    def __call__(self, model: nn.Module) -> torch.Tensor:
        if not self.attached_to(model):
            self.attach(model)
            return next(model.parameters()).new_zeros(())
        names = self._layer_names(model)
        missing = [n for n in names if n not in self._outputs]
        if missing:  # attached, but no forward pass since
            raise RuntimeError(f"DeCov needs the activations of a forward pass: call model(x) "
                               f"first (nothing seen for {missing})")
        total = sum(decov_loss(self._outputs[n]) for n in names)
        return self.strength * total
