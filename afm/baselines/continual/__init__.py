"""Continual learning on a shared trunk with one output head per task: the strategies of Fig. 5.

The paper's long-sequence experiment (Fig. 5) learns ten Permuted-MNIST tasks
one after the other; "all tasks share network parameters except for the
output layer". This module holds that setting and the strategies behind one
interface, named after Avalanche's where they exist:

* :class:`MultiHeadMLP`: the shared trunk (``afm.models.Block``: Linear → ReLU →
  forgetting layer or Identity) with one linear head per task. The task id
  travels *with the input*, as its last feature (:func:`tag`), so one batch may
  mix tasks (joint training) and the one training loop, :func:`afm.train`,
  needs nothing new.
* The strategies: :class:`Naive` (fine-tuning, the paper's ``sgd``),
  :class:`JointTraining` (all tasks at once), and the quadratic consolidation
  penalties :class:`EWC`, :class:`MAS`, :class:`SynapticIntelligence` and
  :class:`ANPyC`. Each consolidation strategy is a regulariser of the book's
  training loop (``reg(model) -> scalar``, with a ``name``) that returns
  ``strength/2 · Σ_k Ω_k (θ_k − θ*_k)²`` over the shared parameters, and
  updates Ω and θ* in :meth:`~Consolidation.after_task`.
* :func:`train_sequence` runs a strategy over a list of tasks and returns the
  accuracy matrix; :func:`first_task_accuracy` and :func:`average_accuracy`
  read Fig. 5b's two curves from it, :func:`learning_accuracy` and
  :func:`backward_transfer` split the final average into learning and forgetting.
* The importances: :func:`fisher_diagonal` (EWC), :func:`mas_importance`,
  :func:`anpyc_importance`, computed from exact per-sample gradients
  (:func:`per_sample_gradient_sum`), and :func:`polarisation`, the summary of
  Fig. 5c.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from afm.layer import forgetting_layers
from afm.models import Block
from afm.train import TrainConfig, as_tensors, evaluate, train

# --------------------------------------------------------------------------- the model


def tag(x: torch.Tensor, task: int) -> torch.Tensor:
    """Inputs with their task id appended as the last feature: ``(B, *) -> (B, D + 1)``.

    Example:
        >>> tag(torch.zeros(2, 1, 2, 2), task=3)
        tensor([[0., 0., 0., 0., 3.],
                [0., 0., 0., 0., 3.]])
    """
    if int(task) != task or task < 0:
        raise ValueError(f"task must be a non-negative integer, got {task!r}")
    flat = x.reshape(x.shape[0], -1)
    return torch.cat([flat, flat.new_full((flat.shape[0], 1), float(task))], dim=1)


def tag_dataset(data: TensorDataset, task: int) -> TensorDataset:
    """``TensorDataset(x, y)`` → ``TensorDataset(tag(x, task), y)``."""
    x, y = as_tensors(data)
    return TensorDataset(tag(x, task), y)


class MultiHeadMLP(nn.Module):
    """A shared MLP trunk with one linear output head per task (the setting of Fig. 5).

    The trunk is ``widths[0] → widths[1] → … → widths[-1]``, every hidden layer an
    :class:`afm.models.Block` (Linear → ReLU → :class:`~afm.ForgettingLayer` when
    ``forgetting``, else Identity), the same blocks as :class:`afm.MLP`. Head ``t``
    is ``Linear(widths[-1], n_classes)``.

    Inputs carry their task: ``(B, widths[0] + 1)`` with the task id as the last
    feature (:func:`tag`); each sample is answered by its own task's head, so a
    batch may mix tasks, and a head receives gradient only from its own task's
    samples.

    Shapes: ``(B, widths[0] + 1)`` (or any ``(B, *)`` that flattens to it) → logits
    ``(B, n_classes)``.

    Example:
        >>> model = MultiHeadMLP((784, 512, 256), n_tasks=10)
        >>> model(tag(torch.zeros(4, 1, 28, 28), task=2)).shape
        torch.Size([4, 10])
    """

    def __init__(self, widths: Sequence[int] = (784, 512, 256), n_tasks: int = 10,
                 n_classes: int = 10, forgetting: bool = False, rho: float = 1.0,
                 shortcut: bool = True, gate: str = "dense") -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths must be [input, hidden...] with at least one hidden layer "
                             f"and positive entries, got {widths}")
        if n_tasks < 1 or n_classes < 2:
            raise ValueError(f"need n_tasks >= 1 and n_classes >= 2, got {n_tasks}, {n_classes}")
        self.widths, self.n_tasks, self.n_classes = widths, int(n_tasks), int(n_classes)
        self.hidden = nn.ModuleList(
            Block(nn.Linear(w_in, w_out), w_out, forgetting, rho=rho, shortcut=shortcut, gate=gate)
            for w_in, w_out in zip(widths[:-1], widths[1:]))
        self.heads = nn.ModuleList(nn.Linear(widths[-1], n_classes) for _ in range(n_tasks))

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features (B, widths[0]), task ids (B,) int64)`` of tagged inputs, checked."""
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.widths[0] + 1:
            raise ValueError(f"MultiHeadMLP expects tagged inputs with {self.widths[0]} features "
                             f"plus the task id (use afm.baselines.continual.tag), got {x.shape[1]} features")
        task = x[:, -1].round().long()
        if x.shape[0] and (task.min() < 0 or task.max() >= self.n_tasks):
            raise ValueError(f"task ids must lie in [0, {self.n_tasks}), got "
                             f"{int(task.min())}..{int(task.max())}")
        return x[:, :-1], task

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's output ``(B, widths[-1])`` for tagged inputs."""
        h, _ = self.split(x)
        for block in self.hidden:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, task = self.split(x)
        for block in self.hidden:
            h = block(h)
        logits = torch.stack([head(h) for head in self.heads], dim=1)  # (B, T, C)
        return logits[torch.arange(h.shape[0], device=h.device), task]

    def excitatory_names(self) -> list[str]:
        """Module names of the trunk's ReLUs (the ``h`` of Eq. 3), as in :class:`afm.MLP`."""
        return [name for name, m in self.named_modules() if name.endswith(".act")]

    def shared_parameters(self) -> dict[str, nn.Parameter]:
        """The parameters every task shares: the trunk (forgetting layers included), no heads."""
        return {n: p for n, p in self.named_parameters() if not n.startswith("heads.")}


