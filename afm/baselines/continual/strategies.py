"""The strategies of Fig. 5, named after Avalanche's: a strategy is a set of hooks.

:func:`~afm.baselines.continual.sequence.train_sequence` calls, for each task,
``before_task(model, task)``, then trains with the strategy's ``regularisers()``
(added to the loss) and ``callbacks()`` (called after every step), then
``after_task(model, task, data)``.

* :class:`Naive` (fine-tuning, the paper's ``sgd``) and :class:`JointTraining`
  (all tasks at once): the lower and the upper bound;
* the quadratic consolidation penalties, ``strength/2 · Σ_k Ω_k (θ_k − θ*_k)²`` over
  the shared parameters (:class:`Consolidation`): :class:`EWC`, :class:`MAS`,
  :class:`ANPyC` (their Ω in :mod:`afm.baselines.continual.importance`) and
  :class:`SynapticIntelligence` (Ω from the path of training, a per-step callback).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from afm.baselines.continual.importance import anpyc_importance, fisher_diagonal, mas_importance
from afm.baselines.continual.model import MultiHeadMLP, shared_parameters, tag, tag_dataset  # noqa: F401
from afm.train import TrainConfig, as_tensors  # noqa: F401 (TrainConfig: the examples)


class Naive:
    """Fine-tuning: learn each task in turn with nothing added (the paper's ``sgd``).

    The lower bound of Fig. 5: no regulariser, nothing kept between tasks.

    Example:
        >>> strategy = Naive()
        >>> strategy.name, strategy.joint, strategy.regularisers(), strategy.callbacks()
        ('naive', False, [], [])
    """

    name = "naive"
    joint = False

    def before_task(self, model: nn.Module, task: int) -> None:
        pass

    def regularisers(self) -> list:
        return []

    def callbacks(self) -> list:
        return []

    def after_task(self, model: nn.Module, task: int, data) -> None:
        pass


class JointTraining(Naive):
    """All tasks at once: one model trained on the union of every task's data (the upper bound).

    :func:`~afm.baselines.continual.train_sequence` trains it once, on the shuffled union, and evaluates it
    on every task; row ``t`` of its accuracy matrix is that one model on tasks ``0..t``.

    Example:
        >>> from afm.baselines.continual import train_sequence
        >>> _ = torch.manual_seed(0)
        >>> tasks = [tag_dataset(TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,))), t)
        ...          for t in range(2)]
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> result = train_sequence(model, JointTraining(), tasks, tasks,
        ...                         TrainConfig(epochs=1, batch_size=4), progress=False)
        >>> len(result.seconds)  # one training run, on the union
        1
        >>> bool(result.accuracy[1, 0] == result.accuracy[0, 0])  # one model in every row
        True
    """

    name = "joint"
    joint = True


class Consolidation:
    """Quadratic consolidation of the shared parameters, the common form of EWC, MAS, SI, ANPyC.

    ``penalty(θ) = strength/2 · Σ_k Ω_k (θ_k − θ*_k)²`` (+ a constant), over the
    shared parameters (:func:`shared_parameters`: the trunk, not the heads). After
    each task, :meth:`importance` gives the new ``Ω^t`` at ``θ^t`` (the
    parameters after task ``t``) and they join the penalty:

    * ``mode="accumulate"`` (MAS, SI, ANPyC): ``Ω ← Ω + Ω^t``, ``θ* ← θ^t``;
    * ``mode="separate"`` (EWC): one penalty per past task,
      ``Σ_t Ω^t (θ − θ^t)²``, kept exactly as one quadratic
      ``A (θ − m)² + c`` with ``A = Σ_t Ω^t``, ``m = Σ_t Ω^t θ^t / A``.

    A consolidation object is the regulariser itself: ``strategy(model)`` returns
    the penalty (``afm.train`` calls it after each forward pass). Like Avalanche's
    plugins, a strategy is a set of hooks: ``before_task``, ``regularisers``,
    ``callbacks`` (per step, see :class:`afm.train.Callback`) and :meth:`after_task`.

    Args:
        strength: ``λ >= 0``, the weight of the penalty.
        samples: how many samples of each task (the first ones) :meth:`after_task`
            measures ``Ω^t`` on.
        mode: ``"accumulate"`` or ``"separate"``, see above.

    ``Ω``, ``θ*`` (``omega``, ``anchor``: ``{parameter name: tensor of the parameter's
    shape}``) and the penalty, a scalar ``()`` tensor, cover the shared parameters.

    Example:
        Two tasks in ``"separate"`` mode, with ``Ω^t = 1`` at ``θ^0 = 0`` and ``θ^1 = 2``:

        >>> model = nn.Linear(1, 1, bias=False)
        >>> reg = Consolidation(strength=1.0, mode="separate")
        >>> for theta_t in (0.0, 2.0):
        ...     reg.consolidate({"weight": torch.ones(1, 1)},
        ...                     {"weight": torch.full((1, 1), theta_t)})
        >>> _ = nn.init.zeros_(model.weight)
        >>> reg(model).item()  # ½ ((0 − 0)² + (0 − 2)²)
        2.0
        >>> _ = nn.init.ones_(model.weight)
        >>> reg(model).item()  # ½ ((1 − 0)² + (1 − 2)²)
        1.0
    """

    name = "consolidation"
    joint = False
    modes = ("accumulate", "separate")

    def __init__(self, strength: float, samples: int = 1000, mode: str = "accumulate") -> None:
        if not strength >= 0:
            raise ValueError(f"strength must be >= 0, got {strength!r}")
        if int(samples) != samples or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r}: expected one of {self.modes}")
        self.strength, self.samples, self.mode = float(strength), int(samples), mode
        self.omega: dict[str, torch.Tensor] = {}   # A: the summed importance
        self.anchor: dict[str, torch.Tensor] = {}  # m: θ* (or the Ω-weighted mean of the θ^t)
        self.constant = 0.0                        # c: what merging the separate penalties leaves
        self.tasks_seen = 0

    def importance(self, model: nn.Module, data) -> dict[str, torch.Tensor]:
        """``Ω^t`` for every shared parameter, measured on ``data`` at the current θ."""
        raise NotImplementedError

    def before_task(self, model: nn.Module, task: int) -> None:
        pass

    def regularisers(self) -> list:
        return [self]

    def callbacks(self) -> list:
        return []

    def after_task(self, model: nn.Module, task: int, data) -> None:
        """Measure ``Ω^t`` on (the first ``samples`` of) ``data`` and consolidate ``θ^t``."""
        x, _ = as_tensors(data) if not isinstance(data, torch.Tensor) else (data, None)
        was_training = model.training
        model.eval()
        try:
            omega = self.importance(model, TensorDataset(x[: self.samples]))
        finally:
            model.train(was_training)
        shared = shared_parameters(model)
        self.consolidate({k: omega[k] for k in shared},
                         {k: p.detach().clone() for k, p in shared.items()})

    def consolidate(self, omega: dict[str, torch.Tensor], theta: dict[str, torch.Tensor]) -> None:
        """Add one task's importance ``omega`` at its parameters ``theta`` to the penalty."""
        if self.omega and set(omega) != set(self.omega):
            raise ValueError("consolidate: the parameters differ from the earlier tasks'")
        if any((w < 0).any() or not torch.isfinite(w).all() for w in omega.values()):
            raise ValueError("importance must be finite and >= 0")
        if not self.omega or self.mode == "accumulate":
            for k, w in omega.items():
                self.omega[k] = w.detach().clone() if k not in self.omega else self.omega[k] + w
                self.anchor[k] = theta[k].detach().clone()
        else:  # separate: A' = A + Ω, m' = (A m + Ω θ) / A', c' = c + Σ (A m² + Ω θ² − A' m'²)
            for k, w in omega.items():
                a, m, t = self.omega[k].double(), self.anchor[k].double(), theta[k].double()
                a_new = a + w.double()
                m_new = torch.where(a_new > 0, (a * m + w.double() * t) / a_new.clamp_min(1e-300), t)
                self.constant += float((a * m ** 2 + w.double() * t ** 2 - a_new * m_new ** 2).sum())
                self.omega[k], self.anchor[k] = a_new.to(w.dtype), m_new.to(w.dtype)
        self.tasks_seen += 1

    def penalty(self, model: nn.Module) -> torch.Tensor:
        """``strength/2 · (Σ_k Ω_k (θ_k − θ*_k)² + c)``; zero before the first task is consolidated."""
        shared = shared_parameters(model)
        device = next(iter(shared.values())).device
        if not self.omega or self.strength == 0:
            return torch.zeros((), device=device)
        total = torch.zeros((), device=device)
        for k, p in shared.items():
            w, m = self.omega[k], self.anchor[k]
            if w.device != p.device:
                self.omega[k], self.anchor[k] = w.to(p.device), m.to(p.device)
                w, m = self.omega[k], self.anchor[k]
            total = total + (w * (p - m) ** 2).sum()
        return 0.5 * self.strength * (total + self.constant)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return self.penalty(model)


