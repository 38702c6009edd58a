"""What every figure of the book shares: colours, the names of methods as the legends print
them (one vocabulary per chapter), and the mean ± standard deviation band over seeds.

Results are keyed by short code names (``"decov"``, ``("forgetting", "omega")``); a
legend or a table turns them into words with these dictionaries, never the other way round.
"""

from __future__ import annotations

import numpy as np

#: The book's palette.
BLUE, ORANGE, GREEN, RED, PURPLE, BROWN = "#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"
GREY, DARK_GREY = "0.55", "0.35"

# Chapter 2, "Sparse coding": the three networks of Fig. 1d-1f.
VARIANT_COLORS = {"plain": GREY, "ERS": ORANGE, "ERS + IRS": BLUE}

# Chapter 3, "Neuron importance": Fig. 2c's rankings of channels, (network, measure).
RANKING_LABELS = {("forgetting", "omega"): "forgetting, Ω",
                  ("plain", "activation"): "plain, activation",
                  ("forgetting", "activation"): "forgetting, activation"}

# Chapter 4, "Balance": Fig. 4a's methods (the paper's legend; DeCov is the paper's "deconv").
BALANCE_COLORS = {"L1": PURPLE, "decov": BROWN, "sgd": BLUE, "inhibition": ORANGE,
                  "i_short_cut": GREEN, "lateral_inhibition": RED}
BALANCE_LABELS = {"L1": "L1", "decov": "DeCov", "sgd": "sgd", "inhibition": "inhibition",
                  "i_short_cut": "i_short_cut", "lateral_inhibition": "lateral_inhibition"}


def mean_and_std(rows) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds (axis 0, ``ddof=1``; 0 for one seed) of
    ``(seeds, *shape)`` values: :func:`afm.lab.runs.spread`, element by element.

    Example:
        >>> mean_and_std([[1.0, 2.0], [3.0, 6.0]])
        (array([2., 4.]), array([1.41421356, 2.82842712]))
    """
    a = np.asarray(rows, dtype=float)
    std = a.std(0, ddof=1) if a.shape[0] > 1 else np.zeros(a.shape[1:])
    return a.mean(0), std


def band(ax, x, rows, color=None, alpha: float = 0.15, **line):
    """Draw the mean of ``rows`` (``(seeds, len(x))``) over ``x`` as a line, with a shaded
    mean ± std band; ``line`` goes to ``ax.plot`` (label, ls, lw, marker, ...).
    Returns ``(mean, std)``."""
    mean, std = mean_and_std(rows)
    ax.plot(x, mean, color=color, **line)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=alpha, lw=0)
    return mean, std
