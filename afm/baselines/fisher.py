"""The diagonal of the empirical Fisher information, for any network (convolutions, batch norm).

Optimal brain damage (LeCun et al. 1990) ranks a weight ``w_q`` by the loss it
would cost to remove it, ``s_q = ½ H_qq w_q²`` (:func:`afm.baselines.pruning.obd_saliency`),
with ``H_qq`` the diagonal of the Hessian of the training loss. The book uses the
diagonal of the **empirical Fisher** in its place,

    F_qq = (1/n) Σ_n (∂ℓ(x_n, y_n) / ∂w_q)²,    ℓ = cross-entropy with the true label,

which equals the Hessian of the log-likelihood in expectation when the model's
predictive distribution matches the data (and is the Gauss-Newton
approximation that pruning methods usually take). It needs one gradient *per
sample*: :func:`empirical_fisher_diagonal` gets them in one vectorised pass
with ``torch.func`` (``vmap`` over ``grad``), the network in eval mode, so
batch norm uses its running statistics and the samples are independent.

``afm.baselines.continual.fisher_diagonal`` (EWC) computes the *true* Fisher (labels drawn
from the model) for networks of Linear layers; this one takes the true labels
and works for every module ``torch.func`` can differentiate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from afm.device import to_device


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


def empirical_fisher_diagonal(model: nn.Module, data: Iterable, names: Sequence[str] | None = None,
                              chunk: int = 64) -> dict[str, torch.Tensor]:
    """``F_qq = mean_n (∂ℓ_n/∂θ_q)²``: the diagonal of the empirical Fisher over ``data``.

    Args:
        model: any classifier; evaluated in eval mode (batch norm: running statistics),
            its training mode is restored afterwards.
        data: an iterable of ``(x, y)`` batches with the true labels ``y``.
        names: the parameters (default: every parameter that requires a gradient).
        chunk: samples per vectorised pass (memory: ``chunk`` copies of the gradients).

    Returns:
        ``{name: F of the parameter's shape}``, on the parameters' device.

    Example:
        >>> from afm import MLP
        >>> model = MLP([4, 3, 2], forgetting=False)
        >>> f = empirical_fisher_diagonal(model, [(torch.randn(5, 4), torch.zeros(5, dtype=torch.long))])
        >>> f["head.weight"].shape
        torch.Size([2, 3])
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if names is None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
    names = list(names)
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    count = 0
    was_training = model.training
    model.eval()
    try:
        for x, y in data:
            x, y = to_device(x, device), to_device(y, device)
            for start in range(0, x.shape[0], chunk):
                grads = per_sample_gradients(model, x[start:start + chunk], y[start:start + chunk],
                                             names)
                for n, g in grads.items():
                    s = (g * g).sum(0)
                    sums[n] = s if n not in sums else sums[n] + s
                count += min(chunk, x.shape[0] - start)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("empirical_fisher_diagonal got no samples: data is empty")
    return {n: s / count for n, s in sums.items()}