class EWC(Consolidation):
    """Elastic weight consolidation (Kirkpatrick et al. 2017): Ω = the Fisher diagonal.

    One penalty per past task, ``λ/2 Σ_t Σ_k F^t_k (θ_k − θ^t_k)²`` (``mode="separate"``,
    as in the original; ``"accumulate"`` gives a single penalty at the latest θ*),
    with ``F^t`` the true Fisher of :func:`afm.baselines.fisher.fisher_diagonal` on ``samples`` images of
    task ``t``.

    Args:
        strength: ``λ >= 0``.
        samples: samples of each task the Fisher is measured on.
        mode: ``"separate"`` (the default) or ``"accumulate"``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> data = TensorDataset(tag(torch.randn(8, 4), task=0), torch.randint(0, 2, (8,)))
        >>> ewc = EWC(strength=100.0)
        >>> ewc.after_task(model, 0, data)  # F^0 at θ^0, on the shared trunk only
        >>> {k: tuple(f.shape) for k, f in ewc.omega.items()}
        {'hidden.0.main.weight': (8, 4), 'hidden.0.main.bias': (8,)}
        >>> ewc(model).item()  # θ = θ^0
        0.0
    """

    name = "ewc"

    def __init__(self, strength: float, samples: int = 1000, mode: str = "separate") -> None:
        super().__init__(strength, samples, mode)

    def importance(self, model, data):
        return fisher_diagonal(model, data)


