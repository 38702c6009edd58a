"""Perturbed neurons, for the robustness test of Fig. 4b.

A neuron of a layer is *perturbed* by adding Gaussian noise to its incoming
weights (one row of a ``Linear`` weight, one output channel of a ``Conv2d``
kernel). The noise has standard deviation ``std_rel · s``, with ``s`` the
standard deviation of all weights of that layer before the perturbation (the
layer's weight scale), so ``std_rel`` means the same in every layer and
network. Biases, the other neurons, the other layers and the forgetting
layers' own gate parameters are left untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from afm.train import evaluate

__all__ = ["neuron_layers", "choose_neurons", "perturb_neurons", "perturbation_curve"]


def neuron_layers(model: nn.Module) -> list[str]:
    """Names of the ``Linear``/``Conv2d`` modules whose output units are a layer's neurons.

    For :class:`afm.MLP` ``[784, 64, 64, 10]``: ``["hidden.0.main", "hidden.1.main", "head"]``.
    The gates of :class:`~afm.ForgettingLayer` are not ``Linear`` modules and are not listed.

    Args:
        model: any network.

    Returns:
        The module names, in the order of registration; the neurons of a ``Linear`` are the
        rows of its weight ``(N_out, N_in)``, those of a ``Conv2d`` its output channels.

    Example:
        >>> from afm import MLP
        >>> neuron_layers(MLP([4, 3, 2]))
        ['hidden.0.main', 'head']
    """
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def choose_neurons(num_neurons: int, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """``round(fraction · num_neurons)`` distinct neuron indices drawn uniformly, sorted.

    Args:
        num_neurons: ``N >= 1``, the number of neurons to choose from.
        fraction: the share to choose, in [0, 1].
        generator: the random source (equal seeds choose equal neurons).

    Returns:
        ``(k,)`` int64 indices in ``[0, N)``, ascending, with ``k = round(fraction · N)``.

    Example:
        >>> choose_neurons(10, 0.3, torch.Generator().manual_seed(0))
        tensor([1, 4, 7])
    """
    if not 0.0 <= fraction <= 1.0:  # also rejects NaN
        raise ValueError(f"fraction of perturbed neurons must lie in [0, 1], got {fraction!r}")
    if num_neurons < 1:
        raise ValueError(f"num_neurons must be >= 1, got {num_neurons}")
    k = int(round(fraction * num_neurons))
    return torch.randperm(num_neurons, generator=generator)[:k].sort().values


def perturb_neurons(model: nn.Module, layer: str, fraction: float, std_rel: float,
                    generator: torch.Generator) -> tuple[nn.Module, torch.Tensor]:
    """A copy of ``model`` in which a random ``fraction`` of ``layer``'s neurons are perturbed.

    Each chosen neuron ``i`` gets ``W[i] += ε_i``, ``ε_i ~ N(0, (std_rel · s)²)`` elementwise,
    with ``s = std(W)`` (population std over every entry of the layer's weight).
    Everything else is bit-identical to ``model``, which is not modified.

    Args:
        model: any network; it is deep-copied.
        layer: a name from :func:`neuron_layers` (e.g. ``"hidden.1.main"``); a block name
            such as ``"hidden.1"`` whose ``main`` is a Linear/Conv2d is accepted too.
        fraction: the share of the layer's neurons (output units or channels) to perturb.
        std_rel: the noise scale relative to the layer's weight scale, ``>= 0``.
        generator: the random source (the neurons are drawn first, then the noise),
            so equal seeds choose the same neurons in networks of equal width.

    Returns:
        ``(perturbed copy, indices of the perturbed neurons (k,))``; the weight of
        ``layer`` is ``(N_out, N_in)`` (Linear) or ``(C_out, C_in, k, k)`` (Conv2d), and
        only its rows ``W[i]`` at those indices differ.

    Example:
        >>> from afm import MLP
        >>> _ = torch.manual_seed(0)
        >>> model = MLP([4, 3, 2])
        >>> gen = torch.Generator().manual_seed(0)
        >>> noisy, idx = perturb_neurons(model, "hidden.0.main", 2 / 3, 0.5, gen)
        >>> idx
        tensor([0, 2])
        >>> (noisy.hidden[0].main.weight != model.hidden[0].main.weight).any(dim=1)
        tensor([ True, False,  True])
        >>> torch.equal(noisy.head.weight, model.head.weight)
        True
    """
    if not std_rel >= 0:
        raise ValueError(f"std_rel must be >= 0, got {std_rel!r}")
    module = _resolve(model, layer)
    neurons = choose_neurons(module.weight.shape[0], fraction, generator)
    perturbed = copy.deepcopy(model)  # a ForgettingLayer copies without its last σ, h
    target = _resolve(perturbed, layer)
    with torch.no_grad():
        w = target.weight
        scale = float(w.double().std(correction=0))
        noise = torch.randn((len(neurons), *w.shape[1:]), generator=generator, dtype=torch.float64)
        w[neurons] += (std_rel * scale * noise).to(w.dtype).to(w.device)
    return perturbed, neurons


def _resolve(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    module = modules.get(layer)
    if module is not None and not isinstance(module, (nn.Linear, nn.Conv2d)):
        module = getattr(module, "main", None)
        if isinstance(module, nn.Sequential):  # conv [+ batch norm]
            module = module[0]
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        raise ValueError(f"unknown layer {layer!r}: expected one of {neuron_layers(model)} "
                         f"(or a hidden block whose 'main' is one)")
    return module


def perturbation_curve(model: nn.Module, layer: str, fractions: Sequence[float], repeats: int,
                       std_rel: float, data, seed: int = 0) -> np.ndarray:
    """Fig. 4b: accuracy on ``data`` with a growing share of ``layer``'s neurons perturbed.

    Repetition ``r`` at fraction index ``f`` draws from a generator seeded by
    ``(seed, r, f)``: two networks of equal width evaluated with the same
    ``seed`` see the same neurons perturbed (paired comparison).

    For an :class:`afm.MLP` the part of the network below ``layer``, which the
    perturbation does not change, runs once, and each perturbed copy runs from
    ``layer`` on (the same numbers as a full pass, much faster); any other
    model is evaluated whole with :func:`afm.evaluate`.

    Args:
        model: the trained network, ``(B, ...) -> (B, C)`` logits; it is not modified.
        layer: a name from :func:`neuron_layers`, as in :func:`perturb_neurons`.
        fractions: ``(K,)`` shares of the layer's neurons to perturb, each in [0, 1].
        repeats: ``R >= 1``, the independent draws per fraction.
        std_rel: the noise scale relative to the layer's weight scale, ``>= 0``.
        data: a ``TensorDataset`` or ``(x, y)`` pair: inputs ``(B, ...)``, int64 labels ``(B,)``.
        seed: the seed of every draw (see above).

    Returns:
        ``(K, R)`` accuracies in [0, 1]: row ``f`` for ``fractions[f]``, column ``r`` for
        repetition ``r``.

    Example:
        >>> from afm import MLP
        >>> _ = torch.manual_seed(2)
        >>> model = MLP([4, 3, 2])
        >>> x = torch.randn(8, 4)
        >>> y = model(x).argmax(1)  # labels the unperturbed model gets right
        >>> perturbation_curve(model, "hidden.0.main", [0.0, 1.0], 2, 2.0, (x, y))
        array([[1.   , 1.   ],
               [0.5  , 0.875]])
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    _resolve(model, layer)  # a clear error for an unknown layer, before any work
    tail = _mlp_split(model, layer, data)
    out = np.zeros((len(fractions), repeats))
    for f, fraction in enumerate(fractions):
        for r in range(repeats):
            state = np.random.SeedSequence([seed, r, f]).generate_state(1, dtype=np.uint64)[0]
            generator = torch.Generator().manual_seed(int(state))
            perturbed, _ = perturb_neurons(model, layer, float(fraction), std_rel, generator)
            out[f, r] = evaluate(perturbed, data) if tail is None else tail(perturbed)
    return out


def _mlp_split(model: nn.Module, layer: str, data):
    """For an MLP: ``accuracy(perturbed copy)`` computed from the input of ``layer``'s block,
    which is computed once here; ``None`` for other models."""
    from afm.models import MLP
    from afm.train import as_tensors

    if not isinstance(model, MLP):
        return None
    module = _resolve(model, layer)
    mains = [block.main for block in model.hidden] + [model.head]
    starts = [i for i, m in enumerate(mains) if m is module]
    if not starts:
        return None
    start = starts[0]
    x, y = as_tensors(data)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        h = x.to(next(model.parameters()).device).flatten(1)
        for block in model.hidden[:start]:
            h = block(h)
    model.train(was_training)

    def accuracy(perturbed: nn.Module) -> float:
        perturbed.eval()
        with torch.no_grad():
            z = h
            for block in perturbed.hidden[start:]:
                z = block(z)
            return float((perturbed.head(z).argmax(1).cpu() == y).double().mean())

    return accuracy
