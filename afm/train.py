"""The one training loop of every experiment in the book.

``train(model, data, config, regularisers)`` minimises
``task loss + Σ regulariser(model)`` (Eq. 9 when the regulariser is
:class:`afm.regularisers.Forgetting`), seeded, on CUDA when present, with a
progress bar and a per-epoch history of losses, accuracies and gate states.
Callbacks (:class:`Callback`) observe every step without changing it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset
from tqdm import tqdm

from afm.checks import check_inputs_finite, check_int, check_real, check_tensor, stored_tensors, to_float
from afm.device import default_device, evaluating, to_device
from afm.env import progress as env_progress
from afm.layer import forgetting_layers

OPTIMIZERS = ("sgd", "adam")
#: Learning-rate schedules: ``constant``, or ``cosine`` (from ``lr`` down to 0 over the run's steps).
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Everything the loop needs besides the model, the data and the regularisers.

    Args:
        epochs: passes over the training data (``0`` only records the switches before learning).
        batch_size: samples per step; the data are shuffled each epoch with ``seed``.
        lr: the learning rate, ``> 0``.
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        momentum: SGD's momentum (ignored by Adam).
        seed: seeds the shuffling of the batches.
        schedule: ``"constant"`` (``lr`` throughout) or ``"cosine"``: step ``t`` of ``T``
            uses ``lr · (1 + cos(π t / T)) / 2``, down to 0 at the end
            (:func:`afm.train.learning_rate`).

    Raises:
        TypeError: for a count that is not an integer (``epochs=1.5``, ``batch_size=True``) or
            a rate that is not a number.
        ValueError: for an unknown optimizer or schedule, ``epochs < 0``, ``batch_size < 1``, ``lr <= 0``
            or a non-finite ``lr`` or ``momentum``.

    Example:
        >>> TrainConfig(epochs=1, batch_size=8)
        TrainConfig(epochs=1, batch_size=8, lr=0.05, optimizer='sgd', momentum=0.9, seed=0, schedule='constant')
        >>> TrainConfig(optimizer="rmsprop")
        Traceback (most recent call last):
            ...
        ValueError: unknown optimizer 'rmsprop': expected one of ('sgd', 'adam')
    """

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    seed: int = 0
    schedule: str = "constant"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: expected one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: expected one of {SCHEDULES}")
        _check_config(self)


def _check_config(config: TrainConfig) -> None:
    """Types and ranges of a :class:`TrainConfig`, at construction (not at the first step)."""
    check_int(config.epochs, "TrainConfig.epochs", 0)
    check_int(config.batch_size, "TrainConfig.batch_size", 1)
    check_int(config.seed, "TrainConfig.seed")
    check_real(config.lr, "TrainConfig.lr", positive=True, what="the learning rate")
    check_real(config.momentum, "TrainConfig.momentum", nonnegative=True)


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    """The learning rate of ``step`` (from 0) of ``total`` under ``config.schedule``.

    Example:
        >>> cosine = TrainConfig(lr=0.1, schedule="cosine")
        >>> [round(learning_rate(cosine, t, 4), 4) for t in range(4)]
        [0.1, 0.0854, 0.05, 0.0146]
        >>> learning_rate(TrainConfig(lr=0.1), 3, 4)
        0.1
    """
    if config.schedule == "constant":
        return config.lr
    return config.lr * (1.0 + math.cos(math.pi * step / max(1, total))) / 2.0