class MAS(Consolidation):
    """Memory-aware synapses (Aljundi et al. 2018): Ω = :func:`mas_importance`, accumulated.

    Args:
        strength: ``λ >= 0``.
        samples: samples of each task ``Ω`` is measured on.
        mode: ``"accumulate"`` (the default) or ``"separate"``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> mas = MAS(strength=1.0)
        >>> mas.after_task(model, 0, tag(torch.randn(8, 4), task=0))  # labels unused
        >>> with torch.no_grad():
        ...     _ = model.heads[0].bias.add_(1.0)
        >>> mas(model).item()  # θ = θ*: the heads are free, not in the penalty
        0.0
        >>> with torch.no_grad():
        ...     _ = model.hidden[0].main.bias.add_(1.0)
        >>> bool(torch.isclose(mas(model), mas.omega["hidden.0.main.bias"].sum() / 2))
        True
        >>> bool(mas(model) > 0)
        True
    """

    name = "mas"

    def importance(self, model, data):
        return mas_importance(model, data)


class ANPyC(Consolidation):
    """ANPyC's synaptic consolidation (Peng et al. 2022): Ω = :func:`anpyc_importance`.

    ``Ω^t`` is accumulated. Only the synaptic-consolidation half of ANPyC; its
    adversarial neural pruning schedule is not implemented.

    Args:
        strength: ``λ >= 0``.
        samples: samples of each task ``Ω`` is measured on.
        mode: ``"accumulate"`` (the default) or ``"separate"``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> anpyc = ANPyC(strength=1.0)
        >>> anpyc.after_task(model, 0, tag(torch.randn(8, 4), task=0))
        >>> sorted(anpyc.omega), anpyc.tasks_seen  # the shared trunk only
        (['hidden.0.main.bias', 'hidden.0.main.weight'], 1)
        >>> anpyc(model).item()  # θ = θ*
        0.0
    """

    name = "anpyc"

    def importance(self, model, data):
        return anpyc_importance(model, data)


