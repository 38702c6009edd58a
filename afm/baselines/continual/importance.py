"""The importances Ω of the consolidation strategies of Fig. 5 (EWC, MAS, ANPyC).

* EWC: the diagonal of the true Fisher information, :func:`afm.baselines.fisher.fisher_diagonal`
  (re-exported here);
* MAS: :func:`mas_importance`, the sensitivity of the output's squared norm;
* ANPyC: :func:`anpyc_importance`, a second-order estimate of the entropy's change.

SI's importance is a path integral over training, measured by
:class:`~afm.baselines.continual.strategies.SynapticIntelligence` itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from afm.baselines.fisher import _batches, _mean_over, fisher_diagonal
from afm.baselines.per_sample import per_sample_gradient_sum
from afm.baselines.continual.model import MultiHeadMLP, tag  # noqa: F401 (the examples use them)

__all__ = ["fisher_diagonal", "mas_importance", "anpyc_importance"]


def mas_importance(model: nn.Module, data, batch_size: int = 250) -> dict[str, torch.Tensor]:
    """MAS's importance: ``Ω_k = E_x |∂ ‖f(x)‖² / ∂θ_k|``, ``f(x)`` the output logits.

    Aljundi et al.'s memory-aware synapses: the sensitivity of the squared L2 norm
    of the output to each parameter, per sample, in absolute value, averaged over
    ``data`` (unsupervised: labels unused).

    Args:
        model: a model :func:`afm.baselines.per_sample.per_sample_gradient_sum` supports, evaluated as it is;
            logits ``(B, C)``.
        data: ``N`` samples: a ``TensorDataset``, an ``(x, y)`` pair or a tensor ``x``
            ``(N, ...)``.
        batch_size: samples per backward pass (the result does not depend on it).

    Returns:
        ``{parameter name: Ω of the parameter's shape}``, for every parameter, ``>= 0``.

    Example:
        A linear layer with ``W = 1``, ``b = 0`` maps ``x = (1, 2, 0)`` to ``f = (3, 3)``:

        >>> lin = nn.Linear(3, 2)
        >>> _ = nn.init.ones_(lin.weight), nn.init.zeros_(lin.bias)
        >>> omega = mas_importance(lin, torch.tensor([[1.0, 2.0, 0.0]]))
        >>> omega["bias"]  # |∂ ‖f‖² / ∂b_c| = 2 f_c
        tensor([6., 6.])
        >>> omega["weight"]  # 2 f_c x_j
        tensor([[ 6., 12.,  0.],
                [ 6., 12.,  0.]])
    """
    return _mean_over(data, batch_size, lambda xb: per_sample_gradient_sum(
        model, xb, lambda z: [(None, (z * z).sum(1))], power=1))


def anpyc_importance(model: nn.Module, data) -> dict[str, torch.Tensor]:
    """ANPyC's synaptic-consolidation importance: ``Ω = max(0, g·θ + ½ θ² g²)``.

    ``g = ∂ H̄ / ∂θ`` with ``H̄`` the output entropy ``H(p_θ(·|x))`` averaged over
    ``data`` (one gradient of the mean entropy, not per sample; labels unused):
    a second-order Taylor estimate of how much the entropy moves when the
    parameter is removed, with the curvature approximated by ``g²``.
    (Peng et al.'s neural-pruning schedule is not implemented.)

    Args:
        model: any classifier, logits ``(B, C)``; evaluated as it is.
        data: ``N`` samples: a ``TensorDataset``, an ``(x, y)`` pair or a tensor ``x``
            ``(N, ...)``.

    Returns:
        ``{parameter name: Ω of the parameter's shape}``, for every parameter, ``>= 0``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> omega = anpyc_importance(model, tag(torch.randn(8, 4), task=0))
        >>> all(omega[k].shape == p.shape for k, p in model.named_parameters())
        True
        >>> all(bool((w >= 0).all()) for w in omega.values())
        True
        >>> float(omega["heads.1.weight"].sum())  # no task-1 sample: g = 0 on its head
        0.0
    """
    params = dict(model.named_parameters())
    total, n = None, 0
    for xb in _batches(data, 1000):
        with torch.enable_grad():
            log_p = F.log_softmax(model(xb), dim=1)
            entropy = -(log_p.exp() * log_p).sum()
            grads = torch.autograd.grad(entropy, list(params.values()), allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params.values())]
        total = grads if total is None else [t + g for t, g in zip(total, grads)]
        n += xb.shape[0]
    out = {}
    for (name, p), g in zip(params.items(), total):
        g, theta = g / n, p.detach()
        out[name] = torch.clamp(g * theta + 0.5 * theta ** 2 * g ** 2, min=0.0)
    return out
