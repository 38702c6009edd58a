"""One run protocol for every chapter: a :class:`Run` says what to train, :func:`fit` trains it.

* :class:`Run`: the network (an entry of :data:`ARCHITECTURES`), its forgetting
  layers, the data, ``train`` (a :class:`~afm.train.TrainConfig`), the
  regularisers' strengths, a ``reading`` of the paper's open choices, and what
  is evaluated after each epoch. Frozen, so it is the cache key of its result.
* :func:`fit`: the one cached training run, a plain result (state dict, history,
  accuracies); :func:`fit_all`: many of them, the missing ones in parallel;
  :func:`outcome` / :func:`outcomes`: the same, where a run whose loss becomes
  non-finite is a result (it diverged), not an error;
* :func:`best_on_validation`: the one rule of choice (validation accuracy, ties to
  the earlier candidate); :func:`spread`: mean ± standard deviation over seeds.

A new architecture is one entry of :data:`ARCHITECTURES` (a function ``Run -> nn.Module``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from afm import data as afm_data
from afm.device import seed_everything
from afm.lab.cache import cached, is_cached
from afm.lab.sweep import cached_map, run_many
from afm.models import MLP, VGG9, LeNet5
from afm.regularisers import L1, L2, Forgetting
from afm.train import TrainConfig, evaluate, train


def _mlp(run: Run) -> nn.Module:
    return MLP(list(run.widths), forgetting=run.forgetting, rho=run.rho, shortcut=run.shortcut,
               gate=run.gate)


def _lenet5(run: Run) -> nn.Module:
    return LeNet5(forgetting=run.forgetting, rho=run.rho, shortcut=run.shortcut, gate=run.gate)


def _vgg9(run: Run) -> nn.Module:
    return VGG9(width=run.option("width", 1.0), forgetting=run.forgetting, rho=run.rho,
                shortcut=run.shortcut, gate=run.gate, batch_norm=run.option("batch_norm", True))


def _multihead_mlp(run: Run) -> nn.Module:
    from afm.baselines.continual import MultiHeadMLP

    return MultiHeadMLP(run.widths, n_tasks=run.option("n_tasks", 10), forgetting=bool(run.forgetting),
                        rho=run.rho, shortcut=run.shortcut, gate=run.gate)


def _own_model(run: Run) -> nn.Module:
    from afm.experiments.own_model import build

    return build(run)  # chapter 9's networks, plugged as ``run.option("variant")`` says


#: ``name -> build(run)``: the networks a :class:`Run` can train. A new architecture is one entry.
ARCHITECTURES: dict[str, Callable[[Run], nn.Module]] = {
    "mlp": _mlp, "lenet5": _lenet5, "vgg9": _vgg9, "multihead_mlp": _multihead_mlp,
    "resnet": _own_model, "transformer": _own_model, "cnn": _own_model}
#: What :func:`fit` evaluates after every epoch (``History.eval_acc``).
EPOCH_EVAL = ("val", "test")


@dataclass(frozen=True)
class Run:
    """Everything that determines one training run, and so the cache key of its result.

    Args:
        arch: a key of :data:`ARCHITECTURES`; ``widths`` (MLPs) and ``options``
            (``(name, value)`` pairs, e.g. ``(("width", 0.125),)`` for VGG-9, or
            ``(("variant", "unit"),)`` for chapter 9's networks,
            ``afm.experiments.own_model.build``) shape it.
        forgetting: forgetting layers after every hidden layer, none, or one flag per layer;
            ``shortcut``, ``gate``, ``rho`` configure them (Eq. 3-5); ``lateral`` is the
            reading of Eq. (8) (``"asymmetric"`` or ``"symmetric"``).
        dataset, train_size, val_fraction, test_size: ``val_fraction`` of the training set is
            the validation split (the same for every run), ``train_size`` images of the rest
            (drawn with ``seed``) are trained on, ``test_size`` test images (all if None).
        train: the optimiser settings; its ``seed`` is always ``seed``.
        lam, beta: Eq. (9)'s λ and β; ``l1``, ``l2``, ``decov``: the baselines' strengths.
        reading: ``(name, value)`` pairs of further readings of the paper (default: none).
        strategy: ``(name, value)`` pairs of a continual-learning strategy (chapter 5's task
            sequences, which run their own loop over tasks; empty for every other run).
        epoch_eval, epoch_eval_size: what ``history.eval_acc`` measures after each epoch:
            the validation split, or the first ``epoch_eval_size`` images of a fixed
            permutation of the test set (Fig. 3a's curves; never used for a choice).
        seed: initial weights, training subset and batch order.

    Example:
        >>> run = Run(widths=(784, 32, 10), lam=1.0, train=TrainConfig(epochs=2))
        >>> run.train.epochs, [type(r).__name__ for r in run.regularisers()]
        (2, ['Forgetting'])
        >>> Run(arch="alexnet")
        Traceback (most recent call last):
            ...
        ValueError: unknown architecture 'alexnet': expected one of ['mlp', 'lenet5', 'vgg9', 'multihead_mlp', 'resnet', 'transformer', 'cnn']
    """

    arch: str = "mlp"
    widths: tuple[int, ...] = (784, 128, 256, 10)
    options: tuple[tuple[str, Any], ...] = ()
    forgetting: bool | tuple[bool, ...] = True
    shortcut: bool = True
    gate: str = "dense"
    rho: float = 1.0
    lateral: str = "asymmetric"
    dataset: str = "mnist"
    train_size: int | None = None
    val_fraction: float = 0.1
    test_size: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    lam: float = 0.0
    beta: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    decov: float = 0.0
    reading: tuple[tuple[str, Any], ...] = ()
    strategy: tuple[tuple[str, Any], ...] = ()
    epoch_eval: str = "val"
    epoch_eval_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}: expected one of {list(ARCHITECTURES)}")
        if self.epoch_eval not in EPOCH_EVAL:
            raise ValueError(f"epoch_eval must be one of {EPOCH_EVAL}, got {self.epoch_eval!r}")
        for name in ("widths", "options", "reading", "strategy"):
            object.__setattr__(self, name, tuple(tuple(v) if isinstance(v, list) else v
                                                 for v in getattr(self, name)))
        if isinstance(self.forgetting, list):
            object.__setattr__(self, "forgetting", tuple(self.forgetting))
        if self.train.seed != self.seed:
            object.__setattr__(self, "train", replace(self.train, seed=self.seed))

    @classmethod
    def from_dict(cls, d: dict) -> Run:
        """The :class:`Run` of ``asdict(run)`` (as a cached result stores it)."""
        d = dict(d)
        d["train"] = TrainConfig(**d["train"])
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def option(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` in ``options`` (``default`` when absent)."""
        return dict(self.options).get(name, default)

    def strategy_setting(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` in ``strategy`` (``default`` when absent)."""
        return dict(self.strategy).get(name, default)

    @property
    def has_forgetting(self) -> bool:
        return any(self.forgetting) if isinstance(self.forgetting, tuple) else bool(self.forgetting)

    def regularisers(self) -> list:
        """Eq. (9)'s forgetting loss and the baselines, as :func:`afm.train.train` takes them."""
        regs = []
        if self.has_forgetting and (self.lam or self.beta):
            regs.append(Forgetting(self.lam, self.beta, self.lateral))
        if self.l1:
            regs.append(L1(self.l1))
        if self.l2:
            regs.append(L2(self.l2))
        if self.decov:
            from afm.baselines.decov import DeCov

            regs.append(DeCov(self.decov))
        return regs

    def build(self, state_dict: dict[str, torch.Tensor] | None = None) -> nn.Module:
        """The untrained network (the same weights for the same seed), or, given a
        ``state_dict``, the trained one (CPU, eval mode)."""
        seed_everything(self.seed)
        model = ARCHITECTURES[self.arch](self)
        if state_dict is not None:
            model.load_state_dict(state_dict)
            model.eval()
        return model

    def splits(self):
        """``(train, validation, test)`` TensorDatasets."""
        full = afm_data.load_dataset(self.dataset, train=True)
        train_set, val_set = afm_data.train_val_split(full, self.val_fraction, seed=0)
        train_set = afm_data.subset(train_set, self.train_size, seed=self.seed)
        test_set = afm_data.subset(afm_data.load_dataset(self.dataset, train=False), self.test_size, seed=0)
        return train_set, val_set, test_set


def _epoch_eval(run: Run, val_set):
    if run.epoch_eval == "val":
        return val_set
    return afm_data.subset(afm_data.load_dataset(run.dataset, train=False), run.epoch_eval_size, seed=0)


def _describe(run: Run) -> str:
    kind = "plain" if not run.has_forgetting else f"forgetting λ={run.lam:g} β={run.beta:g}"
    return f"{run.arch} {run.dataset} {kind} seed={run.seed}"


def _fit(run: Run) -> dict:
    train_set, val_set, test_set = run.splits()
    model = run.build()
    history = train(model, train_set, run.train, run.regularisers(),
                    eval_data=_epoch_eval(run, val_set), desc=_describe(run))
    model.cpu()
    return {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "history": asdict(history), "val_acc": evaluate(model, val_set),
            "test_acc": evaluate(model, test_set), "train_acc": evaluate(model, train_set),
            "train_size": len(train_set)}


def fit(run: Run) -> dict:
    """Train (or load from the result cache) the run that ``run`` describes.

    Returns:
        A dict of plain data with the keys ``state_dict``, ``history`` (``asdict(History)``),
        ``val_acc``, ``test_acc``, ``train_acc`` and ``train_size``; ``run.build(result["state_dict"])`` is the trained network.

    Example::

        run = Run(widths=(784, 32, 10), lam=1.0, beta=1e-4, train_size=2000,
                  train=TrainConfig(epochs=1))
        result = fit(run)          # trained once, then loaded from the cache
        model = run.build(result["state_dict"])
        result["val_acc"], result["history"]["loss"]
    """
    return cached("run", asdict(run), lambda: _fit(run))


def fit_all(runs: Sequence[Run], jobs: int | None = None, scheduler=None) -> list[dict]:
    """:func:`fit` of every run, in order; the ones not yet cached are trained in parallel
    (:func:`afm.lab.sweep.run_many`; ``jobs``/``scheduler`` as there).

    Example::

        grid = [replace(run, lam=lam) for lam in (0.1, 1.0, 10.0)]
        results = fit_all(grid, jobs=3)                  # three processes
        chosen = grid[best_on_validation(results)]       # chosen on validation, never test
    """
    return cached_map("run", _fit, list(runs), asdict, jobs=jobs, scheduler=scheduler,
                      desc="training runs")


#: The cache's name for the record of a run whose training diverged (:func:`outcome`).
DIVERGED = "run_diverged"


def diverged(result: dict) -> bool:
    """True if ``result`` (of :func:`outcome`) records a run whose training diverged."""
    return "diverged" in result


def outcome(run: Run) -> dict:
    """:func:`fit` of ``run``, or, if its loss becomes NaN or infinite, the record
    ``{"diverged": <where and why>, "val_acc": -inf}`` instead of an error; the record is cached
    too, so a run that diverged is not trained again. For settings under which training may
    diverge (a reading of the paper: that it diverges is a finding to report, not a crash);
    :func:`~afm.lab.runs.best_on_validation` never prefers such a run to one that trained.

    Example::

        result = outcome(run)
        if diverged(result):
            print(result["diverged"])     # the step at which the loss became non-finite
    """
    key = asdict(run)
    if is_cached(DIVERGED, key):
        return cached(DIVERGED, key, lambda: _attempt(run))  # unreadable record: run it again
    result = _attempt(run)
    return cached(DIVERGED, key, lambda: result) if diverged(result) else result


def _attempt(run: Run) -> dict:
    try:
        return fit(run)
    except FloatingPointError as error:
        return {"diverged": str(error), "val_acc": float("-inf")}


def _outcome_task(run: Run) -> None:
    outcome(run)


def outcomes(runs: Sequence[Run], jobs: int | None = None, scheduler=None) -> list[dict]:
    """:func:`outcome` of every run, in order; the ones not yet cached (trained or diverged) are
    run in parallel first (:func:`afm.lab.sweep.run_many`; ``jobs``/``scheduler`` as there).

    Example::

        grid = [replace(run, train=replace(run.train, lr=lr)) for lr in (0.01, 0.1, 10.0)]
        results = outcomes(grid, jobs=3)          # lr = 10 may diverge: a record, not an error
        chosen = grid[best_on_validation(results)]
    """
    runs = list(runs)
    todo = [r for r in dict.fromkeys(runs)
            if not (is_cached("run", asdict(r)) or is_cached(DIVERGED, asdict(r)))]
    if todo:
        run_many(_outcome_task, [(r,) for r in todo], jobs=jobs, scheduler=scheduler,
                 desc=f"{len(todo)} training runs")
    return [outcome(r) for r in runs]


def trained(run: Run) -> nn.Module:
    """The trained network of ``run`` (trained first if not cached): CPU, eval mode."""
    return run.build(fit(run)["state_dict"])


def best_on_validation(results: Sequence[dict]) -> int:
    """The index of the result with the highest ``"val_acc"``; ties go to the earlier one.

    The test set plays no part in the choice.

    Example:
        >>> best_on_validation([{"val_acc": 0.5}, {"val_acc": 0.9}, {"val_acc": 0.9}])
        1
    """
    if not results:
        raise ValueError("best_on_validation needs at least one candidate")
    return max(range(len(results)), key=lambda i: (results[i]["val_acc"], -i))


def choose(runs: Sequence[Run], jobs: int | None = None, scheduler=None) -> tuple[Run, list[dict]]:
    """Train every candidate (:func:`fit_all`) and return the best on validation, and all results."""
    runs = list(runs)
    results = fit_all(runs, jobs=jobs, scheduler=scheduler)
    return runs[best_on_validation(results)], results


def spread(values) -> tuple[float, float]:
    """Mean and standard deviation (``ddof=1``; 0 for a single value) over seeds.

    Example:
        >>> spread([1.0, 2.0, 3.0])
        (2.0, 1.0)
        >>> spread([0.7])
        (0.7, 0.0)
    """
    a = np.asarray(values, dtype=float).ravel()
    if a.size == 0:
        raise ValueError("spread needs at least one value")
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0