class SynapticIntelligence(Consolidation):
    """Synaptic intelligence (Zenke et al. 2017): Ω from the path integral of the loss.

    During task ``t`` every step adds ``−g_k Δθ_k`` to ``ω_k`` (``g`` the gradient
    that made the step, ``Δθ`` the step itself); after the task
    ``Ω^t_k = ω_k / ((θ^t_k − θ^{t−1}_k)² + ξ)``, accumulated, ``θ* ← θ^t``.

    The strategy is both a regulariser (its penalty) and a training callback
    (``on_step``, which :func:`afm.train` calls after every optimizer step,
    when ``p.grad`` holds the gradient of the whole training loss that made it).

    Args:
        strength: ``λ >= 0``.
        xi: the damping ``ξ > 0``.

    Example:
        >>> from afm.baselines.continual import train_sequence
        >>> _ = torch.manual_seed(0)
        >>> tasks = [tag_dataset(TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,))), t)
        ...          for t in range(2)]
        >>> model = MultiHeadMLP((4, 8), n_tasks=2, n_classes=2)
        >>> si = SynapticIntelligence(strength=1.0)
        >>> _ = train_sequence(model, si, tasks, tasks, TrainConfig(epochs=1, batch_size=4),
        ...                    progress=False)
        >>> si.tasks_seen, {k: tuple(w.shape) for k, w in si.omega.items()}
        (2, {'hidden.0.main.weight': (8, 4), 'hidden.0.main.bias': (8,)})
        >>> all(bool((w >= 0).all()) for w in si.omega.values())
        True
    """

    name = "si"

    def __init__(self, strength: float, xi: float = 0.1) -> None:
        super().__init__(strength, samples=1, mode="accumulate")
        if not xi > 0:
            raise ValueError(f"the damping xi must be > 0, got {xi!r}")
        self.xi = float(xi)
        self._start: dict[str, torch.Tensor] = {}
        self._previous: dict[str, torch.Tensor] = {}
        self._path: dict[str, torch.Tensor] = {}

    def callbacks(self) -> list:
        return [self]

    def before_task(self, model: nn.Module, task: int) -> None:
        shared = shared_parameters(model)
        self._start = {k: p.detach().clone() for k, p in shared.items()}
        self._previous = {k: p.detach().clone() for k, p in shared.items()}
        self._path = {k: torch.zeros_like(p) for k, p in shared.items()}

    def on_step(self, model: nn.Module, step: int, batch_loss: float) -> None:
        """After each step: ``ω_k ← ω_k − g_k Δθ_k``, ``g`` the gradient that made the step ``Δθ``."""
        if not self._path:
            raise RuntimeError("SynapticIntelligence: call before_task(model, task) before training")
        shared = shared_parameters(model)
        for k, p in shared.items():
            if p.grad is not None:
                self._path[k] = self._path[k].to(p.device) - p.grad.detach() * (
                    p.detach() - self._previous[k].to(p.device))
        self._previous = {k: p.detach().clone() for k, p in shared.items()}

    def after_task(self, model: nn.Module, task: int, data=None) -> None:
        shared = shared_parameters(model)
        omega = {k: (self._path[k].to(p.device) / ((p.detach() - self._start[k].to(p.device)) ** 2
                                                     + self.xi)).clamp_min(0.0)
                 for k, p in shared.items()}
        self.consolidate(omega, {k: p.detach().clone() for k, p in shared.items()})
        self._path = {}
