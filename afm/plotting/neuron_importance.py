"""Figures of chapter 3, "The forgetting layer learns which neurons matter": Fig. 2a-2d.

Each ``fig_*`` takes ``{seed: results}`` of the matching function of
:mod:`afm.experiments.neuron_importance` and returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from afm.plotting.style import ABLATION_ORDERS as ORDER_STYLE
from afm.plotting.style import VARIANT_COLORS, band, mean_and_std



def _curves(results_by_seed: dict, key: str, order: str) -> np.ndarray:
    """(seeds, F) curves; random curves pooled as (seeds × draws, F)."""
    arrs = [r[key][order] for r in results_by_seed.values()]
    return np.concatenate(arrs) if order == "random" else np.stack(arrs)


def _ablation_panel(ax, results_by_seed: dict, key: str, title: str) -> None:
    f = next(iter(results_by_seed.values()))["fractions"]
    for order in ("positive", "random", "inverse"):
        c = 100 * _curves(results_by_seed, key, order)
        style = ORDER_STYLE[order]
        if order == "random":
            band(ax, f, c, color=style["color"], alpha=0.2, lw=1.8, label=style["label"])
            continue
        ax.plot(f, c.mean(0), color=style["color"], lw=1.8, label=style["label"])
        if c.shape[0] > 1:
            for row in c:
                ax.plot(f, row, color=style["color"], lw=0.5, alpha=0.5)
    ax.axvline(0.8, color="0.6", lw=0.7, ls=":")
    ax.axvline(0.05, color="0.6", lw=0.7, ls=":")
    ax.set_xlabel("share of excitatory neurons ablated")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)


def fig_2a_ablation(results_by_seed: dict):
    """Fig. 2a: test accuracy as excitatory neurons are ablated in the order of Ω.

    Left: one ranking over all layers (the paper's reading). Right: the same share
    removed from every layer. Thick lines: mean over seeds (thin: single seeds);
    random: mean ± std over all draws and seeds. Dotted: 5 % and 80 %."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    _ablation_panel(axes[0], results_by_seed, "curves", "one ranking over all hidden layers")
    _ablation_panel(axes[1], results_by_seed, "stratified", "the same share of every layer")
    axes[0].legend(fontsize=8, frameon=False, loc="lower left")
    first = results_by_seed[min(results_by_seed)]
    fig.suptitle(f"Fig. 2a  Ablating excitatory neurons, Fashion-MNIST MLP 784-256-256-128-10 "
                 f"(λ = {first['lam']:g}, β = {first['beta']:g}, {len(results_by_seed)} seeds)",
                 x=0.01, ha="left")
    return fig


def fig_2b_layers(results_by_seed: dict):
    """Fig. 2b: natural forgetting (least important first) against targeted forgetting (most
    important first), one hidden layer ablated at a time; the area between them shaded."""
    first = results_by_seed[min(results_by_seed)]
    layers, f = first["layers"], first["fractions"]
    fig, axes = plt.subplots(1, len(layers), figsize=(3.8 * len(layers), 3.6), sharey=True,
                             constrained_layout=True, squeeze=False)
    for i, layer in enumerate(layers):
        ax = axes[0, i]
        pos = 100 * np.stack([r["per_layer"][layer]["positive"] for r in results_by_seed.values()])
        inv = 100 * np.stack([r["per_layer"][layer]["inverse"] for r in results_by_seed.values()])
        ax.fill_between(f, inv.mean(0), pos.mean(0), color="#8172B3", alpha=0.18, lw=0)
        ax.plot(f, pos.mean(0), color=ORDER_STYLE["positive"]["color"], lw=1.8,
                label="natural forgetting (least important first)")
        ax.plot(f, inv.mean(0), color=ORDER_STYLE["inverse"]["color"], lw=1.8,
                label="targeted forgetting (most important first)")
        n = first["omega"][layer].size
        ax.set_title(f"hidden layer {i + 1} ({n} neurons)", fontsize=10)
        ax.set_xlabel("share of the layer's neurons ablated")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 100)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=7.5, frameon=False, loc="lower left")
    fig.suptitle(f"Fig. 2b  Natural and targeted forgetting, layer by layer "
                 f"(mean of {len(results_by_seed)} seeds)", x=0.01, ha="left")
    return fig


