"""What the forgetting layer learns: neuron importance Ω, and Eq. (2), the importance of a weight."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from afm.checks import as_batches, check_tensor
from afm.device import to_device
from afm.layer import ForgettingLayer, forgetting_layers
from afm.models import Block, excitatory_of


def neuron_importance(model: nn.Module, data: Iterable) -> dict[str, torch.Tensor]:
    """Ω_i = E_x[σ_i(x)]: the mean state of each neural switch over ``data``.

    Args:
        model: a network with :class:`~afm.ForgettingLayer` modules; run in eval mode.
        data: a DataLoader or list of ``(x, y)`` batches, a ``TensorDataset`` or an
            ``(x, y)`` pair (see :func:`afm.checks.as_batches`).

    Returns:
        ``{module name: Ω of shape (N,)}``, one entry per forgetting layer, on the CPU.

    Raises:
        RuntimeError: naming a forgetting layer that the model's forward skipped on a batch
            (each layer's gate is cleared before every batch, so no stale σ is ever read).

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2])
        >>> neuron_importance(model, [(torch.randn(5, 4), torch.zeros(5))])["hidden.0.forget"]
        tensor([0.5000, 0.5000, 0.5000])
    """
    layers = list(forgetting_layers(model))
    if not layers:
        raise ValueError(f"{type(model).__name__} has no ForgettingLayer: importance Ω is "
                         f"read from the forgetting layers' switches")
    batches = as_batches(data, "neuron_importance")
    sums = {name: None for name, _ in layers}
    count = 0
    was_training = model.training
    model.eval()
    device = _device_of(model)
    try:
        with torch.no_grad():
            for x, _ in batches:
                _clear_gates(layers)
                model(to_device(check_tensor(x, "the inputs x of a batch"), device))
                _check_all_ran(layers)
                for name, layer in layers:
                    s = layer.gate.double().sum(dim=0).cpu()
                    sums[name] = s if sums[name] is None else sums[name] + s
                count += layers[0][1].gate.shape[0]
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("neuron_importance got no batches: data is empty")
    return {name: (s / count).float() for name, s in sums.items()}


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _clear_gates(layers: list[tuple[str, ForgettingLayer]]) -> None:
    for _, layer in layers:
        layer.clear_state()


def _check_all_ran(layers: list[tuple[str, ForgettingLayer]]) -> None:
    skipped = [name for name, layer in layers if layer.gate is None]
    if skipped:
        raise RuntimeError(f"the forgetting layer(s) {skipped} did not run on this batch: the "
                           f"model's forward skipped them, so their switches σ (and Ω) are "
                           f"undefined; call them in forward, or remove them from the model")


def parameter_importance(omega_out: torch.Tensor, omega_in: torch.Tensor | None) -> torch.Tensor:
    """Eq. (2): ``θ_ij = 1 - (1 - Ω_i^l)(1 - Ω_j^(l-1))`` for the weights joining two layers.

    A weight is unimportant only when both neurons it joins are unimportant.

    Args:
        omega_out: ``(N_l,)`` importance of the neurons the weights feed (rows of ``W``).
        omega_in: ``(N_{l-1},)`` importance of the neurons they come from (columns), or
            ``None`` for inputs without a forgetting layer, which count as Ω = 0.

    Returns:
        ``(N_l, N_{l-1})``, the shape of a ``torch.nn.Linear`` weight; with ``omega_in``
        ``None`` the columns are broadcast (shape ``(N_l, 1)``).

    Example:
        >>> parameter_importance(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.5]))
        tensor([[1.0000, 1.0000],
                [0.0000, 0.5000]])
    """
    if omega_out.dim() != 1 or (omega_in is not None and omega_in.dim() != 1):
        raise ValueError("parameter_importance expects 1-D importance vectors (N_l,) and (N_{l-1},)")
    keep_in = torch.ones(1) if omega_in is None else 1 - omega_in
    return 1 - (1 - omega_out)[:, None] * keep_in[None, :]


def _excitatory_names(model: nn.Module, names) -> list[str]:
    if names is not None:
        return list(names)
    if not hasattr(model, "excitatory_names"):
        raise ValueError(f"{type(model).__name__} has no excitatory_names(): pass names=[...]")
    return model.excitatory_names()


def activation_importance(model: nn.Module, data: Iterable, names=None) -> dict[str, torch.Tensor]:
    """The plain network's importance measure: mean absolute activation per neuron, relative to the layer.

    ``A_i = E_x[|h_i(x)|] / max_j E_x[|h_j(x)|]`` for each excitatory neuron ``i``
    of a layer (a hidden unit, or a channel averaged over its feature map), so
    that it lies in [0, 1] like Ω and the most active neuron of each layer has
    ``A = 1``. A plain network has no switches to read, so the book uses this
    (the "mean absolute activation" criterion of activation-based pruning) as its
    importance in Fig. 2c and 2d. A layer that is never active gets ``A = 0``.

    Args:
        model: any network; run in eval mode without gradients.
        data: an iterable of ``(x, y)`` batches.
        names: the modules whose outputs are the neurons; default
            ``model.excitatory_names()`` (the ReLUs of the models in ``afm.models``).

    Returns:
        ``{module name: A of shape (N,)}`` on the CPU.

    Example:
        >>> from afm import MLP
        >>> model = MLP([2, 3, 2], forgetting=False)
        >>> a = activation_importance(model, [(torch.randn(8, 2), None)])["hidden.0.act"]
        >>> a.shape, float(a.max()) in (0.0, 1.0)
        (torch.Size([3]), True)
    """
    from afm.capture import capture_activations

    acts = capture_activations(model, data, _excitatory_names(model, names))
    out = {}
    for name, a in acts.items():
        mean_abs = a.double().abs().mean(dim=0)
        top = float(mean_abs.max())
        out[name] = (mean_abs / top if top > 0 else torch.zeros_like(mean_abs)).float()
    return out


#: The importance measures of :func:`layer_importance`.
IMPORTANCE_MEASURES = ("omega", "activation")


def layer_importance(model: nn.Module, data: Iterable, measure: str = "omega") -> dict[str, torch.Tensor]:
    """Importance of every excitatory neuron, keyed by the excitatory module's name.

    ``measure="omega"``: Ω = E_x[σ] of the forgetting layer that gates the layer
    (:func:`afm.neuron_importance`), for the layers that have one; the forgetting
    layer ``"X.forget"`` of a ``afm.models.Block`` gates the neurons of
    ``"X.act"``. ``measure="activation"``: :func:`activation_importance`, for
    every layer (plain networks too). The keys are the names that
    :func:`afm.analysis.ablation.ablate` and :func:`afm.capture_activations` use.

    Returns:
        ``{excitatory module name (e.g. "hidden.0.act"): importance (N,)}``, in layer order.

    Example:
        >>> from afm import MLP
        >>> layer_importance(MLP([4, 3, 2]), [(torch.randn(5, 4), None)])
        {'hidden.0.act': tensor([0.5000, 0.5000, 0.5000])}
    """
    if measure not in IMPORTANCE_MEASURES:
        raise ValueError(f"unknown importance measure {measure!r}: expected one of {IMPORTANCE_MEASURES}")
    if measure == "activation":
        return activation_importance(model, data)
    modules = dict(model.named_modules())
    out = {}
    for name, omega in neuron_importance(model, data).items():
        act = excitatory_of(name) if name.rpartition(".")[2] == "forget" else None
        if act not in modules:
            raise ValueError(f"cannot tell which excitatory neurons the forgetting layer {name!r} "
                             f"gates: expected it to be 'X.forget' beside 'X.act', as in "
                             f"afm.models.Block")
        out[act] = omega
    return out


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """``{parameter name: weight}`` of every Linear and Conv layer, in the order of registration.

    Example:
        >>> from afm import MLP
        >>> list(prunable_weights(MLP([4, 3, 2])))
        ['hidden.0.main.weight', 'head.weight']
    """
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            out[f"{name}.weight" if name else "weight"] = module.weight
    if not out:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv layer to prune")
    return out


def _block_forget(model: nn.Module, weight_name: str) -> str | None:
    """``"conv.0.main.0.weight"`` → ``"conv.0.forget"`` if that is a ForgettingLayer, else None."""
    modules = dict(model.named_modules())
    parts = weight_name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:cut] + [Block.FORGET])
        if candidate in modules:
            return candidate if isinstance(modules[candidate], ForgettingLayer) else None
    return None


def weight_importance(model: nn.Module, omega: dict[str, torch.Tensor],
                      outside: float = 0.0) -> dict[str, torch.Tensor]:
    """Eq. (2) for every prunable weight of a feed-forward network of ``afm.models`` blocks.

    ``θ_ij = 1 - (1 - Ω_i^l)(1 - Ω_j^(l-1))``: ``Ω^l`` of the neurons the weight
    feeds (the forgetting layer of its own block, ``"X.forget"`` beside ``"X.main"``)
    and ``Ω^(l-1)`` of the neurons it comes from (the previous prunable layer's
    block, in the order of registration, which is the forward order of
    :class:`~afm.models.MLP`, :class:`~afm.models.LeNet5` and :class:`~afm.models.VGG9`).
    Neurons without a forgetting layer (the input image, the output logits, a
    plain block) count as Ω = ``outside``: 0 by default (the book's appendix, "Eq. (2) at
    the network's edges"), so the
    weights of the first and the last layer are scored by one side only; 1 reads
    a neuron that no switch can close as never forgotten, so those weights get
    θ = 1 and are pruned last. A convolution kernel ``(C_out, C_in, k, k)``
    takes its channels' θ over the whole kernel; a Linear layer after a flattened
    feature map ``(C, H, W)`` gives input ``j`` the Ω of channel ``j // (H·W)``.

    Args:
        model: the network; omega: ``{forgetting-layer name: Ω (N,)}`` from
            :func:`afm.neuron_importance`.
        outside: Ω of the neurons that have no forgetting layer, in [0, 1].

    Returns:
        ``{weight name: θ of the weight's shape}``: ``(N_l, N_{l-1})`` for a Linear weight,
        ``(C_out, C_in, k, k)`` for a kernel.

    Example:
        >>> from afm import MLP
        >>> omega = {"hidden.0.forget": torch.tensor([1.0, 0.0, 0.5])}
        >>> theta = weight_importance(MLP([4, 3, 2]), omega)
        >>> theta["hidden.0.main.weight"][:, 0]  # θ = Ω of the neuron fed (inputs: Ω = 0)
        tensor([1.0000, 0.0000, 0.5000])
        >>> theta["head.weight"]  # θ = Ω of the neuron it comes from (logits: Ω = 0)
        tensor([[1.0000, 0.0000, 0.5000],
                [1.0000, 0.0000, 0.5000]])
    """
    if not 0.0 <= outside <= 1.0:
        raise ValueError(f"outside is an importance Ω in [0, 1], got {outside!r}")
    out: dict[str, torch.Tensor] = {}
    previous: torch.Tensor | None = None
    for name, w in prunable_weights(model).items():
        forget = _block_forget(model, name)
        if forget is not None and forget not in omega:
            raise ValueError(f"omega lacks the forgetting layer {forget!r} (has {list(omega)[:4]})")
        n_out, n_in = w.shape[0], w.shape[1]
        om_out = omega[forget].detach().cpu().float() if forget else torch.full((n_out,), float(outside))
        if om_out.shape != (n_out,):
            raise ValueError(f"Ω of {forget} has {om_out.numel()} entries, {name} has {n_out} outputs")
        om_in = previous if previous is not None else torch.full((n_in,), float(outside))
        if om_in.numel() != n_in:
            if n_in % om_in.numel():
                raise ValueError(f"{name} has {n_in} inputs, not a multiple of the "
                                 f"{om_in.numel()} neurons of the layer before")
            om_in = om_in.repeat_interleave(n_in // om_in.numel())  # flattened (C, H, W)
        theta = parameter_importance(om_out, om_in)  # (N_l, N_{l-1})
        out[name] = theta.reshape(n_out, n_in, *([1] * (w.dim() - 2))).expand(w.shape).clone()
        previous = om_out
    return out
