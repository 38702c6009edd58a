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

# Chapter 3, "Neuron importance": the orders in which Fig. 2a ablates neurons, and Fig. 2c's
# rankings of channels, (network, measure).
ABLATION_ORDERS = {"positive": dict(color=GREEN, label="positive order (least important first)"),
                   "inverse": dict(color="black", label="inverse order (most important first)"),
                   "random": dict(color=RED, label="random (mean ± std)")}
RANKING_LABELS = {("forgetting", "omega"): "forgetting, Ω",
                  ("plain", "activation"): "plain, activation",
                  ("forgetting", "activation"): "forgetting, activation"}

# Chapter 4, "Balance": Fig. 4a's methods (the paper's legend; DeCov is the paper's "deconv"),
# the complete layer in red as the inhibitory neurons of Fig. 1a; Fig. 4c's feature spaces.
BALANCE_COLORS = {"L1": PURPLE, "decov": BROWN, "sgd": BLUE, "inhibition": ORANGE,
                  "i_short_cut": GREEN, "lateral_inhibition": RED}
BALANCE_LABELS = {"L1": "L1", "decov": "DeCov", "sgd": "sgd", "inhibition": "inhibition",
                  "i_short_cut": "i_short_cut", "lateral_inhibition": "lateral_inhibition"}
FEATURE_SPACES = {"pixels": "raw pixels", "sgd": "plain network (sgd)",
                  "lateral_inhibition": "forgetting layer (lateral_inhibition)"}

# Chapter 5, "Long-sequence memory": Fig. 5b's methods, (label, colour, line style), and
# the paper's Fig. 5c colours: yellow with forgetting layers, blue without.
LONG_MEMORY_METHODS = {
    "joint": ("joint (upper bound)", "0.1", "--"),
    "sgd": ("sgd (fine-tuning)", GREY, "-"),
    "ewc": ("ewc", BLUE, "-"),
    "ewc_f": ("ewc_f", RED, "-"),
    "mas": ("mas", GREEN, "-"),
    "mas_f": ("mas_f", GREEN, ":"),
    "si": ("si", "#8172B2", "-"),
    "anpyc": ("anpyc", BROWN, "-"),
    "anpyc_f": ("anpyc_f", BROWN, ":"),
}
LONG_MEMORY_TITLES = {"mas": "MAS", "ewc": "EWC", "anpyc": "ANPyC"}
PLAIN_NETWORK, FORGETTING_NETWORK = BLUE, "#E1A829"

# Chapter 6, "Efficient learning": Fig. 3a's methods, Fig. 3b's pruning rules, Fig. 3c's networks.
EFFICIENT_METHODS = {"sgd": dict(color=DARK_GREY, label="sgd"),
                     "l1": dict(color=ORANGE, label="l1"),
                     "l2": dict(color=GREEN, label="l2"),
                     "forgetting": dict(color=RED, label="forgetting layer")}
EFFICIENT_RULES = {
    "random": dict(color="0.45", marker="s", label="forgetting random"),
    "obd": dict(color=BLUE, marker="^", label="forgetting OBD (iterative, fine-tuned)"),
    "importance": dict(color=RED, marker="o", label="forgetting l2 (Eq. 2, one shot)"),
    "importance_layer": dict(color=RED, marker="o", ls="--", mfc="white",
                             label="forgetting l2, the same share of every layer"),
    "importance_reversed": dict(color=RED, marker="x", ls="-.",
                                label="l2 reversed (most important first), every layer (diagnostic)"),
    "magnitude": dict(color=PURPLE, marker="d", ls=":", label="|w| (reference, not in the paper)")}
EFFICIENT_VARIANTS = {"sgd": dict(color=DARK_GREY, label="sgd"),
                      "forgetting*": dict(color=ORANGE, label="forgetting layer*"),
                      "forgetting": dict(color=RED, label="forgetting layer")}


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
