"""Per-sample gradients, summed over the samples: the one engine behind the Fisher and MAS.

:func:`per_sample_gradient_sum` gives ``Σ_n w_n |∂ s_n / ∂θ|^p`` for every parameter,
``s_n`` a scalar of sample ``n`` alone (its loss, the log-probability of one label, the
squared norm of its logits). Because the samples are independent, one backward pass of
``Σ_n s_n`` gives every sample's gradient ``δ_n`` at the output of each layer (forward
hooks keep the layers' inputs and outputs), and each layer turns ``δ_n`` and its input
``a_n`` into the per-sample gradient of its parameters:

* :class:`torch.nn.Linear` on ``(B, in)`` inputs: ``∂s_n/∂W = δ_n a_nᵀ`` is an outer
  product, and ``|δ a|^p = |δ|^p |a|^p``, so the sum over the samples (and over the
  objective's terms) is one matrix product, ``(Σ_t w |δ_t|^p)ᵀ |a|^p``; the per-sample
  gradients are never held. On inputs with more dims (``(B, ..., in)``) the positions
  are summed: ``δ_nᵀ a_n`` with both ``(positions, ·)``.
* :class:`torch.nn.Conv2d`: ``∂s_n/∂W = δ_n U_nᵀ``, ``δ_n`` of shape ``(C_out, L)`` and
  ``U_n = unfold(a_n)`` of shape ``(C_in·kh·kw, L)`` over the ``L`` output positions
  (any stride, padding, padding mode, dilation and groups), computed as the weight
  gradient of one convolution with a group per sample; the bias: ``Σ_L δ_n``. These
  are held for a chunk of samples at a time (about ``2^24`` numbers).
* Batch norm (:class:`torch.nn.BatchNorm1d`, ``2d``, ``3d``) in eval mode, an affine map
  ``y = γ x̂ + β`` of ``x̂ = (x − μ_running) / √(σ²_running + ε)``: ``∂s_n/∂γ = Σ δ_n x̂_n``,
  ``∂s_n/∂β = Σ δ_n`` over the spatial positions. In training mode batch norm mixes the
  samples of a batch (its statistics), and there is no per-sample gradient: that raises.
* :class:`~afm.ForgettingLayer` (every gate mode; 2-D inputs, or 4-D ones read through
  their spatial mean): Eq. (4)'s switches are ``σ = sigmoid(ρ z)``, so the gradient at ``z``
  is ``ρ σ (1 − σ)`` times the one at ``σ``, and ``z = h W_f + b`` (dense), ``w ⊙ h + b``
  (diagonal) or ``w`` (static) is again an outer or elementwise product, summed as for
  Linear.

Layers without parameters (ReLU, pooling, flattening) need nothing. A parameter of any
other module raises ``ValueError`` naming it, as does a layer run twice in one forward or
an output changed in place (e.g. ``ReLU(inplace=True)``): never a silent wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from afm.layer import ForgettingLayer

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
#: The module types whose parameters :func:`per_sample_gradient_sum` differentiates.
SUPPORTED = (nn.Linear, nn.Conv2d, *_BATCH_NORMS, ForgettingLayer)
_SUPPORTED_TEXT = ("Linear, Conv2d, BatchNorm1d/2d/3d (eval mode) and ForgettingLayer, "
                   "each with its own 'weight' and 'bias'")
#: About how many numbers of per-sample gradients one layer holds at once (chunks of samples).
_CHUNK_NUMBERS = 2 ** 24

Terms = list[tuple[torch.Tensor | None, torch.Tensor]]


def per_sample_gradient_sum(model: nn.Module, x: torch.Tensor,
                            objectives: Callable[[torch.Tensor], Terms], power: int = 2,
                            names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """``Σ_n Σ_terms w_n |∂ s_n / ∂θ|^power`` for the parameters ``names``, from per-sample gradients.

    ``objectives(logits)`` returns terms ``(w, s)``: per-sample scalars ``s`` of shape
    ``(B,)`` and per-sample weights ``w`` ``(B,)`` (or ``None`` for 1); ``s_n`` may depend
    on sample ``n`` alone. One backward pass per term gives every sample's gradient at
    the output of each layer, and each layer makes its parameters' per-sample gradients
    from it (the module docstring says how, per layer type). This is how EWC's Fisher,
    OBD's and MAS's importance cost a few backward passes instead of one per sample.

    Args:
        model: evaluated as it is (call ``.eval()`` first: batch norm must use its running
            statistics); its logits ``(B, C)`` are what ``objectives`` receives. Every
            parameter asked for must belong to a module of :data:`SUPPORTED`.
        x: ``(B, ...)`` inputs.
        objectives: ``logits (B, C) -> [(w (B,) or None, s (B,)), ...]``, see above.
        power: 2 (squares: the Fisher) or 1 (absolute values: MAS).
        names: the parameters to return (default: every parameter of ``model``).

    Returns:
        ``{parameter name: tensor of the parameter's shape}`` on the parameters' device,
        summed over the ``B`` samples, not averaged (zero for a layer the forward skipped).

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
    params = dict(model.named_parameters())
    names = list(params) if names is None else list(names)
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ValueError(f"{type(model).__name__} has no parameters {unknown[:3]}; "
                         f"valid names start with {list(params)[:3]}")
    layers = _layers_of(model, names)
    _check_independent(model)
    logits, seen = _run(model, x, layers)
    sums = _accumulate(layers, logits, seen, objectives, power)
    out = {}
    for n in names:
        layer, _, attr = n.rpartition(".")
        part = sums.get(layer, {}).get(attr)
        out[n] = part if part is not None else torch.zeros_like(params[n].detach())
    return out


def _layers_of(model: nn.Module, names: list[str]) -> dict[str, nn.Module]:
    """``{module name: module}`` owning ``names``; a parameter of an unsupported module raises."""
    layers = {}
    for n in names:
        layer, _, attr = n.rpartition(".")
        module = model.get_submodule(layer)
        if not isinstance(module, SUPPORTED) or attr not in ("weight", "bias"):
            raise ValueError(
                f"per-sample gradients: parameter {n!r} belongs to module {layer or '(the model)'!r} "
                f"of type {type(module).__name__}, which the engine does not support; it supports "
                f"{_SUPPORTED_TEXT}")
        layers[layer] = module
    return layers


def _check_independent(model: nn.Module) -> None:
    """Batch norm that uses the batch's statistics couples the samples: no per-sample gradient."""
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and (m.training or m.running_mean is None):
            raise ValueError(f"per-sample gradients: batch norm {name!r} normalises with the "
                             f"batch's statistics (training mode or no running statistics), which "
                             f"couples the samples; call model.eval() first")


def _run(model: nn.Module, x: torch.Tensor, layers: dict[str, nn.Module]) -> tuple[torch.Tensor, dict]:
    """One forward with hooks: the logits and ``{layer name: (input, output, their versions)}``."""
    seen: dict = {}

    def hook(name):
        def fn(module, inputs, output):
            if name in seen:
                raise ValueError(f"per-sample gradients: module {name!r} ({type(module).__name__}) "
                                 f"ran twice in one forward; each layer must run once per sample")
            if isinstance(module, ForgettingLayer):
                if module.gate is None or module.gate.dim() != 2:
                    raise ValueError(f"{name}: per-sample gradients need the (B, N) gate of "
                                     f"the forgetting layer's forward")
                inp, output = module.excitation, module.gate
            else:
                inp = inputs[0]
            seen[name] = (inp, output, (inp._version, output._version))
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    try:
        with torch.enable_grad():
            if x.is_floating_point():  # every layer's output in the graph, frozen ones too
                x = x.detach().requires_grad_(True)
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    for name, (inp, output, versions) in seen.items():
        if (inp._version, output._version) != versions:
            raise ValueError(f"per-sample gradients: the input or output of {name!r} was changed "
                             f"in place later in the forward (e.g. ReLU(inplace=True)); use "
                             f"out-of-place operations")
    return logits, seen


def _accumulate(layers: dict[str, nn.Module], logits: torch.Tensor, seen: dict, objectives,
                power: int) -> dict:
    """``{layer: {"weight"/"bias": Σ_terms Σ_n w_n |per-sample gradient|^p}}`` of the layers that ran."""
    ran = [n for n in layers if n in seen]
    if not ran:
        return {}
    outputs = [seen[n][1] for n in ran]
    factored: dict[str, torch.Tensor] = {}       # Σ_t w |δ_t|^p of Linear 2-D / forgetting layers
    sums: dict[str, dict[str, torch.Tensor]] = {}  # everything else, summed term by term
    terms = objectives(logits)
    for k, (w, s) in enumerate(terms):
        deltas = torch.autograd.grad(s.sum(), outputs, retain_graph=k < len(terms) - 1,
                                     allow_unused=True)
        for name, d in zip(ran, deltas):
            module, (inp, out, _) = layers[name], seen[name]
            d = torch.zeros_like(out) if d is None else d.detach()
            wd = None if w is None else w.detach()
            if isinstance(module, ForgettingLayer):  # ∂/∂z = ρ σ (1 − σ) ∂/∂σ
                sigma = out.detach()
                d = d * module.rho * sigma * (1 - sigma)
            if isinstance(module, ForgettingLayer) or (isinstance(module, nn.Linear) and inp.dim() == 2):
                d = d.abs() ** power * (1 if wd is None else wd[:, None])
                factored[name] = d if name not in factored else factored[name] + d
                continue
            for attr, g in _materialised(module, inp.detach(), d, power, wd).items():
                acc = sums.setdefault(name, {})
                acc[attr] = g if attr not in acc else acc[attr] + g
    for name, d in factored.items():
        sums[name] = _factored(layers[name], seen[name][0].detach().abs() ** power, d)
    return sums


def _factored(module: nn.Module, a: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sums over samples of outer/elementwise products: ``a = |input|^p``, ``d = Σ_t w |δ_t|^p``."""
    if isinstance(module, nn.Linear):               # z = W a + b
        out = {"weight": d.T @ a}
    elif module.gate_mode == "dense":               # z_j = Σ_i h_i W_ij + b_j
        out = {"weight": a.T @ d}
    elif module.gate_mode == "diagonal":            # z_i = w_i h_i + b_i
        out = {"weight": (a * d).sum(0)}
    else:                                           # z_i = w_i
        out = {"weight": d.sum(0)}
    if module.bias is not None:
        out["bias"] = d.sum(0)
    return out


def _materialised(module: nn.Module, a: torch.Tensor, d: torch.Tensor, power: int,
                  w: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """``Σ_n w_n |g_n|^p`` with the per-sample gradients ``g_n`` held for a chunk of samples at a time."""
    size = max(module.weight.numel() if module.weight is not None else 1, a[0].numel())
    step = max(1, _CHUNK_NUMBERS // size)
    out: dict[str, torch.Tensor] = {}
    for start in range(0, a.shape[0], step):
        part = slice(start, start + step)
        for attr, g in _per_sample(module, a[part], d[part]).items():
            g = g.abs() ** power
            if w is not None:
                g = g * w[part].reshape(-1, *[1] * (g.dim() - 1))
            g = g.sum(0)
            out[attr] = g if attr not in out else out[attr] + g
    return out


def _per_sample(module: nn.Module, a: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample gradients ``{"weight": (B, *W.shape), "bias": (B, *b.shape)}`` from input and ``δ``."""
    b = a.shape[0]
    if isinstance(module, nn.Linear):  # (B, ..., in), (B, ..., out): sum over the positions
        a, d = a.reshape(b, -1, a.shape[-1]), d.reshape(b, -1, d.shape[-1])
        out = {"weight": d.transpose(1, 2) @ a, "bias": d.sum(1)}
    elif isinstance(module, nn.Conv2d):
        out = _conv2d(module, a, d)
    else:  # batch norm in eval mode: y = γ x̂ + β
        shape = (1, -1) + (1,) * (a.dim() - 2)
        x_hat = (a - module.running_mean.reshape(shape)) * torch.rsqrt(
            module.running_var.reshape(shape) + module.eps)
        dims = tuple(range(2, a.dim()))
        out = {"weight": (d * x_hat).sum(dims) if dims else d * x_hat,
               "bias": d.sum(dims) if dims else d}
    return {k: v for k, v in out.items() if getattr(module, k, None) is not None}


def _conv2d(conv: nn.Conv2d, a: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
    """``∂s_n/∂W = δ_n unfold(a_n)ᵀ`` for ``a (B, C_in, H, W)``, ``d (B, C_out, H', W')``.

    Computed as the weight gradient of one convolution whose groups are the samples (the
    samples side by side as channels), which is what ``δ_n unfold(a_n)ᵀ`` is, without
    unfolding the input."""
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    a = F.pad(a, conv._reversed_padding_repeated_twice, mode=mode)  # as Conv2d pads, "same" too
    b = a.shape[0]
    weight = torch.nn.grad.conv2d_weight(
        a.reshape(1, -1, *a.shape[2:]), (b * conv.out_channels, *conv.weight.shape[1:]),
        d.reshape(1, -1, *d.shape[2:]), stride=conv.stride, padding=0, dilation=conv.dilation,
        groups=b * conv.groups)
    return {"weight": weight.reshape(b, *conv.weight.shape), "bias": d.sum((2, 3))}
