"""Ablating excitatory neurons (Fig. 2a-2c): set chosen units' outputs to zero and measure.

An ablated excitatory neuron outputs 0 whatever its input: a hidden unit of a
``(B, N)`` output, or a whole channel of a ``(B, C, H, W)`` feature map. The
masks are forward hooks on the modules that output the excitatory neurons (in
:mod:`afm.models` the ReLUs, ``model.excitatory_names()``), so they work for
plain and forgetting networks, MLPs and CNNs alike, and leave the model
unchanged once the ``with`` block ends. With a forgetting layer after the
ReLU, the ablated unit enters it as ``h_i = 0``, so it also leaves it as 0
(``h ⊙ σ`` and ``h + h ⊙ σ`` are both 0), and the switches of the other units
see it as silent.

* :func:`ablate`: the context manager.
* :func:`removal_order`: which neurons go first: the least important
  (``"positive"`` order, natural forgetting), the most important
  (``"inverse"``, targeted forgetting), or a seeded ``"random"`` order.
* :func:`units_to_remove`: the neurons removed at a given fraction.
* :func:`ablation_curve`: test accuracy as ever more neurons are removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from afm.train import evaluate

#: The removal orders of Fig. 2a: least important first, most important first, random.
ORDERS = ("positive", "inverse", "random")
#: Global: one ranking over the neurons of every layer; per_layer: the same fraction of each layer.
SCOPES = ("global", "per_layer")


def _as_index(units, name: str) -> tuple[torch.Tensor, int | None]:
    """``(indices (k,) int64, mask length or None)`` from indices or a boolean mask."""
    t = units if isinstance(units, torch.Tensor) else torch.as_tensor(np.asarray(units))
    t = t.detach().cpu().flatten()
    if t.dtype == torch.bool:
        return t.nonzero().flatten(), t.numel()
    if t.numel() == 0:
        return torch.zeros(0, dtype=torch.long), None
    if t.is_floating_point() or t.is_complex():
        raise ValueError(f"units of {name!r} must be integer indices or a boolean mask, "
                         f"got dtype {t.dtype}")
    t = t.long()
    if int(t.min()) < 0:
        raise ValueError(f"units of {name!r} must be >= 0, got {int(t.min())}")
    return t, None


@contextmanager
def ablate(model: nn.Module, units: Mapping[str, Sequence[int] | torch.Tensor]) -> Iterator[nn.Module]:
    """Inside the ``with`` block, the outputs of the chosen units of the named modules are 0.

    Args:
        model: any ``nn.Module``.
        units: ``{module name: indices}`` (or a boolean mask of length ``N``): the units
            (dim 1 of the module's output: hidden units of ``(B, N)``, channels of
            ``(B, C, H, W)``) to silence. Names as in ``model.named_modules()``,
            e.g. ``"hidden.0.act"``; an empty index list silences nothing.

    Yields:
        ``model``, with forward hooks that zero those units; they are removed on exit,
        also when the block raises.

    Raises:
        ValueError: an unknown module name, or (at the forward pass) an index ``>= N``
            or a boolean mask whose length is not ``N``.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> from afm.capture import capture_activations
        >>> with ablate(model, {"hidden.0.act": [0, 2]}):
        ...     h = capture_activations(model, [(torch.randn(5, 4), None)])["hidden.0.act"]
        >>> h[:, [0, 2]].abs().sum().item()
        0.0
    """
    modules = dict(model.named_modules())
    unknown = [name for name in units if name not in modules]
    if unknown:
        raise ValueError(f"unknown module names {unknown}; the excitatory neurons of this model are "
                         f"{getattr(model, 'excitatory_names', lambda: [n for n in modules if n][:20])()}")
    masks = {name: _as_index(u, name) for name, u in units.items()}

    def hook(name: str):
        index, mask_length = masks[name]

        def fn(_module, _inputs, output: torch.Tensor) -> torch.Tensor:
            n = output.shape[1]
            if mask_length is not None and mask_length != n:
                raise ValueError(f"the boolean mask of {name!r} has {mask_length} entries, "
                                 f"the module outputs {n} units")
            if index.numel() and int(index.max()) >= n:
                raise ValueError(f"unit {int(index.max())} of {name!r} does not exist: "
                                 f"the module outputs {n} units (dim 1 of {tuple(output.shape)})")
            if index.numel() == 0:
                return output
            return output.index_fill(1, index.to(output.device), 0.0)
        return fn

    handles = [modules[name].register_forward_hook(hook(name)) for name in masks]
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def _flatten(scores: Mapping[str, torch.Tensor | np.ndarray]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    if not scores:
        raise ValueError("need importance scores of at least one layer, got none")
    names = list(scores)
    layer_of, unit_of, values = [], [], []
    for l, name in enumerate(names):
        v = scores[name]
        v = v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, float)
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"scores of {name!r} must be a non-empty 1-D vector (N,), got shape {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"scores of {name!r} contain NaN or infinite values")
        layer_of.append(np.full(v.size, l))
        unit_of.append(np.arange(v.size))
        values.append(v)
    return names, np.concatenate(layer_of), np.concatenate(unit_of), np.concatenate(values)


def removal_order(scores: Mapping[str, torch.Tensor | np.ndarray], order: str,
                  seed: int = 0) -> list[tuple[str, int]]:
    """Every neuron of ``scores`` as ``(layer name, unit)``, in the order it is removed.

    Args:
        scores: ``{layer name: importance (N_l,)}``, one ranking over all layers
            (so the scores must be comparable across layers, as Ω ∈ (0, 1) is).
        order: ``"positive"``: least important first (natural forgetting);
            ``"inverse"``: most important first (targeted forgetting);
            ``"random"``: a random permutation drawn from ``seed``.
        seed: the random order's seed (ignored otherwise).

    Ties keep the order of the layers and units in ``scores`` (a stable sort).

    Example:
        >>> removal_order({"a": [0.9, 0.1], "b": [0.5]}, "positive")
        [('a', 1), ('b', 0), ('a', 0)]
    """
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}: expected one of {ORDERS}")
    names, layer_of, unit_of, values = _flatten(scores)
    if order == "positive":
        idx = np.argsort(values, kind="stable")
    elif order == "inverse":
        idx = np.argsort(-values, kind="stable")
    else:
        idx = np.random.default_rng(seed).permutation(values.size)
    return [(names[layer_of[i]], int(unit_of[i])) for i in idx]


def _check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    return float(fraction)


def units_to_remove(scores: Mapping[str, torch.Tensor | np.ndarray], fraction: float, order: str,
                    seed: int = 0, scope: str = "global") -> dict[str, list[int]]:
    """The neurons removed when ``fraction`` of them go, in ``order``: ``{layer: [units]}``.

    ``scope="global"`` removes the first ``round(fraction · Σ_l N_l)`` neurons of one
    ranking over all layers (:func:`removal_order`); ``"per_layer"`` removes
    ``round(fraction · N_l)`` from each layer by that layer's own ranking (random:
    a permutation per layer, seeded by ``seed`` and the layer's position).
    Every layer of ``scores`` is a key of the result (possibly with no units).

    Example:
        >>> units_to_remove({"a": [0.9, 0.1, 0.5, 0.2]}, 0.5, "inverse")
        {'a': [0, 2]}
    """
    fraction = _check_fraction(fraction)
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: expected one of {SCOPES}")
    out: dict[str, list[int]] = {name: [] for name in scores}
    if scope == "global":
        ranked = removal_order(scores, order, seed)
        for name, unit in ranked[: int(round(fraction * len(ranked)))]:
            out[name].append(unit)
    else:
        for l, name in enumerate(scores):
            ranked = removal_order({name: scores[name]}, order, seed=seed * 1000 + l)
            out[name] = [unit for _, unit in ranked[: int(round(fraction * len(ranked)))]]
    return {name: sorted(units) for name, units in out.items()}


def ablation_curve(model: nn.Module, data, scores: Mapping[str, torch.Tensor | np.ndarray],
                   fractions: Sequence[float], order: str, seed: int = 0,
                   scope: str = "global") -> np.ndarray:
    """Fig. 2a/2b: the accuracy of ``model`` on ``data`` as ever more neurons are removed.

    Args:
        model: the trained network, ``(B, ...) -> (B, C)`` logits.
        data: a ``TensorDataset`` or ``(x, y)`` pair (the test set): inputs ``(B, ...)``,
            int64 labels ``(B,)``.
        scores: ``{excitatory module name: importance (N_l,)}``; only these layers are
            ablated (pass one layer for the per-layer curves of Fig. 2b).
        fractions: ``(K,)`` shares of the neurons of ``scores`` to remove, each in [0, 1].
        order, seed, scope: see :func:`units_to_remove`.

    Returns:
        ``(K,)`` accuracies in [0, 1], one per entry of ``fractions``.

    Example:
        >>> from afm import MLP
        >>> _ = torch.manual_seed(2)
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> x = torch.randn(8, 4)
        >>> y = model(x).argmax(1)  # labels the intact model gets right
        >>> scores = {"hidden.0.act": torch.tensor([0.2, 0.9, 0.5])}
        >>> ablation_curve(model, (x, y), scores, [0, 1 / 3, 2 / 3, 1], "positive")
        array([1.   , 1.   , 0.75 , 0.375])
    """
    fractions = [_check_fraction(f) for f in fractions]
    accs = []
    for f in fractions:
        with ablate(model, units_to_remove(scores, f, order, seed, scope)):
            accs.append(evaluate(model, data))
    return np.asarray(accs, dtype=float)


def area_under(fractions: Sequence[float], values: Sequence[float]) -> float:
    """The trapezoidal area under ``values`` over ``fractions`` (for curves over [0, 1]).

    Args:
        fractions: ``(K,)`` strictly increasing x values, ``K >= 2``.
        values: ``(K,)`` the curve at those x values, e.g. from :func:`ablation_curve`.

    Returns:
        The area, a float (the mean of the curve when ``fractions`` spans [0, 1]).

    Example:
        >>> area_under([0.0, 0.5, 1.0], [1.0, 0.5, 0.0])  # a straight line from 1 to 0
        0.5
    """
    x, y = np.asarray(fractions, float), np.asarray(values, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"need two 1-D arrays of equal length >= 2, got {x.shape} and {y.shape}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("fractions must be strictly increasing")
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
