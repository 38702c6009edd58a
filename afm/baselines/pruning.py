"""Weight pruning for Fig. 3b: scores, exact-fraction masks, masked fine-tuning.

A pruning rule gives every prunable weight a **score**; :func:`keep_top` keeps the
``fraction`` of weights with the highest scores over the whole network (one
global threshold) and zeroes the rest. The rules of Fig. 3b:

* random: uniform random scores (:func:`random_scores`), the lower bound;
* optimal brain damage, OBD (the paper's "OBS" panel): ``s_q = ½ H_qq w_q²``
  (:func:`obd_saliency`) with the diagonal of the empirical Fisher standing in for
  the Hessian (:func:`afm.baselines.fisher.fisher_diagonal`, ``kind="empirical"``), pruned iteratively
  with a short fine-tuning after each round (:func:`fine_tune`);
* the forgetting layer's parameter importance, Eq. (2),
  ``θ_ij = 1 - (1 - Ω_i^l)(1 - Ω_j^(l-1))`` (:func:`afm.importance.weight_importance`), in one shot.

The **prunable weights** are the weight matrices and kernels of every Linear and
Conv layer of the network (the output layer included); biases, batch-norm
parameters and the forgetting layers' own ``W_f`` are not pruned and not counted
(:func:`afm.importance.prunable_weights`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from afm.importance import prunable_weights, weight_importance  # noqa: F401 (Eq. 2, re-exported)
from afm.train import History, TrainConfig, train

Masks = dict[str, torch.Tensor]


def _module_of(model: nn.Module, param_name: str) -> tuple[nn.Module, str]:
    module_name, _, attr = param_name.rpartition(".")
    return (model.get_submodule(module_name) if module_name else model), attr


def count_kept(counts: Sequence[int] | int, fraction: float) -> int:
    """How many of ``total`` weights a kept ``fraction`` means: ``round(fraction · total)``.

    Args:
        counts: the total number of weights, or the sizes of the tensors, which are summed.
        fraction: the share of weights kept, in [0, 1].

    Returns:
        The number of weights kept, an int (Python's ``round``: halves go to the even number).

    Example:
        >>> count_kept([6, 4], 0.3), count_kept(10, 0.5)
        (3, 5)
    """
    total = int(sum(counts)) if not isinstance(counts, int) else counts
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction of weights kept must be in [0, 1], got {fraction!r}")
    return int(round(fraction * total))


def keep_top(scores: dict[str, torch.Tensor], fraction: float,
             current: Masks | None = None) -> Masks:
    """Masks that keep exactly ``round(fraction · n)`` of the ``n`` scored weights: the highest.

    One global threshold over every tensor of ``scores`` (a score only competes with
    scores of the same rule, so rules with different units compare). Ties are
    broken by position (the earlier weight is kept), so the count is exact.

    Args:
        scores: ``{name: scores of the weight's shape}``; higher = more important.
        fraction: the share of weights to keep, in [0, 1].
        current: masks already applied (iterative pruning): weights they removed
            stay removed, so the new masks are a subset of them; ``fraction`` must
            then not exceed the share they keep.

    Returns:
        ``{name: bool mask of the weight's shape}`` (True = kept).

    Example:
        >>> m = keep_top({"w": torch.tensor([[0.1, 0.9], [0.5, 0.3]])}, 0.5)
        >>> m["w"]
        tensor([[False,  True],
                [ True, False]])
    """
    if not scores:
        raise ValueError("keep_top needs at least one tensor of scores")
    names = list(scores)
    flat = torch.cat([scores[n].detach().reshape(-1).double().cpu() for n in names])
    if torch.isnan(flat).any():
        raise ValueError("scores contain NaN")
    k = count_kept(flat.numel(), fraction)
    if current is not None:
        missing = [n for n in names if n not in current]
        if missing:
            raise ValueError(f"current masks lack {missing[:3]}")
        alive = torch.cat([current[n].reshape(-1).cpu() for n in names]).bool()
        if k > int(alive.sum()):
            raise ValueError(f"cannot keep {k} weights: the current masks keep only "
                             f"{int(alive.sum())} (pruning only removes weights)")
        flat = torch.where(alive, flat, torch.full_like(flat, -torch.inf))
    order = torch.sort(flat, descending=True, stable=True).indices
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[order[:k]] = True
    out, start = {}, 0
    for n in names:
        size = scores[n].numel()
        out[n] = keep[start:start + size].reshape(scores[n].shape).to(scores[n].device)
        start += size
    return out


def keep_top_per_layer(scores: dict[str, torch.Tensor], fraction: float) -> Masks:
    """Masks that keep the same ``fraction`` of every tensor: ``round(fraction · n_t)`` of the
    ``n_t`` weights of each, those with the highest scores (one threshold per tensor).

    Scores then only compete within a layer, so a rule whose scores differ in level
    from layer to layer (Eq. 2, whose θ grows with the layer's mean Ω) cannot empty a
    layer; :func:`keep_top` is the one global threshold.

    Example:
        >>> m = keep_top_per_layer({"a": torch.tensor([0.1, 0.2]), "b": torch.tensor([0.8, 0.9])}, 0.5)
        >>> m["a"], m["b"]
        (tensor([False,  True]), tensor([False,  True]))
    """
    return {name: keep_top({name: s}, fraction)[name] for name, s in scores.items()}


def kept_fraction(masks: Masks) -> float:
    """The share of weights the masks keep, over all of them.

    Args:
        masks: ``{name: bool mask of the weight's shape}`` (True = kept), as from
            :func:`keep_top`.

    Returns:
        ``kept / total`` over every entry of every mask, a float in [0, 1].

    Example:
        >>> kept_fraction({"w": torch.tensor([[True, False], [False, True]])})
        0.5
        >>> kept_fraction(keep_top({"a": torch.rand(8), "b": torch.rand(3, 4)}, 0.25))  # 5 of 20
        0.25
    """
    total = sum(m.numel() for m in masks.values())
    return sum(int(m.sum()) for m in masks.values()) / max(1, total)


def apply_masks(model: nn.Module, masks: Masks) -> nn.Module:
    """Zero, in place, the weights that ``masks`` remove; returns ``model``.

    Args:
        model: the network; it is changed in place.
        masks: ``{parameter name: bool mask of the parameter's shape}`` (True = kept),
            e.g. ``(N_out, N_in)`` for a Linear weight.

    Returns:
        ``model``, with ``w ⊙ mask`` in place of every masked weight.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2])
        >>> weights = prunable_weights(model)  # (3, 4) and (2, 3): 18 weights
        >>> masks = keep_top(magnitude_scores(weights), 0.5)
        >>> apply_masks(model, masks) is model
        True
        >>> sum(int((w != 0).sum()) for w in prunable_weights(model).values())
        9
    """
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            if name not in params:
                raise ValueError(f"{type(model).__name__} has no parameter {name!r}")
            if mask.shape != params[name].shape:
                raise ValueError(f"mask of {name} has shape {tuple(mask.shape)}, the weight "
                                 f"{tuple(params[name].shape)}")
            params[name].mul_(mask.to(params[name].device, params[name].dtype))
    return model


@contextlib.contextmanager
def masked(model: nn.Module, masks: Masks) -> Iterator[nn.Module]:
    """Keep ``masks`` applied while the model trains: inside, every forward uses ``w ⊙ mask``
    (``torch.nn.utils.prune``), so removed weights get no gradient and stay zero; on exit the
    masks are made permanent (the weights are zero where the masks are False).

    Args:
        model: the network; changed in place.
        masks: ``{parameter name: bool mask of the parameter's shape}`` (True = kept).

    Yields:
        ``model``, its masked weights computed as ``w ⊙ mask`` from ``w_orig``; on exit
        they are plain parameters again. Create optimizers inside the block.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> masks = keep_top(magnitude_scores(prunable_weights(model)), 0.5)
        >>> with masked(model, masks):
        ...     opt = torch.optim.SGD(model.parameters(), lr=0.1)
        ...     model(torch.randn(5, 4)).square().sum().backward()
        ...     opt.step()
        >>> sum(int((w != 0).sum()) for w in prunable_weights(model).values())  # of 18
        9
    """
    applied = []
    try:
        for name, mask in masks.items():
            module, attr = _module_of(model, name)
            torch_prune.custom_from_mask(module, attr, mask.to(getattr(module, attr).device))
            applied.append((module, attr))
        yield model
    finally:
        for module, attr in applied:
            torch_prune.remove(module, attr)


def fine_tune(model: nn.Module, data, masks: Masks, config: TrainConfig,
              regularisers: Sequence = (), **train_kwargs) -> History:
    """:func:`afm.train` with ``masks`` held applied throughout (see :func:`masked`).

    Args:
        model: the pruned network; trained in place.
        data: a ``TensorDataset`` or ``(x, y)`` pair: inputs ``(B, ...)``, int64 labels ``(B,)``.
        masks: ``{parameter name: bool mask of the parameter's shape}`` (True = kept).
        config, regularisers, train_kwargs: passed to :func:`afm.train`.

    Returns:
        The :class:`~afm.History` of the run; the removed weights are zero afterwards.

    Example:
        >>> from afm import MLP
        >>> _ = torch.manual_seed(0)
        >>> model = MLP([4, 3, 2])
        >>> x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
        >>> masks = keep_top(random_scores(prunable_weights(model)), 0.5)
        >>> history = fine_tune(model, (x, y), masks, TrainConfig(epochs=1, batch_size=8),
        ...                     device=torch.device("cpu"), progress=False)
        >>> kept = {n: w != 0 for n, w in prunable_weights(model).items()}
        >>> len(history.loss), kept_fraction(kept)
        (1, 0.5)
    """
    with masked(model, masks):
        return train(model, data, config, regularisers, **train_kwargs)


def recalibrate_batch_norm(model: nn.Module, data) -> nn.Module:
    """Re-estimate every batch-norm layer's running mean and variance on ``data``; returns ``model``.

    Pruning changes the statistics of the pre-activations that batch norm normalises,
    and the running statistics of the trained network no longer fit them. This
    resets them and averages the batch statistics over ``data`` (an iterable of
    ``(x, ...)`` batches; labels unused, no gradient, no weight changes), as is usual
    after one-shot pruning of a batch-normalised network. The model's mode and the
    layers' momentum are restored afterwards.

    Args:
        model: the network; its batch-norm buffers are changed in place (a model
            without batch norm is returned unchanged).
        data: an iterable of batches whose first element is the input ``(B, ...)``.

    Returns:
        ``model``; each batch-norm layer's ``running_mean`` and ``running_var``, ``(C,)``,
        are the averages of the batch means and (unbiased) variances over ``data``.

    Example:
        >>> model = nn.Sequential(nn.BatchNorm1d(2)).eval()
        >>> batches = [(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), None)]
        >>> bn = recalibrate_batch_norm(model, batches)[0]
        >>> bn.running_mean, bn.running_var, model.training
        (tensor([1., 2.]), tensor([2., 2.]), False)
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model
    momenta = [m.momentum for m in bns]
    was_training = model.training
    device = next(model.parameters()).device
    seen = 0
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        model.train()
        with torch.no_grad():
            for batch in data:
                model(batch[0].to(device))
                seen += 1
    finally:
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
        model.train(was_training)
    if seen == 0:
        raise ValueError("recalibrate_batch_norm got no batches: data is empty")
    return model


def random_scores(weights: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Uniform random scores: :func:`keep_top` on them prunes weights at random.

    Args:
        weights: ``{name: weight}``, e.g. from :func:`afm.importance.prunable_weights`; only the shapes are read.
        seed: the seed of the scores (the same seed gives the same scores).

    Returns:
        ``{name: scores of the weight's shape}``, uniform in [0, 1), on the CPU.

    Example:
        >>> s = random_scores({"w": torch.zeros(2, 3)}, seed=0)["w"]
        >>> s.shape, bool((0 <= s).all() and (s < 1).all())
        (torch.Size([2, 3]), True)
        >>> torch.equal(s, random_scores({"w": torch.zeros(2, 3)}, seed=0)["w"])
        True
    """
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.rand(w.shape, generator=gen) for n, w in weights.items()}


def magnitude_scores(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``|w|``: the magnitude rule (a reference, not one of the paper's panels).

    Args:
        weights: ``{name: weight}``, e.g. from :func:`afm.importance.prunable_weights`.

    Returns:
        ``{name: |w| of the weight's shape}``, detached from the graph.

    Example:
        >>> magnitude_scores({"w": torch.tensor([[-2.0, 0.5]])})
        {'w': tensor([[2.0000, 0.5000]])}
    """
    return {n: w.detach().abs() for n, w in weights.items()}


def obd_saliency(weight: torch.Tensor, hessian_diag: torch.Tensor) -> torch.Tensor:
    """Optimal brain damage: ``s_q = ½ H_qq w_q²``, the loss increase of setting ``w_q = 0``
    to second order at a minimum (the first-order term vanishes, off-diagonal terms ignored).

    Example:
        >>> obd_saliency(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 4.0]))
        tensor([2., 2.])
    """
    if weight.shape != hessian_diag.shape:
        raise ValueError(f"weight {tuple(weight.shape)} and Hessian diagonal "
                         f"{tuple(hessian_diag.shape)} differ in shape")
    return 0.5 * hessian_diag * weight.detach() ** 2


def obd_scores(model: nn.Module, data, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """OBD saliencies of the prunable weights, the empirical Fisher diagonal (over ``data``,
    an iterable of ``(x, y)`` batches) standing in for ``H_qq``.

    Args:
        model: a classifier ``(B, ...) -> (B, C)``; evaluated in eval mode.
        data: an iterable of ``(x, y)`` batches: inputs ``(B, ...)``, int64 labels ``(B,)``.
        names: the weights to score (default: every one of :func:`afm.importance.prunable_weights`).

    Returns:
        ``{name: s of the weight's shape}``, every ``s_q >= 0`` (see :func:`obd_saliency`).

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> s = obd_scores(model, [(torch.randn(5, 4), torch.zeros(5, dtype=torch.long))])
        >>> {n: tuple(v.shape) for n, v in s.items()}
        {'hidden.0.main.weight': (3, 4), 'head.weight': (2, 3)}
        >>> all(bool((v >= 0).all()) for v in s.values())
        True
    """
    from afm.baselines.fisher import fisher_diagonal

    names = list(prunable_weights(model)) if names is None else list(names)
    fisher = fisher_diagonal(model, data, kind="empirical", names=names)
    params = dict(model.named_parameters())
    return {n: obd_saliency(params[n], fisher[n]) for n in names}


def per_layer_kept(masks: Masks) -> dict[str, float]:
    """The share of each weight tensor that ``masks`` keep.

    Args:
        masks: ``{name: bool mask of the weight's shape}`` (True = kept).

    Returns:
        ``{name: kept / size of that mask}``, each a float in [0, 1].

    Example:
        >>> per_layer_kept({"a": torch.tensor([True, False]),
        ...                 "b": torch.tensor([[True, True], [True, False]])})
        {'a': 0.5, 'b': 0.75}
    """
    return {n: float(m.float().mean()) for n, m in masks.items()}
