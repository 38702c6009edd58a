"""Per-sample gradients and the diagonal of the Fisher information: EWC's Ω and OBD's Hessian.

One function, :func:`fisher_diagonal`, gives both kinds the book uses:

* ``kind="true"`` (EWC, Fig. 5): ``F_k = E_x Σ_y p_θ(y|x) (∂ log p_θ(y|x) / ∂θ_k)²``,
  the labels from the model's own predictions, the expectation over them exact
  (every class, weighted by its probability), not sampled;
* ``kind="empirical"`` (optimal brain damage, Fig. 3b):
  ``F_qq = (1/n) Σ_n (∂ℓ(x_n, y_n) / ∂w_q)²``, ``ℓ`` the cross-entropy of the true
  label. OBD ranks a weight by ``s_q = ½ H_qq w_q²``
  (:func:`afm.baselines.pruning.obd_saliency`) and the book puts this diagonal in
  place of the Hessian's: the two are equal in expectation when the model's
  predictive distribution matches the data (the Gauss-Newton approximation that
  pruning methods usually take).

Both need one gradient *per sample*, and two engines compute them:

* :func:`per_sample_gradient_sum` (hooks): for Linear and forgetting layers only, it
  sums ``|per-sample gradient|^p`` over the samples as one matrix product per layer
  and never holds the per-sample gradients in memory;
* :func:`per_sample_gradients` (``torch.func``, ``vmap`` over ``grad``): any module
  ``torch.func`` can differentiate (convolutions, batch norm in eval mode), with
  every sample's gradient in memory.

Why two engines: the true Fisher costs one gradient per sample *and class*, and
Fig. 5 measures it after every task of every run. On Fig. 5's trunk (784-512-256,
forgetting layers, ten classes, 250 samples, one CPU thread) the hooked engine
takes about 0.2 s and ``torch.func`` about 22 s (100×, the same values to a
relative 5e-7). The hooked engine knows only Linear and forgetting layers, so
OBD on VGG-9 (convolutions, batch norm) takes ``torch.func``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from afm.device import to_device
from afm.layer import forgetting_layers

#: The kinds of :func:`fisher_diagonal`.
FISHER_KINDS = ("true", "empirical")


def per_sample_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                         names: Sequence[str]) -> dict[str, torch.Tensor]:
    """``∂ℓ(x_n, y_n)/∂θ`` of every sample ``n``, for the parameters ``names``.

    ``ℓ`` is the cross-entropy of the true label. The model is evaluated as it is
    (call ``.eval()`` first when it has batch norm or dropout).

    Args:
        model: a classifier ``(B, ...) -> (B, C)``.
        x: ``(B, ...)`` inputs; y: ``(B,)`` int64 labels.
        names: parameter names, e.g. ``["conv.0.main.0.weight"]``.

    Returns:
        ``{name: (B, *parameter shape)}``: row ``n`` is the gradient of sample ``n`` alone,
        so the mean over dim 0 is the gradient of the batch's mean loss.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> x, y = torch.randn(5, 4), torch.zeros(5, dtype=torch.long)
        >>> g = per_sample_gradients(model, x, y, ["head.weight", "head.bias"])
        >>> g["head.weight"].shape, g["head.bias"].shape
        (torch.Size([5, 2, 3]), torch.Size([5, 2]))
        >>> F.cross_entropy(model(x), y).backward()
        >>> torch.allclose(g["head.bias"].mean(0), model.head.bias.grad, atol=1e-6)
        True
    """
    from torch.func import functional_call, grad, vmap

    params = dict(model.named_parameters())
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ValueError(f"{type(model).__name__} has no parameters {unknown[:3]}; "
                         f"valid names start with {list(params)[:3]}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y differ in length: {x.shape[0]} vs {y.shape[0]}")
    wanted = {n: params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in params.items() if n not in wanted}
    buffers = dict(model.named_buffers())

    def loss(p: dict, xn: torch.Tensor, yn: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, ({**fixed, **p}, buffers), (xn[None],))
        return F.cross_entropy(out, yn[None])

    return vmap(grad(loss), in_dims=(None, 0, 0))(wanted, x, y)


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


def fisher_diagonal(model: nn.Module, data, kind: str = "true", names: Sequence[str] | None = None,
                    chunk: int | None = None) -> dict[str, torch.Tensor]:
    """The diagonal of the Fisher information of ``model`` over ``data``, of either kind.

    ``kind="true"``: ``F_k = E_x Σ_y p_θ(y|x) (∂ log p_θ(y|x) / ∂θ_k)²`` (EWC), the expectation
    over the labels exact, labels of ``data`` unused; a model of Linear and forgetting layers
    (:func:`per_sample_gradient_sum`). ``kind="empirical"``: ``F_k = mean_n (∂ℓ(x_n, y_n)/∂θ_k)²``
    with the true labels (OBD); any model (:func:`per_sample_gradients`).

    Args:
        model: a classifier, logits ``(B, C)``; evaluated in eval mode (batch norm: running
            statistics), its training mode restored afterwards.
        data: ``"true"``: ``N`` samples, a ``TensorDataset``, an ``(x, y)`` pair or a tensor
            ``x (N, ...)``. ``"empirical"``: an iterable of ``(x, y)`` batches with the labels.
        kind: ``"true"`` or ``"empirical"``.
        names: the parameters to return (default: every parameter; ``"empirical"``: every
            one that requires a gradient).
        chunk: samples per pass (default 250 for ``"true"``, 64 for ``"empirical"``); the
            result does not depend on it beyond rounding.

    Returns:
        ``{parameter name: F of the parameter's shape}``, on the parameters' device.

    Example:
        With all parameters zero, ``p = (½, ½)`` for every ``x`` and the true Fisher is
        ``F_{b_c} = Σ_y p_y (δ_yc − p_c)² = ¼``, ``F_{W_cj} = ¼ x_j²``; the empirical one
        takes the true label alone, ``(δ_yc − p_c)² = ¼`` too:

        >>> lin = nn.Linear(3, 2)
        >>> _ = nn.init.zeros_(lin.weight), nn.init.zeros_(lin.bias)
        >>> fisher_diagonal(lin, torch.ones(4, 3))["bias"]
        tensor([0.2500, 0.2500])
        >>> fisher_diagonal(lin, [(torch.ones(4, 3), torch.zeros(4, dtype=torch.long))],
        ...                 kind="empirical")["weight"]
        tensor([[0.2500, 0.2500, 0.2500],
                [0.2500, 0.2500, 0.2500]])
    """
    if kind not in FISHER_KINDS:
        raise ValueError(f"unknown Fisher kind {kind!r}: expected one of {FISHER_KINDS}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    was_training = model.training
    model.eval()
    try:
        if kind == "true":
            fisher = _mean_over(data, chunk or 250, lambda xb: per_sample_gradient_sum(
                model, xb, _true_fisher_terms, power=2))
            return fisher if names is None else {n: fisher[n] for n in names}
        return _empirical_fisher(model, data, names, chunk or 64)
    finally:
        model.train(was_training)


def _true_fisher_terms(logits: torch.Tensor):
    """``Σ_y p(y|x) (∂ log p(y|x)/∂θ)²``: one term ``(weight p_y, per-sample log p_y)`` per class."""
    log_p = F.log_softmax(logits, dim=1)
    p = log_p.exp()
    return [(p[:, c], log_p[:, c]) for c in range(logits.shape[1])]


def _empirical_fisher(model: nn.Module, data: Iterable, names: Sequence[str] | None,
                      chunk: int) -> dict[str, torch.Tensor]:
    """``mean_n (∂ℓ(x_n, y_n)/∂θ)²`` over the ``(x, y)`` batches of ``data``, ``chunk`` samples a pass."""
    if names is None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
    names = list(names)
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for x, y in data:
        x, y = to_device(x, device), to_device(y, device)
        for start in range(0, x.shape[0], chunk):
            grads = per_sample_gradients(model, x[start:start + chunk], y[start:start + chunk], names)
            for n, g in grads.items():
                s = (g * g).sum(0)
                sums[n] = s if n not in sums else sums[n] + s
            count += min(chunk, x.shape[0] - start)
    if count == 0:
        raise ValueError("fisher_diagonal(kind='empirical') got no samples: data is empty")
    return {n: s / count for n, s in sums.items()}


def _batches(data, batch_size: int):
    x = data.tensors[0] if isinstance(data, TensorDataset) else (
        data[0] if isinstance(data, (tuple, list)) else data)
    if not isinstance(x, torch.Tensor) or x.shape[0] == 0:
        raise ValueError("importance needs a non-empty TensorDataset, (x, y) pair or tensor x")
    for start in range(0, x.shape[0], batch_size):
        yield x[start:start + batch_size]


def _mean_over(data, batch_size, fn) -> dict[str, torch.Tensor]:
    total, n = None, 0
    for xb in _batches(data, batch_size):
        part = fn(xb)
        total = part if total is None else {k: total[k] + v for k, v in part.items()}
        n += xb.shape[0]
    return {k: v / n for k, v in total.items()}
