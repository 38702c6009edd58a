"""The own-model chapter's figure (a transformer with forgetting layers), drawn from results."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def fig_plugin_by_seed(results_by_seed: dict):
    """The plug-in chapter's figure: accuracy as feed-forward units are pruned, least important
    first, plain (by mean |activation|) vs forgetting layer (by Ω), mean ± std over seeds; and
    the importance of every feed-forward unit, sorted."""
    runs = [results_by_seed[s] for s in sorted(results_by_seed)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    for key, label, color in (("plain", "plain (mean |activation|)", "0.4"),
                              ("forgetting", "with P&PF (Ω)", "#C44E52")):
        fr = np.asarray(runs[0][key]["prune_fractions"])
        acc = 100 * np.stack([r[key]["prune_acc"] for r in runs])
        axes[0].plot(100 * fr, acc.mean(0), marker="o", color=color, label=label)
        axes[0].fill_between(100 * fr, acc.mean(0) - acc.std(0), acc.mean(0) + acc.std(0),
                             color=color, alpha=0.2)
        imp = np.sort(np.concatenate(list(runs[0][key]["importance"].values())))[::-1]
        axes[1].plot(imp, color=color, label=label)
    axes[0].set_xlabel("feed-forward units removed, least important first (%)")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend()
    axes[1].set_xlabel("feed-forward unit (sorted)")
    axes[1].set_ylabel("importance (seed 0)")
    axes[1].legend()
    fig.suptitle("Pruning a transformer's MLP blocks by importance", x=0.02, ha="left")
    return fig
