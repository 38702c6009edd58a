"""Plug forgetting layers into any network in one call: :func:`insert_forgetting_layers`.

The paper calls the forgetting layer *plug-and-play*: it goes after the
non-linearity of a layer of excitatory neurons, whatever the network. This
module does that for any ``nn.Module``, without touching its code: each module
that matches ``after`` (by default every ReLU, GELU, SiLU, ...) is replaced by a
:class:`afm.plug.Plugged` module that runs it and then a :class:`~afm.ForgettingLayer`.
The widths come from one dry forward pass on an example input.

* A module called more than once per forward pass (torchvision's ResNet blocks
  call ``self.relu`` twice, once before and once after the residual sum) gets
  one forgetting layer per call: the k-th call goes through ``forget[k]``.
* Outputs ``(B, N)`` and ``(B, C, H, W)`` are gated along dim 1 (units,
  channels); token outputs ``(B, T, C)`` along the **last** axis, each token
  with its own switches (they are flattened to ``(B·T, C)``).
* The forgetting layers are ordinary submodules named ``"<module>.forget.<k>"``:
  :func:`afm.forgetting_layers`, :func:`afm.neuron_importance`,
  :func:`afm.capture_activations`, :func:`afm.analysis.ablation.ablate` and the
  losses (:class:`afm.Forgetting`) find them without a list of names, and
  ``model.forgetting_feeds`` tells Eq. (2) (:func:`afm.importance.weight_importance`)
  which layers' Ω each Linear and Conv weight joins.

By default the inserted layers keep the network's initial gain at 1
(``unit_gain=True``, see :class:`~afm.ForgettingLayer`), because the paper's
layer as the book reads it multiplies every activation by 1.5 at the start of
training and that wrecks training at ordinary learning rates (chapter "Use it
in your own model" measures why); pass ``unit_gain=False`` for the paper's layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from afm.layer import ForgettingLayer

#: The activations after which :func:`afm.insert_forgetting_layers` plugs a layer by default.
DEFAULT_AFTER: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Mish, nn.Hardswish)


def _gate(layer: ForgettingLayer, h: torch.Tensor) -> torch.Tensor:
    """``layer(h)`` for ``(B, N)``, ``(B, C, H, W)`` or tokens ``(B, T, C)`` (gated per token)."""
    if h.dim() == 3:
        return layer(h.reshape(-1, h.shape[-1])).view_as(h)
    return layer(h)


def _width(shape: torch.Size) -> int:
    if len(shape) not in (2, 3, 4):
        raise ValueError(f"cannot gate an output of shape {tuple(shape)}: a forgetting layer takes "
                         f"(B, N), (B, T, C) tokens or (B, C, H, W) feature maps")
    return int(shape[-1] if len(shape) == 3 else shape[1])


class Plugged(nn.Module):
    """A module ``act`` followed by a forgetting layer per call: ``forget[k](act(x))`` at call ``k``.

    Args:
        act: the wrapped module (an activation; its parameters, if any, keep their values).
        forget: one :class:`~afm.ForgettingLayer` per call of ``act`` in a forward pass.

    Shapes: ``act``'s output ``(B, N)``, ``(B, C, H, W)`` or ``(B, T, C)``, returned gated,
    same shape.

    Example:
        >>> p = Plugged(nn.ReLU(), [ForgettingLayer(3)])
        >>> p(torch.tensor([[-1.0, 0.0, 2.0]]))  # the paper's layer: h + h ⊙ σ, σ = 0.5
        tensor([[0., 0., 3.]], grad_fn=<AddcmulBackward0>)
    """

    def __init__(self, act: nn.Module, forget: Sequence[ForgettingLayer]) -> None:
        super().__init__()
        self.act = act
        self.forget = nn.ModuleList(forget)
        self.calls = 0  # calls since the start of the current forward pass of the whole model
        self.shapes: list[torch.Size] | None = None  # filled during the dry forward only

    def forward(self, *args, **kwargs) -> torch.Tensor:
        h = self.act(*args, **kwargs)
        if self.shapes is not None:  # the dry forward: record, do not gate
            self.shapes.append(h.shape)
            return h
        layer = self.forget[self.calls % len(self.forget)]
        self.calls += 1
        return _gate(layer, h)


class _ResetCalls:
    """Forward pre-hook of the root model: every ``Plugged`` module starts at call 0."""

    def __init__(self, plugged: Sequence[Plugged]) -> None:
        self.plugged = list(plugged)

    def __call__(self, _module: nn.Module, _args) -> None:
        for p in self.plugged:
            p.calls = 0


def _matches(after) -> Callable[[str, nn.Module], bool]:
    if callable(after) and not isinstance(after, type):
        return after
    types = (after,) if isinstance(after, type) else tuple(after)
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise TypeError(f"after must be nn.Module classes or a predicate (name, module) -> bool, "
                        f"got {after!r}")
    return lambda _name, module: isinstance(module, types)


def _targets(model: nn.Module, match) -> list[str]:
    """Names of the modules to wrap: matching, not inside a matched or plugged module."""
    out: list[str] = []
    for name, module in model.named_modules():
        if not name or isinstance(module, (ForgettingLayer, Plugged)):
            continue
        inside = [t for t in out if name.startswith(t + ".")]
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        if inside or isinstance(parent, Plugged) or not match(name, module):
            continue
        out.append(name)
    return out


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)


def _dry_forward(model: nn.Module, example) -> None:
    args = example if isinstance(example, tuple) else (example,)
    was_training = model.training
    model.eval()  # no batch-norm statistics are updated
    try:
        with torch.no_grad():
            model(*args)
    finally:
        model.train(was_training)


def insert_forgetting_layers(model: nn.Module, example: torch.Tensor | tuple,
                             after=DEFAULT_AFTER, unit_gain: bool = True,
                             layer: type[ForgettingLayer] = ForgettingLayer,
                             **layer_kwargs) -> tuple[nn.Module, list[str]]:
    """Put a :class:`~afm.ForgettingLayer` after every module of ``model`` that matches ``after``.

    Args:
        model: any ``nn.Module``; changed in place (matching modules are replaced by
            :class:`afm.plug.Plugged` wrappers; every other parameter keeps its name and value).
        example: an input batch (or a tuple of positional inputs) for one dry forward pass
            in eval mode, without gradients, that measures each matched module's output width.
        after: ``nn.Module`` classes (default :data:`afm.plug.DEFAULT_AFTER`), or a predicate
            ``(name, module) -> bool``.
        unit_gain: keep the network's initial gain at 1 (the plug-in default, see
            :class:`~afm.ForgettingLayer`); ``False`` for the paper's layer as the book reads it.
        layer: the class of the inserted layers (a :class:`~afm.ForgettingLayer` subclass).
        layer_kwargs: ``rho``, ``shortcut``, ``gate`` for every inserted layer.

    Returns:
        ``(model, names)``: the same model, and the module names of the inserted forgetting
        layers in forward order (``"<module>.forget.<k>"`` for the ``k``-th call of ``<module>``).

    Raises:
        ValueError: nothing in ``model`` matches ``after`` or is called by the dry forward
            (the message names the model), or a matched output is not 2-, 3- or 4-D.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.GELU()),
        ...                     nn.Linear(8, 2))
        >>> net, names = insert_forgetting_layers(net, torch.zeros(1, 4))
        >>> names
        ['1.forget.0', '2.1.forget.0']
        >>> net(torch.zeros(3, 4)).shape
        torch.Size([3, 2])
    """
    match = _matches(after)
    targets = _targets(model, match)
    if not targets:
        raise ValueError(f"nothing in {type(model).__name__} matches after={after!r}: no forgetting "
                         f"layer was inserted (pass the activation classes the model uses)")
    wrappers = {}
    for name in targets:
        wrappers[name] = Plugged(model.get_submodule(name), [])
        wrappers[name].shapes = []
        _replace(model, name, wrappers[name])
    try:
        _dry_forward(model, example)
    except BaseException:
        for name, w in wrappers.items():
            _replace(model, name, w.act)
        raise
    device = next(model.parameters(), torch.zeros(())).device
    inserted: list[tuple[int, str]] = []
    order = 0
    for name, w in wrappers.items():
        shapes, w.shapes = w.shapes, None
        if not shapes:  # never called: leave the module as it was
            _replace(model, name, w.act)
            continue
        for k, shape in enumerate(shapes):
            w.forget.append(layer(_width(shape), unit_gain=unit_gain, **layer_kwargs).to(device))
            inserted.append((order, f"{name}.forget.{k}"))
            order += 1
    used = [w for w in wrappers.values() if len(w.forget)]
    if not used:
        raise ValueError(f"no module of {type(model).__name__} that matches after={after!r} ran in "
                         f"the forward pass of the example: no forgetting layer was inserted")
    model.register_forward_pre_hook(_ResetCalls(used))
    return model, _forward_order(model, [n for _, n in inserted], example)


_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _forward_order(model: nn.Module, names: list[str], example) -> list[str]:
    """``names`` sorted by when each forgetting layer first runs in a forward pass; records on
    ``model.forgetting_feeds`` which layers each Linear/Conv weight feeds and reads (Eq. 2)."""
    events: list[tuple[str, str, int, int]] = []  # (kind, name, width in, width out)
    modules = dict(model.named_modules())
    hooked = [(n, m) for n, m in modules.items() if n in names or isinstance(m, _WEIGHTED)]

    def record(name: str, module: nn.Module):
        def fn(_m, inputs, output):
            if isinstance(module, ForgettingLayer):
                events.append(("f", name, module.num_features, module.num_features))
            else:
                events.append(("w", name, _width(inputs[0].shape), _width(output.shape)))
        return fn

    handles = [m.register_forward_hook(record(n, m)) for n, m in hooked]
    try:
        _dry_forward(model, example)
    finally:
        for h in handles:
            h.remove()
    model.forgetting_feeds = _feeds(events)
    seen = list(dict.fromkeys(name for kind, name, _, _ in events if kind == "f"))
    return seen + [n for n in names if n not in seen]


def _feeds(events: list[tuple[str, str, int, int]]) -> dict[str, tuple[str | None, str | None]]:
    """``{weight module: (forgetting layer its outputs enter, forgetting layer its inputs left)}``:
    the first layer of matching width called after the module, the last one called before it (a
    flattened ``(C, H, W)`` input matches ``C`` channels); ``None`` where there is none."""
    feeds: dict[str, tuple[str | None, str | None]] = {}
    for i, (kind, name, n_in, n_out) in enumerate(events):
        if kind != "w" or name in feeds:
            continue
        after = next((e[1] for e in events[i + 1:] if e[0] == "f" and e[2] == n_out), None)
        before = next((e[1] for e in reversed(events[:i]) if e[0] == "f"
                       and (e[2] == n_in or n_in % e[2] == 0)), None)
        feeds[name] = (after, before)
    return feeds
