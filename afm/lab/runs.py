"""Training runs shared by the chapters: one cached MLP run per full specification."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

import torch

from afm import data as afm_data
from afm.lab.cache import cached, is_cached
from afm.baselines.decov import DeCov
from afm.device import seed_everything
from afm.models import MLP
from afm.regularisers import L1, L2, Forgetting
from afm.lab.sweep import run_many
from afm.train import History, TrainConfig, evaluate, train


@dataclass(frozen=True)
class MLPRun:
    """Everything that determines one MLP training run (and so its cache key).

    ``val_fraction`` of the training set is held out as the validation split on
    which hyper-parameters are chosen; the test set is only ever evaluated.
    """

    dataset: str = "mnist"
    widths: tuple[int, ...] = (784, 128, 256, 10)
    forgetting: bool = True
    shortcut: bool = True
    gate: str = "dense"
    rho: float = 1.0
    lam: float = 0.0
    beta: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    decov: float = 0.0
    reading: str = "asymmetric"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    train_size: int | None = None
    val_fraction: float = 0.1
    seed: int = 0

    def regularisers(self) -> list:
        regs = []
        if self.forgetting and (self.lam or self.beta):
            regs.append(Forgetting(self.lam, self.beta, self.reading))
        if self.l1:
            regs.append(L1(self.l1))
        if self.l2:
            regs.append(L2(self.l2))
        if self.decov:
            regs.append(DeCov(self.decov))
        return regs

    def build(self) -> MLP:
        """The untrained network: the same weights for the same seed."""
        seed_everything(self.seed)
        return MLP(list(self.widths), forgetting=self.forgetting, rho=self.rho,
                   shortcut=self.shortcut, gate=self.gate)

    def splits(self):
        """``(train, validation, test)`` TensorDatasets."""
        full = afm_data.load_dataset(self.dataset, train=True)
        train_set, val_set = afm_data.train_val_split(full, self.val_fraction, seed=0)
        train_set = afm_data.subset(train_set, self.train_size, seed=self.seed)
        return train_set, val_set, afm_data.load_dataset(self.dataset, train=False)


@dataclass
class RunResult:
    spec: MLPRun
    state_dict: dict[str, torch.Tensor]
    history: History
    val_acc: float
    test_acc: float
    extra: dict = field(default_factory=dict)

    def model(self) -> MLP:
        """The trained network, rebuilt from the stored weights (on the CPU, eval mode)."""
        model = self.spec.build()
        model.load_state_dict(self.state_dict)
        return model.eval()


def _train_run(spec: MLPRun) -> RunResult:
    train_set, val_set, test_set = spec.splits()
    model = spec.build()
    config = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr,
                         optimizer=spec.optimizer, seed=spec.seed)
    history = train(model, train_set, config, spec.regularisers(), eval_data=val_set,
                    desc=_describe(spec))
    model.cpu()
    return RunResult(spec, {k: v.detach().cpu() for k, v in model.state_dict().items()}, history,
                     val_acc=evaluate(model, val_set), test_acc=evaluate(model, test_set))


def _describe(spec: MLPRun) -> str:
    kind = "plain" if not spec.forgetting else ("shortcut" if spec.shortcut else "no-shortcut")
    return f"{spec.dataset} {kind} λ={spec.lam:g} β={spec.beta:g} seed={spec.seed}"


def mlp_run(spec: MLPRun) -> RunResult:
    """Train (or load from the result cache) the run that ``spec`` describes."""
    return cached("mlp_run", asdict(spec), lambda: _train_run(spec))


def run_specs(specs: Sequence[MLPRun], jobs: int | None = None, scheduler=None) -> list[RunResult]:
    """:func:`mlp_run` for every spec: the ones not yet cached are trained in parallel
    (:func:`afm.lab.sweep.run_many`), then all are loaded from the cache, in order."""
    todo = [s for s in dict.fromkeys(specs) if not is_cached("mlp_run", asdict(s))]
    if todo:
        run_many(mlp_run, [(s,) for s in todo], jobs=jobs, scheduler=scheduler,
                 desc=f"{len(todo)} training runs")
    return [mlp_run(s) for s in specs]


def select_on_validation(specs: Iterable[MLPRun], jobs: int | None = None,
                         scheduler=None) -> tuple[MLPRun, list[RunResult]]:
    """Train every candidate and return the one with the best *validation* accuracy.

    Ties go to the earlier candidate. The test set plays no part in the choice.
    """
    results = run_specs(list(specs), jobs=jobs, scheduler=scheduler)
    if not results:
        raise ValueError("select_on_validation needs at least one candidate")
    best = max(range(len(results)), key=lambda i: (results[i].val_acc, -i))
    return results[best].spec, results


def with_seeds(spec: MLPRun, seeds: Sequence[int]) -> list[MLPRun]:
    return [replace(spec, seed=s) for s in seeds]
