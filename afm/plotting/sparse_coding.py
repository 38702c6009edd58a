"""Figures of chapter 2, "Sparse coding through active forgetting": Fig. 1d, 1e and 1f.

Each ``fig_*`` takes the results of :mod:`afm.experiments.sparse_coding`
(``{seed: results}`` where the figure shows a spread over seeds) and returns a
``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

#: One colour per variant of Fig. 1e, used in every figure of the chapter.
from afm.plotting.style import VARIANT_COLORS, mean_and_std


def _layer_label(name: str, i: int) -> str:
    return f"hidden layer {i + 1} ({name})"


def _first(results_by_seed: dict):
    if not results_by_seed:
        raise ValueError("no results to draw: expected {seed: results} with at least one seed")
    return results_by_seed[min(results_by_seed)]


def fig_1d_activations(results_by_seed: dict, variants=("plain", "ERS", "ERS + IRS")):
    """Fig. 1d: mean (blue) and standard deviation (black) of each excitatory neuron's
    activation over the test set, for the first seed of ``{seed: sparse_coding(...)}``;
    rows: variants, columns: hidden layers; neurons sorted by their mean."""
    result = _first(results_by_seed)
    layers = result["layers"]
    fig, axes = plt.subplots(len(variants), len(layers), figsize=(11, 2.3 * len(variants)),
                             sharex="col", sharey="col", constrained_layout=True, squeeze=False)
    for r, variant in enumerate(variants):
        v = result["variants"][variant]
        for c, layer in enumerate(layers):
            ax = axes[r, c]
            mean, std = v["act_mean"][layer], v["act_std"][layer]
            order = np.argsort(-mean, kind="stable")
            x = np.arange(mean.size)
            ax.plot(x, mean[order], color="#4C72B0", lw=1.4, label="mean")
            ax.plot(x, std[order], color="black", lw=0.9, label="standard deviation")
            ax.fill_between(x, 0, mean[order], color="#4C72B0", alpha=0.15)
            ax.text(0.98, 0.92, f"S = {v['sparsity'][layer]:.2f}\nmean = {mean.mean():.2f}",
                    transform=ax.transAxes, ha="right", va="top", fontsize=8)
            if r == 0:
                ax.set_title(_layer_label(layer, c), fontsize=10)
            if c == 0:
                ax.set_ylabel(f"{variant}\nactivation", fontsize=9)
            if r == len(variants) - 1:
                ax.set_xlabel("excitatory neuron (sorted by mean activation)")
    axes[0, 0].legend(loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"Fig. 1d  Activation of excitatory neurons over the test set (seed {result['seed']})",
                 x=0.01, ha="left")
    return fig


def _mean_std(values) -> tuple[float, float]:
    mean, std = mean_and_std(values)
    return float(mean), float(std)


def fig_1e_sparsity(results_by_seed: dict):
    """Fig. 1e from ``{seed: sparse_coding(...)}``: sparsity (Eq. 1) per hidden layer of the
    three variants at chapter 1's λ (bars: mean over seeds, error bars: std, dots: seeds);
    then sparsity and test accuracy of the forgetting variants against λ (the sweep; mean ±
    std over seeds; plain as a grey band)."""
    first = _first(results_by_seed)
    layers, variants = first["layers"], list(first["variants"])
    has_sweep = bool(first.get("sweep"))
    ncols = 3 if has_sweep else 1
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols, 3.8), constrained_layout=True,
                             squeeze=False)
    ax = axes[0, 0]
    width = 0.8 / len(variants)
    for j, variant in enumerate(variants):
        for i, layer in enumerate(layers):
            vals = [r["variants"][variant]["sparsity"][layer] for r in results_by_seed.values()]
            m, s = _mean_std(vals)
            x = i + (j - (len(variants) - 1) / 2) * width
            ax.bar(x, m, width * 0.92, yerr=s, color=VARIANT_COLORS.get(variant), capsize=3,
                   label=variant if i == 0 else None)
            ax.scatter(np.full(len(vals), x), vals, s=8, color="black", zorder=3)
    ax.set_xticks(range(len(layers)), [f"layer {i + 1}" for i in range(len(layers))])
    ax.set_ylabel("sparsity S (Eq. 1)")
    ax.set_title(f"λ = {first['lam']:g}, β = {first['beta']:g} (chapter 1)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    if has_sweep:
        rows = [row for r in results_by_seed.values() for row in r["sweep"]]
        lams = sorted({row["lam"] for row in rows})
        markers = ["o", "s", "^", "D"]
        for i, layer in enumerate(layers):
            plain = [r["variants"]["plain"]["sparsity"][layer] for r in results_by_seed.values()]
            m, s = _mean_std(plain)
            axes[0, 1].axhspan(m - s, m + s, color="0.8", alpha=0.6)
            axes[0, 1].axhline(m, color="0.5", lw=0.8, ls=":" if i else "--")
            for variant in ("ERS", "ERS + IRS"):
                stats = [_mean_std([row["sparsity"][layer] for row in rows
                                    if row["lam"] == lam and row["variant"] == variant])
                         for lam in lams]
                axes[0, 1].errorbar(lams, [a for a, _ in stats], yerr=[b for _, b in stats],
                                    color=VARIANT_COLORS[variant], marker=markers[i], capsize=3,
                                    ls="-" if i == 0 else ":",
                                    label=f"{variant}, layer {i + 1}")
        axes[0, 1].set_xscale("log")
        axes[0, 1].set_xlabel("λ (inhibition loss weight)")
        axes[0, 1].set_ylabel("sparsity S")
        axes[0, 1].set_title("sparsity against λ (grey: plain, ± std)", fontsize=10)
        axes[0, 1].legend(fontsize=7, frameon=False)
        plain_acc = [r["variants"]["plain"]["test_acc"] for r in results_by_seed.values()]
        m, s = _mean_std(plain_acc)
        axes[0, 2].axhspan(100 * (m - s), 100 * (m + s), color="0.8", alpha=0.6)
        axes[0, 2].axhline(100 * m, color="0.5", lw=0.8, ls="--", label="plain")
        for variant in ("ERS", "ERS + IRS"):
            stats = [_mean_std([100 * row["test_acc"] for row in rows
                                if row["lam"] == lam and row["variant"] == variant]) for lam in lams]
            axes[0, 2].errorbar(lams, [a for a, _ in stats], yerr=[b for _, b in stats],
                                color=VARIANT_COLORS[variant], marker="o", capsize=3, label=variant)
        axes[0, 2].set_xscale("log")
        axes[0, 2].set_xlabel("λ (inhibition loss weight)")
        axes[0, 2].set_ylabel("test accuracy (%)")
        axes[0, 2].set_title("generalisation against λ", fontsize=10)
        axes[0, 2].legend(fontsize=8, frameon=False)
    fig.suptitle(f"Fig. 1e  Sparsity of the excitatory neurons ({len(results_by_seed)} seeds)",
                 x=0.01, ha="left")
    return fig


def fig_1f_switches(results_by_seed: dict, closed: float = 0.1):
    """Fig. 1f from ``{seed: switch_traces(...)}`` (the first seed): the state σ of every
    inhibitory neuron (rows, sorted by its final state) over training (columns: training
    steps, in epochs), one row of panels per traced run, one column per hidden layer. Warm
    colours: closed switches (σ → 0, the excitatory neuron is forgotten); cold: open."""
    seed = min(results_by_seed)
    traces = results_by_seed[seed]
    labels = list(traces)
    layers = list(next(iter(traces.values()))["gates"])
    fig, axes = plt.subplots(len(labels), len(layers), figsize=(11, 2.6 * len(labels)),
                             constrained_layout=True, squeeze=False)
    im = None
    for r, label in enumerate(labels):
        t = traces[label]
        steps, per_epoch = t["steps"], t["steps_per_epoch"]
        for c, layer in enumerate(layers):
            g = t["gates"][layer]  # (T, N)
            order = np.argsort(g[-1], kind="stable")
            ax = axes[r, c]
            im = ax.imshow(g[:, order].T, aspect="auto", cmap="RdYlBu", vmin=0, vmax=1,
                           interpolation="nearest",
                           extent=(steps[0] / per_epoch, (steps[-1] + 1) / per_epoch, g.shape[1], 0))
            share = float((g[-1] < closed).mean())
            ax.set_title(f"{label}: {_layer_label(layer, c)}\nσ < {closed:g} at the end: "
                         f"{100 * share:.0f} % of {g.shape[1]}", fontsize=9)
            if c == 0:
                ax.set_ylabel("inhibitory neuron\n(sorted by final σ)")
            if r == len(labels) - 1:
                ax.set_xlabel("epoch")
    fig.colorbar(im, ax=axes, shrink=0.6, label="σ (0: closed, 1: open)")
    fig.suptitle(f"Fig. 1f  The state of the inhibitory neurons over training (seed {seed})",
                 x=0.01, ha="left")
    return fig