@dataclass
class History:
    """Per-epoch record of one training run (index 0 of ``gates`` is before training).

    Attributes:
        loss: the mean task loss (cross-entropy) of each epoch.
        reg: the mean total of the regularisers of each epoch.
        train_acc: the accuracy on the batches seen in each epoch.
        eval_acc: the accuracy on ``eval_data`` after each epoch (empty without it).
        batch_loss: the task loss of every step.
        gates: ``{forgetting layer name: [(N,) mean σ]}``: ``epochs + 1`` tensors of shape
            ``(N,)``, the first before training, then the mean over each epoch's samples.
        seconds: the wall-clock time of the epochs.

    Example:
        >>> from afm import MLP
        >>> _ = torch.manual_seed(0)
        >>> history = train(MLP([4, 3, 2]), (torch.randn(16, 4), torch.randint(0, 2, (16,))),
        ...                 TrainConfig(epochs=1, batch_size=8), progress=False)
        >>> len(history.loss), len(history.batch_loss), list(history.gates)
        (1, 2, ['hidden.0.forget'])
        >>> [g.shape for g in history.gates["hidden.0.forget"]]
        [torch.Size([3]), torch.Size([3])]
    """

    loss: list[float] = field(default_factory=list)        # mean task loss per epoch
    reg: list[float] = field(default_factory=list)         # mean regulariser total per epoch
    train_acc: list[float] = field(default_factory=list)   # accuracy on the batches seen
    eval_acc: list[float] = field(default_factory=list)    # accuracy on eval_data per epoch
    batch_loss: list[float] = field(default_factory=list)  # task loss of every step
    gates: dict[str, list[torch.Tensor]] = field(default_factory=dict)  # name -> [(N,) mean σ]
    seconds: float = 0.0


