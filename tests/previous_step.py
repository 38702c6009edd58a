"""The training step's arithmetic as it was before the overhead was cut (frozen, not for use).

``tests/test_step_identity.py`` checks that the optimised forgetting layer, losses and training
loop give the very same bits as this code: the book's cached results stay valid only if every
number is unchanged. The input checks are left out (they compute nothing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from afm.layer import ForgettingLayer


def forward(layer: ForgettingLayer, h: torch.Tensor) -> torch.Tensor:
    """``ForgettingLayer.forward`` (Eq. 3-5), as it was."""
    pooled = h if h.dim() == 2 else h.mean(dim=(2, 3))
    if layer.gate_mode == "dense":
        z = torch.addmm(layer.bias, pooled, layer.weight)
    elif layer.gate_mode == "diagonal":
        z = torch.addcmul(layer.bias, pooled, layer.weight)
    else:
        z = layer.weight.expand(pooled.shape[0], -1)
    sigma = torch.sigmoid(z if layer.rho == 1.0 else layer.rho * z)
    layer.gate, layer.excitation = sigma, pooled
    if layer.unit_gain:
        g = (sigma + 1).mul_(2.0 / 3.0) if layer.shortcut else sigma * 2.0
        return h * (g if h.dim() == 2 else g[:, :, None, None])
    s = sigma if h.dim() == 2 else sigma[:, :, None, None]
    return torch.addcmul(h, h, s) if layer.shortcut else h * s


class Inhibition(torch.autograd.Function):
    """Eq. (6), fused, as it was."""

    @staticmethod
    def forward(ctx, s):
        u = 1 - s
        numerator, denominator = (u * s).sum(1), u.sum(1)
        open_everywhere = denominator <= 0
        safe = torch.where(open_everywhere, torch.ones_like(denominator), denominator)
        ratio = torch.where(open_everywhere, torch.ones_like(safe), numerator / safe)
        ctx.save_for_backward(s, ratio, safe, open_everywhere)
        return ratio.mean()

    @staticmethod
    def backward(ctx, grad):
        s, ratio, safe, open_everywhere = ctx.saved_tensors
        coef = torch.where(open_everywhere, torch.zeros_like(safe), grad / (s.shape[0] * safe))
        return (1 - 2 * s + ratio[:, None]) * coef[:, None]


class Lateral(torch.autograd.Function):
    """Eq. (8) for one layer, fused, as it was."""

    @staticmethod
    def forward(ctx, h, s):
        b = h * s
        a = h - b
        sum_a, sum_b = a.sum(1, keepdim=True), b.sum(1, keepdim=True)
        ctx.save_for_backward(h, s, a, b, sum_a, sum_b)
        return (sum_a * sum_b).squeeze(1) - (a * b).sum(1)

    @staticmethod
    def backward(ctx, grad):
        h, s, a, b, sum_a, sum_b = ctx.saved_tensors
        g = grad[:, None]
        grad_a, grad_b = (sum_b - b) * g, (sum_a - a) * g
        return grad_a + (grad_b - grad_a) * s, (grad_b - grad_a) * h


def lateral(excitations, gates, reading="asymmetric"):
    total = 0
    for h, s in zip(excitations, gates):
        if reading == "asymmetric":
            total = total + Lateral.apply(h, s)
        else:
            hs = h * s
            total = total + (h.sum(1) ** 2 - (h * h).sum(1)) - (hs.sum(1) ** 2 - (hs * hs).sum(1))
    return total.mean()


def forgetting_loss(model: nn.Module, lam: float, beta: float, reading="asymmetric"):
    """``afm.forgetting_loss`` (Eq. 9 minus the task loss), as it was."""
    layers = [m for m in model.modules() if isinstance(m, ForgettingLayer)]
    gates = [layer.gate for layer in layers]
    loss = lam * Inhibition.apply(torch.cat(list(gates), dim=1)) if lam else gates[0].new_zeros(())
    if beta:
        loss = loss + beta * lateral([l.excitation for l in layers], gates, reading)
    return loss


def train(model: nn.Module, x, y, epochs: int, batch_size: int, lr: float, seed: int,
          lam: float, beta: float, reading: str = "asymmetric") -> dict:
    """The numbers ``afm.train`` computed with ``[Forgetting(lam, beta, reading)]`` (SGD,
    momentum 0.9), as it was: per-step task losses, per-epoch sums, mean σ per epoch."""
    torch.set_flush_denormal(True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    layers = [m for m in model.modules() if isinstance(m, ForgettingLayer)]
    out = {"batch_loss": [], "loss": [], "reg": [], "correct": [], "gates": []}
    for _ in range(epochs):
        model.train()
        sums = {"loss": 0.0, "reg": 0.0, "correct": 0}
        gate_sums = [0.0] * len(layers)
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start:start + batch_size]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            task = F.cross_entropy(logits, yb)
            reg = sum((r(model) for r in [lambda m: forgetting_loss(m, lam, beta, reading)]),
                      torch.zeros(()))
            loss = task + reg
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            out["batch_loss"].append(task.item())
            sums["loss"] += task.item() * yb.shape[0]
            sums["reg"] += reg.item() * yb.shape[0]
            sums["correct"] += int((logits.argmax(1) == yb).sum())
            for i, layer in enumerate(layers):
                gate_sums[i] = gate_sums[i] + layer.gate.detach().sum(0)
        out["loss"].append(sums["loss"])
        out["reg"].append(sums["reg"])
        out["correct"].append(sums["correct"])
        out["gates"].append([g / x.shape[0] for g in gate_sums])
    return out
