"""Figures of the chapter "Forgetting layers for efficient learning": Fig. 3a, 3b and 3c.

Each ``fig_*`` takes ``{seed: results}`` of the matching function of
:mod:`afm.experiments.efficient_learning` and returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from afm.plotting.style import EFFICIENT_METHODS as METHOD_STYLE
from afm.plotting.style import EFFICIENT_RULES as RULE_STYLE
from afm.plotting.style import EFFICIENT_VARIANTS as VARIANT_STYLE
from afm.plotting.style import mean_and_std



def _size_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def fig_3a_structure(results_by_seed: dict):
    """Fig. 3a: top row, test accuracy over training at each training-set size (mean ± std over
    seeds); bottom row, final test accuracy, the gain over sgd and the train-test gap against
    the training-set size."""
    first = next(iter(results_by_seed.values()))
    sizes = first["sizes"]
    methods = list(METHOD_STYLE)
    fig = plt.figure(figsize=(12, 7), constrained_layout=True)
    grid = fig.add_gridspec(2, max(3, len(sizes)))
    for k, n in enumerate(sizes):
        ax = fig.add_subplot(grid[0, k])
        for m in methods:
            mean, std = mean_and_std([100 * r["runs"][n][m]["test_curve"] for r in results_by_seed.values()])
            epochs = np.arange(1, mean.size + 1)
            ax.plot(epochs, mean, lw=1.6, **METHOD_STYLE[m])
            ax.fill_between(epochs, mean - std, mean + std, color=METHOD_STYLE[m]["color"], alpha=0.15, lw=0)
        ax.set_title(f"{_size_label(n)} training images", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        lo = min(100 * r["runs"][n][m]["test_curve"][-1] for r in results_by_seed.values() for m in methods)
        ax.set_ylim(max(0, lo - 10), None)
        if k == 0:
            ax.legend(fontsize=8, frameon=False, loc="lower right")
    x = np.array(sizes, dtype=float)
    panels = [("test_acc", "final test accuracy (%)", 100, False),
              ("gain", "gain over sgd (points)", 100, True),
              ("gap", "train − test accuracy (points)", 100, False)]
    for k, (key, label, scale, gain) in enumerate(panels):
        ax = fig.add_subplot(grid[1, k])
        for m in methods:
            if gain and m == "sgd":
                continue
            rows = []
            for r in results_by_seed.values():
                vals = [r["runs"][n][m][key if not gain else "test_acc"]
                        - (r["runs"][n]["sgd"]["test_acc"] if gain else 0.0) for n in sizes]
                rows.append(scale * np.array(vals))
            mean, std = mean_and_std(rows)
            ax.errorbar(x, mean, yerr=std, marker="o", ms=4, capsize=3, lw=1.4, **METHOD_STYLE[m])
        if gain:
            ax.axhline(13, color="#C44E52", ls=":", lw=1)
            ax.text(x[0], 13.3, "paper: ≈ 13", color="#C44E52", fontsize=8, va="bottom")
            ax.axhline(0, color="0.6", lw=0.7)
            ax.set_ylim(top=max(ax.get_ylim()[1], 15))
        ax.set_xscale("log")
        ax.set_xticks(x, [_size_label(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training images")
        ax.set_ylabel(label)
    fig.suptitle(f"Fig. 3a  MLP 784-256-256-128-10 on Fashion-MNIST, {len(results_by_seed)} seed(s) "
                 f"(mean ± std)", x=0.01, ha="left")
    return fig


def fig_3b_pruning(results_by_seed: dict):
    """Fig. 3b: test accuracy of the trained VGG-9 with forgetting layers against the fraction
    of its weights kept, for the paper's three pruning rules and two references (mean ± std
    over seeds; random: over seeds and draws). Shaded: within 1 point of the unpruned
    network. Right: the share of each layer's weights that each rule keeps at 20 % overall
    (seed 0)."""
    first = results_by_seed[min(results_by_seed)]
    f = np.asarray(first["fractions"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True,
                             gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    unpruned = 100 * np.mean([r["unpruned"] for r in results_by_seed.values()])
    ax.axhspan(unpruned - 1, unpruned + 1, color="0.85", lw=0, label="unpruned ± 1 point")
    for rule, style in RULE_STYLE.items():
        if rule not in first["acc"]:
            continue
        if rule == "random":
            rows = np.concatenate([100 * np.asarray(r["random_draws"]) for r in results_by_seed.values()])
        else:
            rows = [100 * np.asarray(r["acc"][rule]) for r in results_by_seed.values()]
        mean, std = mean_and_std(rows)
        ax.plot(100 * f, mean, lw=1.6, ms=4, **style)
        ax.fill_between(100 * f, mean - std, mean + std, color=style["color"], alpha=0.15, lw=0)
    ax.axvline(20, color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ticks = [5, 10, 20, 40, 60, 100]
    ax.set_xticks(ticks, [f"{t} %" for t in ticks])
    ax.minorticks_off()
    ax.invert_xaxis()
    ax.set_xlabel("weights kept (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, min(100, unpruned + 10))
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax = axes[1]
    i = int(np.argmin(np.abs(f - 0.2)))
    names = list(first["layers"]["importance"][i])
    short = [n.replace(".main", "").replace(".weight", "").replace(".0.0", ".0") for n in names]
    rules = [r for r in RULE_STYLE if r in first["layers"]
             and r not in ("importance_layer", "importance_reversed")]  # those two: uniform
    width = 0.8 / len(rules)
    for k, rule in enumerate(rules):
        kept = [100 * first["layers"][rule][i][n] for n in names]
        style = RULE_STYLE[rule]
        ax.bar(np.arange(len(names)) + (k - (len(rules) - 1) / 2) * width, kept, width,
               color=style["color"], hatch="//" if rule == "importance_layer" else None,
               edgecolor="white" if rule == "importance_layer" else None,
               label=style["label"].split(" (")[0])
    ax.set_xticks(np.arange(len(names)), short, rotation=60, fontsize=8)
    ax.set_ylabel(f"weights kept per layer (%) at {100 * f[i]:.0f} % overall")
    ax.legend(fontsize=8, frameon=False)
    fig.suptitle(f"Fig. 3b  Pruning the trained VGG-9 with forgetting layers (CIFAR-10 JPEG stand-in, "
                 f"{len(results_by_seed)} seed(s))", x=0.01, ha="left")
    return fig


def fig_3c_convergence(results_by_seed: dict):
    """Fig. 3c: training loss per batch (thin, seed 0) and per epoch (thick, mean over seeds) of
    the three VGG-9s; right, the total variation of the per-batch loss (each seed a dot)."""
    first = results_by_seed[min(results_by_seed)]
    spe = first["steps_per_epoch"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True,
                             gridspec_kw={"width_ratios": [3, 1.3]})
    ax = axes[0]
    for v, style in VARIANT_STYLE.items():
        bl = np.asarray(first["runs"][v]["batch_loss"])
        ax.plot(np.arange(1, bl.size + 1) / spe, bl, color=style["color"], lw=0.5, alpha=0.45)
        mean, _ = mean_and_std([r["runs"][v]["epoch_loss"] for r in results_by_seed.values()])
        ax.plot(np.arange(mean.size) + 0.5, mean, marker="o", lw=2, **style)  # mid-epoch
    ax.set_xlabel("epoch (dots: mean over the epoch, at its middle)")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.legend(fontsize=8, frameon=False)
    ax = axes[1]
    for k, (v, style) in enumerate(VARIANT_STYLE.items()):
        tv = [r["runs"][v]["tv"] for r in results_by_seed.values()]
        ax.bar(k, np.mean(tv), color=style["color"], alpha=0.7)
        ax.scatter(np.full(len(tv), k), tv, color="black", s=12, zorder=3)
    ax.set_xticks(range(len(VARIANT_STYLE)), [s["label"] for s in VARIANT_STYLE.values()],
                  rotation=20, fontsize=8)
    ax.set_ylabel("total variation of per-batch loss")
    fig.suptitle(f"Fig. 3c  Convergence of VGG-9 on the CIFAR-10 JPEG stand-in "
                 f"({len(results_by_seed)} seed(s); thin lines: per batch, seed {min(results_by_seed)})",
                 x=0.01, ha="left")
    return fig
