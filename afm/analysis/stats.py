"""The shape of a distribution of neuron importance (Fig. 2d): bimodality and polarisation.

The paper says the forgetting layer makes importance "close to the bimodal
distribution" and "concentrated at both ends". Two numbers make that testable:

* :func:`bimodality_coefficient`, Sarle's ``b = (g² + 1) / (k + 3(n-1)²/((n-2)(n-3)))``
  with ``g`` the sample skewness and ``k`` the sample excess kurtosis (both
  bias-corrected, as in SAS and most references). ``b`` is ``5/9`` for a uniform
  distribution, ``1/3`` for a normal one and tends to ``1`` for two point
  masses; ``b > 5/9`` is the usual hint of bimodality. A strongly skewed
  *unimodal* sample can also exceed ``5/9``, so read it together with
* :func:`end_shares`: the share of values near the lower and the upper end of
  ``[0, 1]``; a bimodal importance has mass at *both* ends;
* :func:`polarisation`: ``2 · E|x - 1/2|`` for values in ``[0, 1]``, how far they
  sit from the undecided middle (0 when all are 1/2, 1 when all are 0 or 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Sarle's coefficient of a uniform distribution: values above it suggest bimodality.
UNIFORM_BIMODALITY = 5 / 9


def _as_sample(x, minimum: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D sample of values, got shape {arr.shape}; flatten it first")
    if arr.size < minimum:
        raise ValueError(f"need at least {minimum} values, got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError("the sample contains NaN or infinite values")
    return arr


def _central_moments(arr: np.ndarray) -> tuple[float, float, float]:
    d = arr - arr.mean()
    m2 = float(np.mean(d ** 2))
    if m2 <= 1e-24 * max(1.0, float(np.mean(arr ** 2))):
        raise ValueError("the sample has (numerically) zero variance: its shape is undefined")
    return m2, float(np.mean(d ** 3)), float(np.mean(d ** 4))


def skewness(x) -> float:
    """Bias-corrected sample skewness ``G1 = g1 · √(n(n-1)) / (n-2)``, ``g1 = m3 / m2^{3/2}``.

    Equals ``scipy.stats.skew(x, bias=False)``.

    Args:
        x: ``(n,)`` a 1-D array or tensor, ``n >= 3``, not all values equal.

    Returns:
        ``G1``, a float: 0 for a symmetric sample, positive for a long right tail.

    Example:
        >>> skewness([1.0, 2.0, 3.0])
        0.0
        >>> round(skewness([0.0, 0.0, 0.0, 1.0]), 6)
        2.0
    """
    arr = _as_sample(x, 3)
    n = arr.size
    m2, m3, _ = _central_moments(arr)
    return m3 / m2 ** 1.5 * math.sqrt(n * (n - 1)) / (n - 2)


def excess_kurtosis(x) -> float:
    """Bias-corrected sample excess kurtosis ``G2 = ((n+1) g2 + 6)(n-1) / ((n-2)(n-3))``.

    ``g2 = m4 / m2² - 3``. Equals ``scipy.stats.kurtosis(x, fisher=True, bias=False)``.

    Args:
        x: ``(n,)`` a 1-D array or tensor, ``n >= 4``, not all values equal.

    Returns:
        ``G2``, a float: about 0 for a normal sample, negative for two point masses.

    Example:
        >>> round(excess_kurtosis([0.0, 0.0, 0.0, 1.0]), 6)
        4.0
        >>> round(excess_kurtosis([0.0, 0.0, 1.0, 1.0]), 6)  # two point masses
        -6.0
    """
    arr = _as_sample(x, 4)
    n = arr.size
    m2, _, m4 = _central_moments(arr)
    g2 = m4 / m2 ** 2 - 3.0
    return ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))


def bimodality_coefficient(x) -> float:
    """Sarle's bimodality coefficient ``b = (G1² + 1) / (G2 + 3(n-1)² / ((n-2)(n-3)))``.

    ``G1``, ``G2``: :func:`skewness` and :func:`excess_kurtosis`. ``b`` lies in
    ``(0, 1]``; ``5/9`` (:data:`UNIFORM_BIMODALITY`) for a uniform sample,
    about ``1/3`` for a normal one, near ``1`` for two separated clusters.
    Used for Fig. 2d, the distribution of neuron importance per layer.

    Args:
        x: a 1-D array or tensor of at least 4 values, not all equal.

    Raises:
        ValueError: fewer than 4 values, NaN/inf, or zero variance.

    Example:
        >>> round(bimodality_coefficient([0.0] * 50 + [1.0] * 50), 3)  # two point masses
        0.951
    """
    arr = _as_sample(x, 4)
    n = arr.size
    g, k = skewness(arr), excess_kurtosis(arr)
    return (g * g + 1.0) / (k + 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def end_shares(x, margin: float = 0.1, low: float = 0.0, high: float = 1.0) -> tuple[float, float]:
    """The share of values within ``margin`` of each end of ``[low, high]``.

    Returns ``(share of x <= low + margin, share of x >= high - margin)``; for
    neuron importance in ``[0, 1]`` and ``margin=0.1``: the shares of nearly
    closed and nearly open switches.

    Example:
        >>> end_shares([0.0, 0.05, 0.5, 0.95])
        (0.5, 0.25)
    """
    arr = _as_sample(x, 1)
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    if not 0 <= margin <= (high - low) / 2:
        raise ValueError(f"margin must lie in [0, (high-low)/2] = [0, {(high - low) / 2}], got {margin}")
    return float(np.mean(arr <= low + margin)), float(np.mean(arr >= high - margin))


def polarisation(x) -> float:
    """``P = 2 · mean |x - 1/2|`` of values in [0, 1]: 0 if all are 1/2, 1 if all are 0 or 1.

    For neuron importance Ω: how decided the switches are, whichever way. It does
    not tell one end from two (all switches closed also gives ``P ≈ 1``), so read it
    with :func:`end_shares`.

    Example:
        >>> polarisation([0.0, 1.0, 0.5, 0.25])
        0.625
    """
    arr = _as_sample(x, 1)
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"polarisation needs values in [0, 1], got [{arr.min()}, {arr.max()}]")
    return float(2 * np.mean(np.abs(arr - 0.5)))