def shared_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """``model.shared_parameters()`` when the model has it, else every parameter.

    Args:
        model: e.g. a :class:`MultiHeadMLP` (its trunk), or any module (all of it).

    Returns:
        ``{parameter name: parameter}``, each of its own shape, in ``named_parameters`` order.

    Example:
        >>> list(shared_parameters(MultiHeadMLP((4, 3), n_tasks=2)))  # the trunk, no heads
        ['hidden.0.main.weight', 'hidden.0.main.bias']
        >>> list(shared_parameters(nn.Linear(2, 1)))  # no shared_parameters(): every one
        ['weight', 'bias']
    """
    if hasattr(model, "shared_parameters"):
        return dict(model.shared_parameters())
    return dict(model.named_parameters())


# --------------------------------------------------------------------------- per-sample gradients


def _batches(data, batch_size: int):
    x = data.tensors[0] if isinstance(data, TensorDataset) else (
        data[0] if isinstance(data, (tuple, list)) else data)
    if not isinstance(x, torch.Tensor) or x.shape[0] == 0:
        raise ValueError("importance needs a non-empty TensorDataset, (x, y) pair or tensor x")
    for start in range(0, x.shape[0], batch_size):
        yield x[start:start + batch_size]


def per_sample_gradient_sum(model: nn.Module, x: torch.Tensor,
                            objectives: Callable[[torch.Tensor], list[tuple[torch.Tensor | None, torch.Tensor]]],
                            power: int = 2) -> dict[str, torch.Tensor]:
    """``Σ_n Σ_terms w_n |∂ s_n / ∂θ|^power`` for every parameter, from per-sample gradients.

    ``objectives(logits)`` returns terms ``(w, s)``: per-sample scalars ``s`` of shape
    ``(B,)`` and per-sample weights ``w`` ``(B,)`` (or ``None`` for 1). The samples must be
    independent (no batch norm), so one backward pass of ``Σ_n s_n`` gives every
    sample's gradient at the output ``z`` of each layer; a weight's per-sample
    gradient is then the outer product of that and the layer's input ``a``, and
    ``|δ ⊗ a|^p = |δ|^p ⊗ |a|^p`` sums over samples as one matrix product. This is
    how EWC's Fisher and MAS's importance cost a few backward passes instead of one
    per sample.

    Supports :class:`torch.nn.Linear` and :class:`~afm.ForgettingLayer` (every gate
    mode, 2-D inputs); any other module with parameters raises ``ValueError``.

    Args:
        model: evaluated as it is (call ``.eval()`` first if it matters); its logits
            ``(B, C)`` are what ``objectives`` receives.
        x: ``(B, ...)`` inputs.
        objectives: ``logits (B, C) -> [(w (B,) or None, s (B,)), ...]``, see above.
        power: 2 (squares: the Fisher) or 1 (absolute values: MAS).

    Returns:
        ``{parameter name: tensor of the parameter's shape}`` on the parameters' device
        (every parameter of ``model``), summed over the ``B`` samples, not averaged.

    Example:
        With ``s_n = Σ_c z_nc`` of a linear layer ``z = W x + b``, ``∂ s_n / ∂W_cj = x_nj``
        and ``∂ s_n / ∂b_c = 1``, whatever the weights:

        >>> x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]])
        >>> g = per_sample_gradient_sum(nn.Linear(3, 2), x, lambda z: [(None, z.sum(1))])
        >>> g["weight"]  # Σ_n x_nj², in every row
        tensor([[ 2.,  4., 10.],
                [ 2.,  4., 10.]])
        >>> g["bias"]  # Σ_n 1² over B = 2 samples
        tensor([2., 2.])
    """
    if power not in (1, 2):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    gates = list(forgetting_layers(model))
    covered = {f"{n}.{p}" if n else p for n, m in linears + gates
               for p, _ in m.named_parameters(recurse=False)}
    missing = [n for n, _ in model.named_parameters() if n not in covered]
    if missing:
        raise ValueError(f"per-sample gradients support Linear and ForgettingLayer parameters "
                         f"only; not {missing[:5]}")
    store: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(name):
        def fn(_module, inputs, output):
            store[name] = (inputs[0].detach(), output)
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in linears]
    try:
        with torch.enable_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    for name, layer in gates:
        if layer.gate is None or layer.gate.dim() != 2:
            raise ValueError(f"{name}: per-sample gradients need 2-D (B, N) forgetting layers")
    outputs = [store[n][1] for n, _ in linears] + [layer.gate for _, layer in gates]
    acc = [None] * len(outputs)
    terms = objectives(logits)
    for k, (w, s) in enumerate(terms):
        deltas = torch.autograd.grad(s.sum(), outputs, retain_graph=k < len(terms) - 1,
                                     allow_unused=True)
        for i, d in enumerate(deltas):
            if d is None:
                d = torch.zeros_like(outputs[i])
            if i >= len(linears):  # the gate: ∂/∂z = ρ σ (1 - σ) ∂/∂σ, z = h W_f + b
                _, layer = gates[i - len(linears)]
                sigma = layer.gate.detach()
                d = d * layer.rho * sigma * (1 - sigma)
            d = d.detach().abs() ** power
            if w is not None:
                d = d * w.detach()[:, None]
            acc[i] = d if acc[i] is None else acc[i] + d
    out: dict[str, torch.Tensor] = {}
    for (name, module), d in zip(linears, acc[:len(linears)]):
        a = store[name][0].reshape(d.shape[0], -1).abs() ** power
        prefix = f"{name}." if name else ""
        out[prefix + "weight"] = d.T @ a
        if module.bias is not None:
            out[prefix + "bias"] = d.sum(0)
    for (name, layer), d in zip(gates, acc[len(linears):]):
        h = layer.excitation.detach().abs() ** power
        prefix = f"{name}." if name else ""
        if layer.gate_mode == "dense":      # z_j = Σ_i h_i W_ij + b_j
            out[prefix + "weight"] = h.T @ d
        elif layer.gate_mode == "diagonal":  # z_i = w_i h_i + b_i
            out[prefix + "weight"] = (h * d).sum(0)
        else:                                # z_i = w_i
            out[prefix + "weight"] = d.sum(0)
        if layer.bias is not None:
            out[prefix + "bias"] = d.sum(0)
    return out


