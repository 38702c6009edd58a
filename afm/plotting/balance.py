"""Fig. 4a-4c, drawn from the results of :mod:`afm.experiments.balance` (matplotlib).

Each ``fig_4*`` function returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from afm.plotting.style import BALANCE_COLORS as METHOD_COLORS
from afm.plotting.style import BALANCE_LABELS, band, mean_and_std
from afm.plotting.style import FEATURE_SPACES as SPACE_TITLES



def fig_4a_scatter(per_seed: dict[int, dict]):
    """Fig. 4a: test accuracy (x) against sparsity (y), one small point per run, each
    method's mean as a large marker with ± 1 std bars over seeds.

    ``per_seed``: ``{seed: balance.sparsity_accuracy(profile, seed)}``."""
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    for method, color in METHOD_COLORS.items():
        acc = [100 * r[method]["test_acc"] for r in per_seed.values()]
        sp = [r[method]["sparsity"] for r in per_seed.values()]
        ax.scatter(acc, sp, s=18, color=color, alpha=0.45, edgecolors="none")
        (acc_mean, sp_mean), (acc_std, sp_std) = mean_and_std(np.stack([acc, sp], axis=1))
        ax.errorbar(acc_mean, sp_mean, xerr=acc_std, yerr=sp_std, fmt="o", ms=10, color=color,
                    mec="black", mew=0.8, capsize=3, label=f"{BALANCE_LABELS[method]} (mean ± std)")
    ax.set_xlabel("test accuracy (%)")
    ax.set_ylabel("sparsity S, Eq. (1) (mean over hidden layers)")
    n = len(per_seed)
    ax.set_title(f"Fig. 4a  Sparsity against accuracy, MLP 784-64-64-10, Fashion-MNIST "
                 f"({n} run{'s' if n > 1 else ''} per method)", loc="left", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return fig


def fig_4b_perturbation(runs: dict[int, dict]):
    """Fig. 4b: test accuracy against the share of perturbed neurons, one panel per layer.

    Mean ± std over seeds × repetitions; the complete network solid with a shaded band,
    the plain one dashed (with a lighter band)."""
    first = next(iter(runs.values()))
    layers, fractions = first["layers"], 100 * np.asarray(first["fractions"])
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3.6), sharey=True,
                             constrained_layout=True)
    styles = {"lateral_inhibition": ("-", 0.25, "forgetting layer (lateral_inhibition)"),
              "sgd": ("--", 0.10, "plain network (sgd)")}
    for ax, layer in zip(np.atleast_1d(axes), layers):
        for method, (ls, alpha, label) in styles.items():
            acc = 100 * np.concatenate([r["curves"][method][layer] for r in runs.values()], axis=1)
            band(ax, fractions, acc.T, color=METHOD_COLORS[method], alpha=alpha, ls=ls, label=label)
        name = layer.replace(".main", "")
        depth = "output layer" if layer == "head" else f"hidden layer {int(name.split('.')[1]) + 1}"
        ax.set_title(f"{depth} ({name})", fontsize=10)
        ax.set_xlabel("perturbed neurons (%)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy (%)")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Fig. 4b  Robustness to perturbed neurons (noise std = {first['std_rel']:g} × "
                 f"the layer's weight std; {len(runs)} network seed(s) × "
                 f"{first['curves']['sgd'][layers[0]].shape[1]} repetitions)",
                 x=0.02, ha="left", fontsize=10)
    return fig


def fig_4c_tsne(tsne: dict, metrics: dict):
    """Fig. 4c: t-SNE maps of raw pixels and of the last hidden layer of each network,
    coloured by digit, titled with the silhouette and distance ratio of the original space."""
    labels = tsne["labels"]
    spaces = list(tsne["maps"])
    fig, axes = plt.subplots(1, len(spaces), figsize=(4.2 * len(spaces), 4.4),
                             constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    for ax, space in zip(np.atleast_1d(axes), spaces):
        xy = tsne["maps"][space]
        ax.scatter(xy[:, 0], xy[:, 1], c=cmap(labels % 10), s=3, alpha=0.7, linewidths=0)
        ax.set_title(f"{SPACE_TITLES.get(space, space)}\nsilhouette {metrics['silhouette'][space]:.3f}, "
                     f"between/within {metrics['ratio'][space]:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color=cmap(d), label=str(d)) for d in range(10)]
    fig.legend(handles=handles, loc="outside right center", title="digit", fontsize=8)
    fig.suptitle(f"Fig. 4c  t-SNE of {len(labels)} MNIST test images' features",
                 x=0.02, ha="left", fontsize=10)
    return fig


def fig_4c_clusters(per_seed: dict[int, dict]):
    """Fig. 4c from ``{seed: balance.feature_clusters(profile, seed)}``: the t-SNE maps that
    the first seed's result carries, titled with that seed's silhouette and distance ratio."""
    first = per_seed[min(per_seed)]
    return fig_4c_tsne(first["tsne"], first)
