"""The setting of Fig. 5: a shared trunk with one output head per task, the task id with the input.

"All tasks share network parameters except for the output layer": :class:`MultiHeadMLP`
is the trunk (``afm.models.Block``: Linear → ReLU → forgetting layer or Identity) with one
linear head per task. The task id travels *with the input*, as its last feature
(:func:`tag`), so one batch may mix tasks (joint training) and the one training loop,
:func:`afm.train`, needs nothing new. :func:`shared_parameters` are what the
consolidation strategies protect.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import TensorDataset

from afm.models import Block
from afm.train import as_tensors


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
