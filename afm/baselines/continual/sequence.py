"""The task loop of Fig. 5, its accuracy-matrix metrics, and the Fig. 5c summary of Ω.

* :func:`train_sequence` runs a strategy over a list of tasks and returns the
  accuracy matrix; :func:`first_task_accuracy` and :func:`average_accuracy` read
  Fig. 5b's two curves from it, :func:`learning_accuracy` and
  :func:`backward_transfer` split the final average into learning and forgetting.
* :func:`polarisation_shares` and :func:`gini`: how polarised an importance is (Fig. 5c).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from afm.baselines.continual.model import MultiHeadMLP, tag_dataset  # noqa: F401 (the examples)
from afm.baselines.continual.strategies import EWC  # noqa: F401 (the examples)
from afm.train import TrainConfig, as_tensors, evaluate, train


@dataclass
class SequenceResult:
    """What :func:`train_sequence` returns.

    ``accuracy[i, j]``: accuracy on evaluation task ``j`` after learning tasks ``0..i``
    (NaN for ``j > i``), shape ``(T, T)``; ``seconds``: training time per task, ``T``
    floats (one for :class:`JointTraining`, trained once).

    Example:
        >>> result = SequenceResult(np.array([[0.9, np.nan], [0.7, 0.8]]), seconds=[1.0, 1.2])
        >>> first_task_accuracy(result.accuracy), average_accuracy(result.accuracy)
        (array([0.9, 0.7]), array([0.9 , 0.75]))
    """

    accuracy: np.ndarray
    seconds: list[float]


def train_sequence(model: nn.Module, strategy, train_tasks: Sequence[TensorDataset],
                   eval_tasks: Sequence[TensorDataset], config: TrainConfig = TrainConfig(),
                   regularisers: Sequence[Callable] = (), progress: bool | None = None,
                   desc: str = "") -> SequenceResult:
    """Learn ``train_tasks`` one after the other with ``strategy``; evaluate after each.

    Args:
        model: e.g. a :class:`MultiHeadMLP`; its inputs carry the task id (:func:`tag`).
        strategy: :class:`Naive`, :class:`JointTraining`, :class:`EWC`, :class:`MAS`,
            :class:`SynapticIntelligence` or :class:`ANPyC` (a fresh one per sequence).
        train_tasks, eval_tasks: one tagged ``TensorDataset`` per task, same length.
        config: each task is trained with it, with ``seed = config.seed + task``
            (a fresh optimizer per task).
        regularisers: added on every task besides the strategy's own, e.g.
            ``[afm.Forgetting(lam, beta)]`` for a network with forgetting layers.

    Returns:
        :class:`SequenceResult`: the ``(T, T)`` accuracy matrix (NaN above the diagonal)
        and the training seconds, ``T = len(train_tasks)``. ``model`` ends on the CPU.

    Example:
        Two tasks of 8 random samples, one epoch each:

        >>> _ = torch.manual_seed(0)
        >>> tasks = [tag_dataset(TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,))), t)
        ...          for t in range(2)]
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> result = train_sequence(model, EWC(strength=1.0), tasks, tasks,
        ...                         TrainConfig(epochs=1, batch_size=4), progress=False)
        >>> result.accuracy.shape, len(result.seconds)
        ((2, 2), 2)
        >>> np.isnan(result.accuracy)
        array([[False,  True],
               [False, False]])
    """
    if len(train_tasks) != len(eval_tasks) or not train_tasks:
        raise ValueError(f"need one evaluation set per training task, got {len(train_tasks)} "
                         f"training and {len(eval_tasks)} evaluation sets")
    n = len(train_tasks)
    accuracy = np.full((n, n), np.nan)
    seconds = []
    if getattr(strategy, "joint", False):
        xs, ys = zip(*(as_tensors(t) for t in train_tasks))
        history = train(model, TensorDataset(torch.cat(xs), torch.cat(ys)), config,
                        list(regularisers), progress=progress, desc=f"{desc} joint")
        model.cpu()
        final = [evaluate(model, e) for e in eval_tasks]
        for i in range(n):
            accuracy[i, : i + 1] = final[: i + 1]
        return SequenceResult(accuracy, [history.seconds])
    for t, data in enumerate(train_tasks):
        strategy.before_task(model, t)
        cfg = TrainConfig(**{**config.__dict__, "seed": config.seed + t})
        history = train(model, data, cfg, [*regularisers, *strategy.regularisers()],
                        progress=progress, desc=f"{desc} task {t + 1}/{n}",
                        callbacks=strategy.callbacks())
        strategy.after_task(model, t, data)
        seconds.append(history.seconds)
        accuracy[t, : t + 1] = [evaluate(model, eval_tasks[j]) for j in range(t + 1)]
    model.cpu()
    return SequenceResult(accuracy, seconds)


def first_task_accuracy(accuracy: np.ndarray) -> np.ndarray:
    """Fig. 5b left: accuracy on the first task after learning each task, ``(T, T) -> (T,)``.

    Example:
        >>> first_task_accuracy(np.array([[0.9, np.nan], [0.7, 0.8]]))
        array([0.9, 0.7])
    """
    return np.asarray(accuracy, dtype=float)[:, 0]


def average_accuracy(accuracy: np.ndarray) -> np.ndarray:
    """Fig. 5b right: mean accuracy over the tasks seen so far, ``(T, T) -> (T,)``.

    Example:
        >>> average_accuracy(np.array([[0.9, np.nan], [0.7, 0.8]]))
        array([0.9 , 0.75])
    """
    acc = _square(accuracy)
    return np.array([acc[t, : t + 1].mean() for t in range(acc.shape[0])])


def learning_accuracy(accuracy: np.ndarray) -> float:
    """Mean accuracy on each task right after learning it, ``mean_t accuracy[t, t]`` (plasticity).

    Example:
        >>> learning_accuracy(np.array([[0.75, np.nan], [0.5, 0.25]]))
        0.5
    """
    acc = _square(accuracy)
    return float(np.mean(np.diag(acc)))


def backward_transfer(accuracy: np.ndarray) -> float:
    """How much learning the later tasks changed the earlier ones (Lopez-Paz & Ranzato's BWT):
    ``mean_{t < T} (accuracy[T-1, t] − accuracy[t, t])``; negative = forgetting. NaN for one task.

    Example:
        >>> round(backward_transfer(np.array([[0.9, np.nan], [0.7, 0.8]])), 3)
        -0.2
    """
    acc = _square(accuracy)
    n = acc.shape[0]
    return float(np.mean(acc[-1, : n - 1] - np.diag(acc)[: n - 1])) if n > 1 else float("nan")


def _square(accuracy: np.ndarray) -> np.ndarray:
    acc = np.asarray(accuracy, dtype=float)
    if acc.ndim != 2 or acc.shape[0] != acc.shape[1] or acc.shape[0] == 0:
        raise ValueError(f"expected a square (T, T) accuracy matrix, got shape {acc.shape}")
    return acc


#: Bounds of the three ranges of :func:`polarisation_shares`, relative to the mean importance.
POLARISATION_BOUNDS = (0.1, 10.0)


def polarisation_shares(importance: torch.Tensor | np.ndarray,
                 bounds: tuple[float, float] = POLARISATION_BOUNDS) -> dict[str, float]:
    """How polarised a set of parameter importances is (Fig. 5c), independent of their scale.

    Each importance is divided by the mean importance, ``u = Ω / mean(Ω)``, so that
    methods with different units (a Fisher, a gradient norm) compare. The shares
    of parameters with ``u < bounds[0]`` (**near zero**), ``u > bounds[1]``
    (**top**) and in between (**middle**) sum to 1: a polarised distribution has
    more near zero and at the top and fewer in the middle. Also the Gini
    coefficient of Ω (0: all equal; → 1: a few parameters carry all importance)
    and the share of the total importance that the top range carries.

    (Not :func:`afm.analysis.stats.polarisation`, Fig. 2d's ``2·E|x − ½|`` of switch states.)

    Args:
        importance: any shape, non-negative, not all zero.
        bounds: ``(low, high)`` with ``0 < low < 1 < high``.

    Returns:
        ``{"near_zero", "middle", "top", "top_mass", "gini"}``, floats in [0, 1].

    Example:
        >>> polarisation_shares(np.array([0.0, 0.0, 1.0, 1.0]))["near_zero"]
        0.5
    """
    w = np.asarray(importance.detach().cpu() if isinstance(importance, torch.Tensor) else importance,
                   dtype=np.float64).ravel()
    low, high = bounds
    if not 0 < low < 1 < high:
        raise ValueError(f"bounds must satisfy 0 < low < 1 < high, got {bounds}")
    if w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("importance must be a non-empty array of finite values >= 0, not all zero")
    u = w / w.mean()
    near, top = u < low, u > high
    return {"near_zero": float(near.mean()), "middle": float(1 - near.mean() - top.mean()),
            "top": float(top.mean()), "top_mass": float(w[top].sum() / w.sum()),
            "gini": gini(w)}


def gini(values: np.ndarray) -> float:
    """The Gini coefficient of non-negative values: 0 when all are equal, → 1 when one has all.

    Example:
        >>> gini(np.array([1.0, 1.0, 1.0]))
        0.0
        >>> round(gini(np.array([0.0, 0.0, 0.0, 1.0])), 2)
        0.75
    """
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0 or (v < 0).any() or v.sum() <= 0:
        raise ValueError("gini needs non-negative values, not all zero")
    n = v.size
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * v.sum()))
