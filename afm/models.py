"""The paper's networks, with forgetting layers where asked.

* :class:`MLP`: an MLP built from a list of widths, e.g. ``[784, 256, 256, 128, 10]``.
* :class:`LeNet5`: LeNet-5 for 32×32 RGB images (CIFAR-10), forgetting layers on
  the convolutional channels and the hidden units.
* :class:`VGG9`: 6 convolutional + 3 fully connected layers with batch norm.

Every hidden block is ``linear-or-conv → [batch norm] → ReLU → forgetting layer``
(or ``Identity`` in the plain network), and its ReLU module is named ``act`` so
that :func:`afm.capture.capture_activations` finds the excitatory neurons of
plain and forgetting networks at the same place: :meth:`excitatory_names`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from afm.checks import check_bool, check_int, check_real
from afm.layer import ForgettingLayer


def _forgetting_flags(forgetting: bool | Sequence[bool], n_hidden: int) -> list[bool]:
    if isinstance(forgetting, bool):
        return [forgetting] * n_hidden
    if isinstance(forgetting, (str, bytes)) or not isinstance(forgetting, Sequence):
        raise TypeError(f"forgetting must be a bool or a list of {n_hidden} bools (one per "
                        f"hidden layer), got {type(forgetting).__name__} {forgetting!r:.60}")
    flags = list(forgetting)
    if len(flags) != n_hidden:
        raise ValueError(f"forgetting: expected a bool or {n_hidden} bools (one per hidden layer), "
                         f"got {len(flags)}")
    return [check_bool(f, f"forgetting[{i}]") for i, f in enumerate(flags)]


def _check_widths(widths: Sequence[int]) -> list[int]:
    """MLP widths: at least ``[input, hidden, classes]``, each a positive integer (no truncation)."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a list of ints [input, hidden..., classes], got "
                        f"{type(widths).__name__} {widths!r:.60}")
    checked = [check_int(w, f"widths[{i}]", 1) for i, w in enumerate(widths)]
    if len(checked) < 3:
        raise ValueError(f"widths must be [input, hidden..., classes] with positive entries "
                         f"and at least one hidden layer, got {checked}")
    return checked


class Block(nn.Sequential):
    """One hidden layer: ``main`` (Linear/Conv [+ BatchNorm]) → ``act`` (ReLU) → ``forget``."""

    #: The module names inside a block: the excitatory ReLU and the forgetting layer that gates it.
    ACT, FORGET = "act", "forget"

    def __init__(self, main: nn.Module, width: int, forgetting: bool, **layer_kwargs) -> None:
        forget = ForgettingLayer(width, **layer_kwargs) if forgetting else nn.Identity()
        super().__init__()
        self.add_module("main", main)
        self.add_module(self.ACT, nn.ReLU())
        self.add_module(self.FORGET, forget)


def excitatory_of(forget_name: str) -> str:
    """The excitatory neurons a forgetting layer gates: ``"hidden.0.forget"`` → ``"hidden.0.act"``.

    Args:
        forget_name: the module name of an ``afm.models.Block``'s forgetting layer, ``"X.forget"``.

    Returns:
        The module name of the same block's ReLU, ``"X.act"`` (whose output is ``h`` of Eq. 3).

    Example:
        >>> excitatory_of("conv.2.forget"), excitatory_of("forget")
        ('conv.2.act', 'act')
        >>> excitatory_of("hidden.0.main")
        Traceback (most recent call last):
            ...
        ValueError: expected a forgetting layer named 'X.forget' (as in afm.models.Block), got 'hidden.0.main'
    """
    parent, _, last = forget_name.rpartition(".")
    if last != Block.FORGET:
        raise ValueError(f"expected a forgetting layer named 'X.{Block.FORGET}' (as in "
                         f"afm.models.Block), got {forget_name!r}")
    return f"{parent}.{Block.ACT}" if parent else Block.ACT


class _Excitatory:
    """Mixin: names of the modules whose outputs are the excitatory neurons."""

    def excitatory_names(self) -> list[str]:
        """Module names of the ReLUs of every hidden block, in order (the ``h`` of Eq. 3)."""
        return [name for name, m in self.named_modules() if name.endswith(".act")]


