"""Activation capture with forward hooks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from afm.checks import as_batches, check_tensor
from afm.device import evaluating, to_device
from afm.layer import forgetting_layers


def _default_names(model: nn.Module) -> list[str]:
    if hasattr(model, "excitatory_names"):
        return model.excitatory_names()
    names = [name for name, _ in forgetting_layers(model)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no excitatory_names() and no forgetting "
                         f"layer: pass names=[...] (module names, see model.named_modules())")
    return names


def capture_activations(model: nn.Module, data: Iterable, names: Sequence[str] | None = None,
                        reduce_spatial: bool = True) -> dict[str, torch.Tensor]:
    """The outputs of the modules ``names`` over every batch of ``data``.

    Args:
        model: any ``nn.Module``; it is run in eval mode without gradients.
        data: an iterable of ``(x, y)`` batches (a DataLoader or a list of tuples).
        names: module names (see ``model.named_modules()``); by default
            ``model.excitatory_names()`` when the model has it, else the names of its
            forgetting layers (e.g. those :func:`afm.insert_forgetting_layers` put in),
            whose outputs are the gated excitatory neurons.
        reduce_spatial: average 4-D ``(B, C, H, W)`` outputs over ``H, W``.

    Returns:
        ``{name: (num_samples, N)}`` on the CPU, the batches concatenated in order.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2])
        >>> data = [(torch.randn(5, 4), None), (torch.randn(2, 4), None)]
        >>> {name: a.shape for name, a in capture_activations(model, data).items()}
        {'hidden.0.act': torch.Size([7, 3])}
        >>> capture_activations(model, data, names=["head"])["head"].shape
        torch.Size([7, 2])
    """
    names = _default_names(model) if names is None else names
    modules = _check_names(model, names)
    batches = as_batches(data, "capture_activations")
    store: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def hook(name):
        def fn(_module, _inputs, output):
            out = output.detach()
            if reduce_spatial and out.dim() == 4:
                out = out.mean(dim=(2, 3))
            store[name].append(out.flatten(1).cpu())
        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    seen = 0
    try:
        with evaluating(model) as device, torch.no_grad():
            for x, _ in batches:
                model(to_device(check_tensor(x, "the inputs x of a batch"), device))
                seen += 1
    finally:
        for h in handles:
            h.remove()
    return _concatenate(store, seen)


def _check_names(model: nn.Module, names) -> dict[str, nn.Module]:
    """``model``'s modules by name, after checking every one of ``names`` is among them."""
    if isinstance(names, str):
        raise TypeError(f"names must be a list of module names, got the string {names!r}: "
                        f"write names=[{names!r}]")
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise ValueError(f"unknown module names {unknown}; valid names include "
                         f"{[n for n in modules if n][:20]}")
    return modules


def _concatenate(store: dict[str, list[torch.Tensor]], seen: int) -> dict[str, torch.Tensor]:
    if seen == 0:
        raise ValueError("capture_activations got no batches: data is empty")
    silent = [n for n, v in store.items() if len(v) < seen]
    if silent:
        raise RuntimeError(f"the module(s) {silent} did not run on every batch (the model's "
                           f"forward skipped them): their activations are undefined")
    return {n: torch.cat(v) for n, v in store.items()}


def capture_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      regularisers=(), names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """``∂L/∂h`` for the outputs ``h`` of the modules ``names`` on one batch.

    ``L`` is the cross-entropy of ``model(x)`` against ``y`` plus every
    regulariser (so Eq. 9 with :class:`afm.regularisers.Forgetting`). The model
    runs in eval mode; its parameters' ``.grad`` are left untouched.

    Args:
        model: any classifier ``(B, ...) -> (B, C)`` logits.
        x: ``(B, ...)`` inputs, on the model's device.
        y: ``(B,)`` int64 labels.
        regularisers: callables ``reg(model) -> scalar`` added to the loss.
        names: module names; by default as in :func:`afm.capture_activations`.

    Returns:
        ``{name: (B, N)}`` gradients on the CPU (4-D outputs averaged over ``H, W``).

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2])
        >>> grads = capture_gradients(model, torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
        >>> {name: g.shape for name, g in grads.items()}
        {'hidden.0.act': torch.Size([5, 3])}
        >>> all(p.grad is None for p in model.parameters())
        True
    """
    names = _default_names(model) if names is None else names
    modules = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(_module, _inputs, output):
            outputs[name] = output
        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    try:
        with evaluating(model), torch.enable_grad():
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            loss = loss + sum((r(model) for r in regularisers), torch.zeros(()))
            grads = torch.autograd.grad(loss, [outputs[n] for n in names])
    finally:
        for h in handles:
            h.remove()
    return {n: (g.mean(dim=(2, 3)) if g.dim() == 4 else g).detach().cpu()
            for n, g in zip(names, grads)}