def as_tensors(data: TensorDataset | tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` from a ``TensorDataset`` or a pair, checked: same length, float x, int64 y,
    no NaN or ±inf in x."""
    x, y = _pair(data, data.tensors if isinstance(data, TensorDataset) else data)
    if not x.is_floating_point():
        raise TypeError(f"expected float inputs and int64 labels, got {x.dtype} and {y.dtype}")
    check_inputs_finite(x, "the inputs x")
    return x, y


def _pair(data, tensors) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(tensors, (tuple, list)) and len(tensors) == 2):
        raise TypeError("expected a TensorDataset(x, y) or a pair (x, y) of tensors, got "
                        f"{type(data).__name__}")
    x, y = check_tensor(tensors[0], "the inputs x"), check_tensor(tensors[1], "the labels y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
    if y.dtype != torch.long:
        raise TypeError(f"expected float inputs and int64 labels, got {x.dtype} and {y.dtype}")
    return x, y


def _stored(data, what: str, empty_ok: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` as :func:`as_tensors`, but uint8 images of :class:`afm.data.ByteImages` stay
    uint8 (:func:`batches` converts them per batch); an empty dataset is an error."""
    if getattr(data, "stored_tensors", None) is not None:
        x, y = _pair(data, stored_tensors(data))
    else:
        x, y = as_tensors(data)
    if x.shape[0] == 0 and not empty_ok:
        raise ValueError(f"{what} got no samples (x has shape {tuple(x.shape)}): pass a "
                         f"non-empty dataset")
    return x, y


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches by slicing in-memory tensors (much faster than a per-sample DataLoader).

    uint8 ``x`` (images 0-255, as :class:`afm.data.ByteImages` keeps CIFAR-10) is converted
    to float32 in [0, 1] batch by batch: the same numbers as converting the whole set first.
    """
    n = x.shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            yield to_float(x[start:start + batch_size]), y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield to_float(x[idx]), y[idx]


def loader(data, batch_size: int = 1000) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A re-iterable list of ``(x, y)`` batches of ``data``, in order."""
    return list(batches(*_stored(data, "loader", empty_ok=True), batch_size))


def evaluate(model: nn.Module, data, batch_size: int = 1000) -> float:
    """Accuracy of ``model`` on ``data`` (a TensorDataset or ``(x, y)``), in eval mode.

    Args:
        model: any classifier ``(B, ...) -> (B, C)`` logits; its training mode is restored.
        data: a ``TensorDataset(x, y)`` or a pair ``(x, y)``: float inputs ``(num_samples, ...)``
            and int64 labels ``(num_samples,)``.
        batch_size: samples per forward pass (no effect on the result).

    Returns:
        The fraction of samples whose arg-max logit is the label, a float in [0, 1].

    Raises:
        ValueError: for empty data (no accuracy to report, rather than 0.0) or non-finite inputs.

    Example:
        >>> from afm import MLP, accuracy
        >>> _ = torch.manual_seed(0)
        >>> model = MLP([4, 3, 2])
        >>> x, y = torch.randn(10, 4), torch.randint(0, 2, (10,))
        >>> acc = evaluate(model, (x, y), batch_size=4)
        >>> type(acc).__name__, acc == accuracy(model(x), y)
        ('float', True)
    """
    x, y = _stored(data, "evaluate")
    correct = 0
    with evaluating(model) as device, torch.no_grad():
        for xb, yb in batches(x, y, batch_size):
            correct += int((model(to_device(xb, device)).argmax(1).cpu() == yb).sum())
    return correct / x.shape[0]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer of ``config`` over ``model``'s parameters, updating them all in one call
    (``foreach``: the same operations on each tensor as the per-parameter loop, so the same
    numbers, without a Python loop per parameter and step)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               foreach=True)
    return torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True)


class Callback(Protocol):
    """What :func:`afm.train` calls while it trains (Avalanche calls these plugins' hooks).

    ``on_step(model, step, batch_loss)`` runs after every optimizer step, in order:
    ``step`` counts from 0 over the whole run, ``batch_loss`` is that step's task loss,
    the parameters have just moved, ``p.grad`` holds the gradient that moved them and
    each forgetting layer still holds the ``gate``/``excitation`` of that step's forward
    pass. ``on_epoch_end(model, epoch, history)`` (optional) runs after each epoch's
    record. A callback observes: it adds nothing to the loss, so a run with and without
    it gives the same numbers (:class:`afm.baselines.continual.SynapticIntelligence`,
    the gate trace of Fig. 1f).

    Example:
        >>> class Steps:
        ...     def __init__(self): self.seen = []
        ...     def on_step(self, model, step, batch_loss): self.seen.append(step)
        >>> from afm import MLP
        >>> steps = Steps()
        >>> _ = train(MLP([4, 3, 2]), (torch.randn(16, 4), torch.randint(0, 2, (16,))),
        ...           TrainConfig(epochs=2, batch_size=8), callbacks=[steps], progress=False)
        >>> steps.seen
        [0, 1, 2, 3]
    """

    def on_step(self, model: nn.Module, step: int, batch_loss: float) -> None: ...


def _check_callbacks(callbacks) -> list:
    callbacks = list(callbacks)
    for c in callbacks:
        if not (callable(getattr(c, "on_step", None)) or callable(getattr(c, "on_epoch_end", None))):
            raise TypeError(f"a callback needs an on_step(model, step, batch_loss) or "
                            f"on_epoch_end(model, epoch, history) method; got {type(c).__name__}")
    return callbacks


def _progress_enabled(progress: bool | None) -> bool:
    return env_progress() if progress is None else progress


def train(model: nn.Module, data, config: TrainConfig = TrainConfig(),
          regularisers: Sequence[Callable[[nn.Module], torch.Tensor]] = (),
          eval_data=None, device: torch.device | None = None, progress: bool | None = None,
          desc: str = "train", callbacks: Sequence[Callback] = ()) -> History:
    """Train ``model`` in place on ``data`` and return its :class:`History`.

    Args:
        model: any classifier ``(B, ...) -> (B, C)`` logits.
        data: a ``TensorDataset(x, y)`` or a pair ``(x, y)``: float inputs ``(num_samples, ...)``
            and int64 labels ``(num_samples,)``.
        config: epochs, batch size, optimizer, learning rate, seed (shuffling).
        regularisers: callables ``reg(model) -> scalar`` added to the cross-entropy,
            e.g. ``[afm.regularisers.Forgetting(lam=1.0, beta=1e-4)]`` for Eq. (9).
        eval_data: evaluated after every epoch into ``history.eval_acc``.
        device: default ``afm.device.default_device()`` (``AFM_DEVICE`` overrides).
        progress: a tqdm bar (default on; ``AFM_PROGRESS=0`` turns it off).
        desc: the label of the progress bar and of error messages.
        callbacks: objects with ``on_step(model, step, batch_loss)`` and/or
            ``on_epoch_end(model, epoch, history)``, called in order (:class:`afm.train.Callback`).

    Returns:
        The run's :class:`History`: one entry per epoch in ``loss``, ``reg``, ``train_acc``
        (and ``eval_acc``), one per step in ``batch_loss``, and ``epochs + 1`` mean switch
        states ``(N,)`` per forgetting layer in ``gates``.

    Raises:
        ValueError: when ``data`` or ``eval_data`` is empty or its inputs hold NaN or ±inf
            (checked before the first step: the data, not the learning rate, are at fault).
        TypeError: for data that is not a ``TensorDataset``/pair of tensors, float inputs and
            int64 labels (a NumPy array is named, with the fix).
        FloatingPointError: when the loss becomes NaN or infinite, naming the step.

    Example:
        >>> from afm import MLP, Forgetting
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
        >>> model = MLP([4, 3, 2])
        >>> history = train(model, (x, y), TrainConfig(epochs=1, batch_size=8),
        ...                 regularisers=[Forgetting(lam=1.0)], eval_data=(x, y), progress=False)
        >>> len(history.loss), len(history.reg), len(history.eval_acc), len(history.batch_loss)
        (1, 1, 1, 2)
        >>> history.gates["hidden.0.forget"][0]  # every switch half open before learning
        tensor([0.5000, 0.5000, 0.5000])
    """
    x, y = _stored(data, desc)
    if eval_data is not None:
        _stored(eval_data, f"{desc}: eval_data")
    callbacks = _check_callbacks(callbacks)
    device = default_device() if device is None else device
    # Closed switches make tiny products; denormal floats would slow the CPU ~20x.
    torch.set_flush_denormal(True)
    model.to(device)
    optimizer = make_optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    layers = list(forgetting_layers(model))
    history = History(gates={name: [] for name, _ in layers})
    if layers:  # the switches before learning
        model.eval()
        with torch.no_grad():
            model(to_device(to_float(x[: config.batch_size]), device))
        model.train()
        for name, layer in layers:
            history.gates[name].append(layer.gate.mean(0).cpu())
    start = time.perf_counter()
    global_step = 0
    total_steps = config.epochs * math.ceil(x.shape[0] / config.batch_size)
    bar = tqdm(range(config.epochs), desc=desc, disable=not _progress_enabled(progress),
               leave=False, mininterval=1.0)
    for epoch in bar:
        model.train()
        sums = {"loss": 0.0, "reg": 0.0, "correct": 0, "n": 0}
        gate_sums = {name: 0.0 for name, _ in layers}
        for step, (xb, yb) in enumerate(batches(x, y, config.batch_size, True, generator)):
            xb, yb = to_device(xb, device), to_device(yb, device)
            logits = model(xb)
            task = F.cross_entropy(logits, yb)
            reg = sum((r(model) for r in regularisers), torch.zeros((), device=device))
            loss = task + reg
            # the three scalars in one read (one device sync per step, not three)
            loss_value, task_value, reg_value = torch.stack(
                (loss.detach(), task.detach(), reg.detach())).tolist()
            if not math.isfinite(loss_value):
                raise FloatingPointError(
                    f"{desc}: the loss became {loss_value} at epoch {epoch}, step {step} "
                    f"(task {task_value:.4g}, regularisers {reg_value:.4g}); lower the learning "
                    f"rate (lr={config.lr}) or the regulariser strengths")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.schedule != "constant":
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, global_step, total_steps)
            optimizer.step()
            b = yb.shape[0]
            history.batch_loss.append(task_value)
            sums["loss"] += task_value * b
            sums["reg"] += reg_value * b
            sums["correct"] += int((logits.argmax(1) == yb).sum())
            sums["n"] += b
            for name, layer in layers:
                gate_sums[name] = gate_sums[name] + layer.gate.detach().sum(0)
            for callback in callbacks:
                if hasattr(callback, "on_step"):
                    callback.on_step(model, global_step, task_value)
            global_step += 1
        n = max(1, sums["n"])
        history.loss.append(sums["loss"] / n)
        history.reg.append(sums["reg"] / n)
        history.train_acc.append(sums["correct"] / n)
        for name, _ in layers:
            history.gates[name].append((gate_sums[name] / n).cpu())
        if eval_data is not None:
            history.eval_acc.append(evaluate(model, eval_data))
        for callback in callbacks:
            if hasattr(callback, "on_epoch_end"):
                callback.on_epoch_end(model, epoch, history)
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", acc=f"{history.train_acc[-1]:.3f}")
    history.seconds = time.perf_counter() - start
    return history