class MLP(nn.Module, _Excitatory):
    """A multilayer perceptron from a list of widths, e.g. ``MLP([784, 128, 256, 10])``.

    Args:
        widths: input size, hidden widths, number of classes (at least 3 entries).
        forgetting: forgetting layers after every hidden layer (``True``), none
            (``False``), or one flag per hidden layer.
        rho, shortcut, gate: passed to every :class:`~afm.ForgettingLayer`.

    Shapes: any ``(B, *)`` input whose trailing dims multiply to ``widths[0]``
    → logits ``(B, widths[-1])``.

    Example:
        >>> MLP([784, 128, 256, 10])(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, widths: Sequence[int], forgetting: bool | Sequence[bool] = True,
                 rho: float = 1.0, shortcut: bool = True, gate: str = "dense") -> None:
        super().__init__()
        widths = _check_widths(widths)
        self.widths = widths
        flags = _forgetting_flags(forgetting, len(widths) - 2)
        self.hidden = nn.ModuleList(
            Block(nn.Linear(w_in, w_out), w_out, f, rho=rho, shortcut=shortcut, gate=gate)
            for w_in, w_out, f in zip(widths[:-2], widths[1:-1], flags))
        self.head = nn.Linear(widths[-2], widths[-1])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The output of the last hidden block, ``(B, widths[-2])``."""
        x = x.flatten(1)
        if x.shape[1] != self.widths[0]:
            raise ValueError(f"MLP expects inputs with {self.widths[0]} features, got "
                             f"{x.shape[1]} (input shape {tuple(x.shape)})")
        for block in self.hidden:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _conv(c_in: int, c_out: int, batch_norm: bool) -> nn.Module:
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out)) if batch_norm else conv


class LeNet5(nn.Module, _Excitatory):
    """LeNet-5 for ``(B, 3, 32, 32)`` images: conv 6 → pool → conv 16 → pool → 120 → 84 → classes.

    Forgetting layers (``forgetting=True``) gate the 6 and 16 convolutional
    channels and the 120 and 84 hidden units.

    Example:
        >>> LeNet5()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, forgetting: bool | Sequence[bool] = True,
                 rho: float = 1.0, shortcut: bool = True, gate: str = "dense",
                 in_channels: int = 3) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", 1)
        check_int(in_channels, "in_channels", 1)
        flags = _forgetting_flags(forgetting, 4)
        kw = dict(rho=rho, shortcut=shortcut, gate=gate)
        self.conv = nn.ModuleList([Block(nn.Conv2d(in_channels, 6, 5), 6, flags[0], **kw),
                                   Block(nn.Conv2d(6, 16, 5), 16, flags[1], **kw)])
        self.pool = nn.MaxPool2d(2)
        self.hidden = nn.ModuleList([Block(nn.Linear(16 * 5 * 5, 120), 120, flags[2], **kw),
                                     Block(nn.Linear(120, 84), 84, flags[3], **kw)])
        self.head = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet5 expects (B, C, 32, 32) images, got {tuple(x.shape)}")
        for block in self.conv:
            x = self.pool(block(x))
        x = x.flatten(1)
        for block in self.hidden:
            x = block(x)
        return self.head(x)


class VGG9(nn.Module, _Excitatory):
    """VGG-9: 6 convolutional layers (3×3, batch norm) in 3 stages + 3 fully connected layers.

    Channels ``(c, c, 2c, 2c, 4c, 4c)`` with ``c = 64 · width`` and max-pooling
    after each stage; then ``4c·4·4 → 8c·width_fc → 8c·width_fc → classes``
    (``width_fc`` defaults to ``width``). ``width`` < 1 gives the narrower
    networks a CPU can train (the ``book`` profile says which it uses).

    Example:
        >>> VGG9(width=0.25)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, width: float = 1.0,
                 forgetting: bool | Sequence[bool] = True, rho: float = 1.0,
                 shortcut: bool = True, gate: str = "dense", batch_norm: bool = True) -> None:
        super().__init__()
        check_real(width, "width", positive=True, what="the fraction of VGG-9's channels")
        check_int(num_classes, "num_classes", 1)
        c = max(1, round(64 * width))
        channels = [c, c, 2 * c, 2 * c, 4 * c, 4 * c]
        hidden = max(1, round(512 * width))
        flags = _forgetting_flags(forgetting, 8)
        kw = dict(rho=rho, shortcut=shortcut, gate=gate)
        c_in, convs = 3, []
        for i, c_out in enumerate(channels):
            convs.append(Block(_conv(c_in, c_out, batch_norm), c_out, flags[i], **kw))
            c_in = c_out
        self.conv = nn.ModuleList(convs)
        self.pool = nn.MaxPool2d(2)
        self.hidden = nn.ModuleList([Block(nn.Linear(4 * c * 4 * 4, hidden), hidden, flags[6], **kw),
                                     Block(nn.Linear(hidden, hidden), hidden, flags[7], **kw)])
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2:] != (32, 32):
            raise ValueError(f"VGG9 expects (B, 3, 32, 32) images, got {tuple(x.shape)}")
        for i, block in enumerate(self.conv):
            x = block(x)
            if i % 2 == 1:
                x = self.pool(x)
        x = x.flatten(1)
        for block in self.hidden:
            x = block(x)
        return self.head(x)
