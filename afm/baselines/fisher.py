"""The diagonal of the Fisher information: EWC's Ω and OBD's Hessian.

One function, :func:`fisher_diagonal`, gives both kinds the book uses:

* ``kind="true"`` (EWC, Fig. 5): ``F_k = E_x Σ_y p_θ(y|x) (∂ log p_θ(y|x) / ∂θ_k)²``,
  the labels from the model's own predictions, the expectation over them exact
  (every class, weighted by its probability), not sampled;
* ``kind="empirical"`` (optimal brain damage, Fig. 3b):
  ``F_qq = (1/n) Σ_n (∂ℓ(x_n, y_n) / ∂w_q)²``, ``ℓ`` the cross-entropy of the true
  label. OBD ranks a weight by ``s_q = ½ H_qq w_q²``
  (:func:`afm.baselines.pruning.obd_saliency`) and the book puts this diagonal in
  place of the Hessian's: the two are equal in expectation when the model's
  predictive distribution matches the data (the Gauss-Newton approximation that
  pruning methods usually take).

Both need one gradient *per sample* (and, for the true Fisher, per class), and one
engine gives them, :func:`afm.baselines.per_sample.per_sample_gradient_sum`: one
backward pass per class (true) or one in all (empirical) gives every sample's gradient
at each layer's output, and each layer type makes its parameters' per-sample gradients
from it:

* Linear and forgetting layers: an outer (or elementwise) product of that gradient and
  the layer's input, so the sum of squares over the samples is one matrix product and
  the per-sample gradients are never held (the true Fisher of Fig. 5's trunk costs ten
  backward passes, not one per sample and class);
* Conv2d: the weight gradient of one convolution with a group per sample, a chunk of
  samples at a time;
* batch norm in eval mode (running statistics): ``Σ δ x̂`` for the scale and ``Σ δ``
  for the shift, over the spatial positions.

A parameter of any other module raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from afm.device import evaluating, to_device
from afm.baselines.per_sample import per_sample_gradient_sum

#: The kinds of :func:`fisher_diagonal`.
FISHER_KINDS = ("true", "empirical")


def fisher_diagonal(model: nn.Module, data, kind: str = "true", names: Sequence[str] | None = None,
                    chunk: int | None = None) -> dict[str, torch.Tensor]:
    """The diagonal of the Fisher information of ``model`` over ``data``, of either kind.

    ``kind="true"``: ``F_k = E_x Σ_y p_θ(y|x) (∂ log p_θ(y|x) / ∂θ_k)²`` (EWC), the expectation
    over the labels exact, labels of ``data`` unused. ``kind="empirical"``:
    ``F_k = mean_n (∂ℓ(x_n, y_n)/∂θ_k)²`` with the true labels (OBD). Both from the per-sample
    gradients of :func:`afm.baselines.per_sample.per_sample_gradient_sum`, so the parameters
    asked for must be those of its layer types (Linear, Conv2d, batch norm, forgetting layers).

    Args:
        model: a classifier, logits ``(B, C)``; evaluated in eval mode (batch norm: running
            statistics), its training mode restored afterwards.
        data: ``"true"``: ``N`` samples, a ``TensorDataset``, an ``(x, y)`` pair or a tensor
            ``x (N, ...)``. ``"empirical"``: an iterable of ``(x, y)`` batches with the labels.
        kind: ``"true"`` or ``"empirical"``.
        names: the parameters to return (default: every parameter; ``"empirical"``: every
            one that requires a gradient).
        chunk: samples per pass (default 250 for ``"true"``, 64 for ``"empirical"``); the
            result does not depend on it beyond rounding.

    Returns:
        ``{parameter name: F of the parameter's shape}``, on the parameters' device.

    Example:
        With all parameters zero, ``p = (½, ½)`` for every ``x`` and the true Fisher is
        ``F_{b_c} = Σ_y p_y (δ_yc − p_c)² = ¼``, ``F_{W_cj} = ¼ x_j²``; the empirical one
        takes the true label alone, ``(δ_yc − p_c)² = ¼`` too:

        >>> lin = nn.Linear(3, 2)
        >>> _ = nn.init.zeros_(lin.weight), nn.init.zeros_(lin.bias)
        >>> fisher_diagonal(lin, torch.ones(4, 3))["bias"]
        tensor([0.2500, 0.2500])
        >>> fisher_diagonal(lin, [(torch.ones(4, 3), torch.zeros(4, dtype=torch.long))],
        ...                 kind="empirical")["weight"]
        tensor([[0.2500, 0.2500, 0.2500],
                [0.2500, 0.2500, 0.2500]])
    """
    if kind not in FISHER_KINDS:
        raise ValueError(f"unknown Fisher kind {kind!r}: expected one of {FISHER_KINDS}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    with evaluating(model):
        if kind == "true":
            return _mean_over(data, chunk or 250, lambda xb: per_sample_gradient_sum(
                model, xb, _true_fisher_terms, power=2, names=names))
        return _empirical_fisher(model, data, names, chunk or 64)


def _true_fisher_terms(logits: torch.Tensor):
    """``Σ_y p(y|x) (∂ log p(y|x)/∂θ)²``: one term ``(weight p_y, per-sample log p_y)`` per class."""
    log_p = F.log_softmax(logits, dim=1)
    p = log_p.exp()
    return [(p[:, c], log_p[:, c]) for c in range(logits.shape[1])]


def _empirical_fisher(model: nn.Module, data: Iterable, names: Sequence[str] | None,
                      chunk: int) -> dict[str, torch.Tensor]:
    """``mean_n (∂ℓ(x_n, y_n)/∂θ)²`` over the ``(x, y)`` batches of ``data``, ``chunk`` samples a pass."""
    if names is None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
    names = list(names)
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for x, y in data:
        x, y = to_device(x, device), to_device(y, device)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"a batch's x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
        for start in range(0, x.shape[0], chunk):
            yb = y[start:start + chunk]
            part = per_sample_gradient_sum(  # ℓ_n = −log p(y_n|x_n), one backward pass
                model, x[start:start + chunk], lambda z, yb=yb: [(None, F.cross_entropy(z, yb, reduction="none"))],
                power=2, names=names)
            sums = part if not sums else {n: sums[n] + v for n, v in part.items()}
            count += yb.shape[0]
    if count == 0:
        raise ValueError("fisher_diagonal(kind='empirical') got no samples: data is empty")
    return {n: s / count for n, s in sums.items()}


def _batches(data, batch_size: int):
    x = data.tensors[0] if isinstance(data, TensorDataset) else (
        data[0] if isinstance(data, (tuple, list)) else data)
    if not isinstance(x, torch.Tensor) or x.shape[0] == 0:
        raise ValueError("importance needs a non-empty TensorDataset, (x, y) pair or tensor x")
    for start in range(0, x.shape[0], batch_size):
        yield x[start:start + batch_size]


def _mean_over(data, batch_size, fn) -> dict[str, torch.Tensor]:
    total, n = None, 0
    for xb in _batches(data, batch_size):
        part = fn(xb)
        total = part if total is None else {k: total[k] + v for k, v in part.items()}
        n += xb.shape[0]
    return {k: v / n for k, v in total.items()}