def fisher_diagonal(model: nn.Module, data, batch_size: int = 250) -> dict[str, torch.Tensor]:
    """EWC's importance: the diagonal of the Fisher information, from the model's own predictions.

    ``F_k = E_x Σ_y p_θ(y|x) (∂ log p_θ(y|x) / ∂θ_k)²``, the *true* Fisher: the
    expectation over the labels is exact (every class, weighted by the model's
    predicted probability), not sampled, and not the "empirical" Fisher of the
    true labels. The mean over the samples of ``data`` (labels, if any, unused).

    Args:
        model: a model :func:`per_sample_gradient_sum` supports (``Linear`` and forgetting
            layers), evaluated as it is; logits ``(B, C)``.
        data: ``N`` samples: a ``TensorDataset``, an ``(x, y)`` pair or a tensor ``x``
            ``(N, ...)``.
        batch_size: samples per backward pass (the result does not depend on it).

    Returns:
        ``{parameter name: F of the parameter's shape}``, for every parameter.

    Example:
        With all parameters zero, ``p = (½, ½)`` for every ``x`` and
        ``F_{b_c} = Σ_y p_y (δ_yc − p_c)² = ¼``; ``F_{W_cj} = ¼ x_j²``:

        >>> lin = nn.Linear(3, 2)
        >>> _ = nn.init.zeros_(lin.weight), nn.init.zeros_(lin.bias)
        >>> fisher = fisher_diagonal(lin, torch.ones(4, 3))
        >>> fisher["bias"]
        tensor([0.2500, 0.2500])
        >>> fisher["weight"]
        tensor([[0.2500, 0.2500, 0.2500],
                [0.2500, 0.2500, 0.2500]])
    """
    return _mean_over(data, batch_size, lambda xb: per_sample_gradient_sum(
        model, xb, _fisher_terms, power=2))