def fig_2c_channels(results_by_seed: dict):
    """Fig. 2c: per-class test accuracy of LeNet-5 (CIFAR-10 JPEG stand-in) intact and after
    removing its top-1 and top-10 most important convolutional channels; top: with forgetting
    layers (ranked by Ω), bottom: plain (ranked by mean activation). Bars: mean over seeds,
    error bars: std; diamonds: the same number of channels removed at random."""
    first = results_by_seed[min(results_by_seed)]
    classes = first["classes"]
    panels = [(("forgetting", "omega"), "LeNet-5 with forgetting layers, channels ranked by Ω"),
              (("plain", "activation"), "plain LeNet-5, channels ranked by mean activation")]
    ks = [k for k in first["per_class"]["forgetting", "omega"] if k != 0]
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.2), sharex=True, constrained_layout=True)
    colors = {0: "0.6", ks[0]: "#DD8452", ks[-1]: "#C44E52"}
    x = np.arange(len(classes))
    width = 0.8 / (1 + len(ks))
    for ax, (ranking, title) in zip(axes, panels):
        network = ranking[0]
        for j, k in enumerate([0] + ks):
            vals = 100 * np.stack([r["per_class"][ranking][k] for r in results_by_seed.values()])
            mean_all = vals.mean()
            label = (f"intact ({mean_all:.1f} %)" if k == 0
                     else f"top-{k} removed ({mean_all:.1f} %)")
            mean, std = mean_and_std(vals)
            ax.bar(x + (j - len(ks) / 2) * width, mean, width * 0.92,
                   yerr=std if vals.shape[0] > 1 else None, capsize=2, color=colors[k], label=label)
            if k:
                rnd = 100 * np.concatenate([r["random"][network][k] for r in results_by_seed.values()])
                ax.scatter(x + (j - len(ks) / 2) * width, rnd.mean(0), marker="D", s=14,
                           color="white", edgecolor=colors[k], zorder=3,
                           label=f"{k} random channels removed ({rnd.mean():.1f} %)")
        ax.axhline(10, color="0.4", lw=0.7, ls=":")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 122)
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7.5, frameon=False, ncol=5, loc="upper center", columnspacing=1.0,
                  handletextpad=0.4)
    axes[1].set_xticks(x, classes, rotation=20)
    fig.suptitle(f"Fig. 2c  Removing the most important channels, LeNet-5 on the CIFAR-10 JPEG "
                 f"stand-in ({len(results_by_seed)} seeds)", x=0.01, ha="left")
    return fig


def fig_2d_distributions(results_by_seed: dict, bins: int = 25):
    """Fig. 2d: histograms of neuron importance per hidden layer (columns) for the plain
    network (mean activation / layer max), ERS and ERS + IRS (Ω), pooled over seeds; each
    panel gives Sarle's bimodality coefficient b (mean over seeds; 5/9 for a uniform
    distribution) and the shares within 0.1 of 0 and of 1."""
    first = results_by_seed[min(results_by_seed)]
    variants = list(first["variants"])
    layers = list(first["variants"][variants[0]]["importance"])
    fig, axes = plt.subplots(len(variants), len(layers), figsize=(10, 2.4 * len(variants)),
                             sharex=True, constrained_layout=True, squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for r, variant in enumerate(variants):
        for c, layer in enumerate(layers):
            ax = axes[r, c]
            values = np.concatenate([res["variants"][variant]["importance"][layer]
                                     for res in results_by_seed.values()])
            stats = [res["variants"][variant]["stats"][layer] for res in results_by_seed.values()]
            ax.hist(np.clip(values, 0, 1), bins=edges, color=VARIANT_COLORS.get(variant),
                    weights=np.full(values.size, 100 / values.size))
            b = np.mean([s["bimodality"] for s in stats])
            low, high = np.mean([s["low"] for s in stats]), np.mean([s["high"] for s in stats])
            line = f"b = {b:.2f},  within 0.1 of 0: {100 * low:.0f} %,  of 1: {100 * high:.0f} %"
            head = f"hidden layer {c + 1} ({layer})\n" if r == 0 else ""
            ax.set_title(head + line, fontsize=8.5)
            if c == 0:
                measure = "mean activation / max" if first["variants"][variant]["measure"] == \
                    "activation" else "Ω"
                ax.set_ylabel(f"{variant}: {measure}\n% of neurons", fontsize=9)
            if r == len(variants) - 1:
                ax.set_xlabel("importance")
    fig.suptitle(f"Fig. 2d  Distribution of neuron importance, MNIST MLP 784-128-256-10 "
                 f"({len(results_by_seed)} seeds pooled)", x=0.01, ha="left")
    return fig
