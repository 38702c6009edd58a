"""Measurements of a trained network: sparsity, Eq. (1), and accuracy."""

from __future__ import annotations

import torch

from afm.checks import check_int, check_real, check_tensor


def activation_frequency(activations: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """``r_i``: the fraction of samples whose activation of neuron ``i`` exceeds ``threshold``.

    ``(num_samples, N) -> (N,)``.

    Args:
        activations: ``(num_samples, N)`` activations of one layer.
        threshold: a neuron is active when its activation exceeds this.

    Returns:
        ``(N,)`` float64, each entry in [0, 1].

    Example:
        >>> activation_frequency(torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, -1.0]]))
        tensor([1.0000, 0.0000, 0.5000], dtype=torch.float64)
    """
    _check_activations(activations)
    threshold = check_real(threshold, "threshold", what="a neuron is active above it")
    return (activations > threshold).double().mean(dim=0)


def sparsity(activations: torch.Tensor, threshold: float = 0.0) -> float:
    """Eq. (1), population sparseness (Treves-Rolls; Vinje & Gallant 2000).

    ``S = (1 - (Σ_i r_i / N)² / (Σ_i r_i² / N)) / (1 - 1/N)`` with ``r_i`` the
    fraction of samples on which neuron ``i`` is active (activation > ``threshold``).
    ``S = 0`` when all neurons are equally often active, ``S → 1`` when one
    neuron carries all activity. A layer that is never active at all has no
    activity to spread, and counts as fully sparse, ``S = 1``.

    Args:
        activations: ``(num_samples, N)`` activations of one layer, ``N >= 2``.
        threshold: a neuron is active when its activation exceeds this.

    Returns:
        A float in [0, 1].

    Example:
        >>> sparsity(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))  # one neuron does all
        1.0
        >>> sparsity(torch.ones(5, 3))  # every neuron always active
        0.0
    """
    r = activation_frequency(activations, threshold)
    n = r.numel()
    if n < 2:
        raise ValueError(f"sparsity needs at least 2 neurons (N >= 2), got N={n}")
    mean_sq = float((r * r).mean())
    if mean_sq == 0.0:
        return 1.0
    a = float(r.mean()) ** 2 / mean_sq
    return float(min(1.0, max(0.0, (1.0 - a) / (1.0 - 1.0 / n))))


def _check_activations(activations: torch.Tensor) -> None:
    check_tensor(activations, "activations")
    if activations.dim() != 2:
        raise ValueError(f"expected activations of shape (num_samples, N), got {tuple(activations.shape)}"
                         f"; flatten or average other dimensions first")
    if activations.shape[0] == 0:
        raise ValueError("expected at least one sample of activations, got 0")
    if activations.shape[1] == 0:
        raise ValueError("expected activations of at least one neuron, got N = 0 (a zero-width layer)")
    if torch.isnan(activations).any():
        raise ValueError("activations contain NaN: check the model's forward pass and inputs")


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of rows of ``logits`` ``(B, C)`` whose arg-max equals ``labels`` ``(B,)``.

    Args:
        logits: ``(B, C)`` scores (or probabilities) of ``C`` classes.
        labels: ``(B,)`` integer class indices.

    Returns:
        A float in [0, 1].

    Example:
        >>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]), torch.tensor([0, 1, 1]))
        0.6666666666666666
    """
    _check_logits(logits, labels)
    if logits.shape[0] == 0:
        raise ValueError("accuracy of an empty batch (B = 0) is undefined: pass at least one sample")
    return float((logits.argmax(dim=1) == labels).double().mean())


def _check_logits(logits: torch.Tensor, labels: torch.Tensor) -> None:
    check_tensor(logits, "logits")
    check_tensor(labels, "labels")
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (B, C) and labels (B,), got {tuple(logits.shape)} "
                         f"and {tuple(labels.shape)}")


def per_class_accuracy(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Fig. 2c: the accuracy on each class, ``(num_classes,)`` float64.

    Entry ``c`` is the fraction of samples of class ``c`` whose arg-max is ``c``
    (NaN for a class with no samples).

    Example:
        >>> per_class_accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]),
        ...                    torch.tensor([0, 0, 1]), 2)
        tensor([0.5000, 0.0000], dtype=torch.float64)
    """
    _check_logits(logits, labels)
    num_classes = check_int(num_classes, "num_classes", 1)
    if num_classes < 1 or (labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes)):
        raise ValueError(f"labels must lie in [0, num_classes={num_classes})")
    correct = (logits.argmax(dim=1) == labels).double()
    hits = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, labels, correct)
    counts = torch.bincount(labels, minlength=num_classes).double()
    return torch.where(counts > 0, hits / counts.clamp(min=1), torch.full_like(counts, float("nan")))