def _fisher_terms(logits: torch.Tensor):
    log_p = F.log_softmax(logits, dim=1)
    p = log_p.exp()
    return [(p[:, c], log_p[:, c]) for c in range(logits.shape[1])]


def mas_importance(model: nn.Module, data, batch_size: int = 250) -> dict[str, torch.Tensor]:
    """MAS's importance: ``Ω_k = E_x |∂ ‖f(x)‖² / ∂θ_k|``, ``f(x)`` the output logits.

    Aljundi et al.'s memory-aware synapses: the sensitivity of the squared L2 norm
    of the output to each parameter, per sample, in absolute value, averaged over
    ``data`` (unsupervised: labels unused).

    Args:
        model: a model :func:`per_sample_gradient_sum` supports, evaluated as it is;
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


def _mean_over(data, batch_size, fn) -> dict[str, torch.Tensor]:
    total, n = None, 0
    for xb in _batches(data, batch_size):
        part = fn(xb)
        total = part if total is None else {k: total[k] + v for k, v in part.items()}
        n += xb.shape[0]
    return {k: v / n for k, v in total.items()}


# --------------------------------------------------------------------------- strategies


class Naive:
    """Fine-tuning: learn each task in turn with nothing added (the paper's ``sgd``).

    The lower bound of Fig. 5: no regulariser, nothing kept between tasks.

    Example:
        >>> strategy = Naive()
        >>> strategy.name, strategy.joint, strategy.regularisers()
        ('naive', False, [])
    """

    name = "naive"
    joint = False

    def before_task(self, model: nn.Module, task: int) -> None:
        pass

    def regularisers(self) -> list:
        return []

    def after_task(self, model: nn.Module, task: int, data) -> None:
        pass


class JointTraining(Naive):
    """All tasks at once: one model trained on the union of every task's data (the upper bound).

    :func:`train_sequence` trains it once, on the shuffled union, and evaluates it
    on every task; row ``t`` of its accuracy matrix is that one model on tasks ``0..t``.

    Example:
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
    the penalty (``afm.train`` calls it after each forward pass).

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
    with ``F^t`` the true Fisher of :func:`fisher_diagonal` on ``samples`` images of
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

    ``afm.train`` has no per-step hook, so the accumulation happens in the
    regulariser's own call, which the loop makes once per step after the forward
    pass and before the backward pass: at that moment ``p.grad`` still holds the
    previous step's gradient (of the whole training loss: task, this penalty and
    any other regulariser) and ``θ`` has just moved by that step's update. The
    last step of a task is added in ``after_task``, where ``p.grad`` still
    holds it.

    Args:
        strength: ``λ >= 0``.
        xi: the damping ``ξ > 0``.

    Example:
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
        self._previous: dict[str, torch.Tensor] | None = None
        self._path: dict[str, torch.Tensor] = {}

    def before_task(self, model: nn.Module, task: int) -> None:
        shared = shared_parameters(model)
        self._start = {k: p.detach().clone() for k, p in shared.items()}
        self._path = {k: torch.zeros_like(p) for k, p in shared.items()}
        self._previous = None

    def _accumulate(self, model: nn.Module) -> None:
        shared = shared_parameters(model)
        if not self._path:
            raise RuntimeError("SynapticIntelligence: call before_task(model, task) before training")
        if self._previous is not None:
            for k, p in shared.items():
                if p.grad is not None:
                    self._path[k] = self._path[k].to(p.device) - p.grad.detach() * (
                        p.detach() - self._previous[k].to(p.device))
        self._previous = {k: p.detach().clone() for k, p in shared.items()}

    def __call__(self, model: nn.Module) -> torch.Tensor:
        self._accumulate(model)
        return self.penalty(model)

    def after_task(self, model: nn.Module, task: int, data=None) -> None:
        self._accumulate(model)  # the task's last step
        shared = shared_parameters(model)
        omega = {k: (self._path[k].to(p.device) / ((p.detach() - self._start[k].to(p.device)) ** 2
                                                     + self.xi)).clamp_min(0.0)
                 for k, p in shared.items()}
        self.consolidate(omega, {k: p.detach().clone() for k, p in shared.items()})
        self._previous = None


# --------------------------------------------------------------------------- the sequence


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
                        progress=progress, desc=f"{desc} task {t + 1}/{n}")
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


# --------------------------------------------------------------------------- Fig. 5c


#: Bounds of the three ranges of :func:`polarisation`, relative to the mean importance.
POLARISATION_BOUNDS = (0.1, 10.0)


def polarisation(importance: torch.Tensor | np.ndarray,
                 bounds: tuple[float, float] = POLARISATION_BOUNDS) -> dict[str, float]:
    """How polarised a set of parameter importances is (Fig. 5c), independent of their scale.

    Each importance is divided by the mean importance, ``u = Ω / mean(Ω)``, so that
    methods with different units (a Fisher, a gradient norm) compare. The shares
    of parameters with ``u < bounds[0]`` (**near zero**), ``u > bounds[1]``
    (**top**) and in between (**middle**) sum to 1: a polarised distribution has
    more near zero and at the top and fewer in the middle. Also the Gini
    coefficient of Ω (0: all equal; → 1: a few parameters carry all importance)
    and the share of the total importance that the top range carries.

    Args:
        importance: any shape, non-negative, not all zero.

    Example:
        >>> polarisation(np.array([0.0, 0.0, 1.0, 1.0]))["near_zero"]
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
